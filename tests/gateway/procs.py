"""``clawback gateway`` as a subprocess: started on a free port, stopped by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2


@contextmanager
def gateway_process(
    config: Path | None, env: Mapping[str, str], *, args: tuple[str, ...] = (), log: Path | None = None
) -> Iterator[str]:
    """Run ``clawback gateway --port 0`` and yield its base URL once it answers /readyz."""
    cmd = [sys.executable, "-m", "clawback", "gateway", "--port", "0", *args]
    if config is not None:
        cmd += ["--config", str(config)]
    stderr = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, env={**os.environ, **env}, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on" in first, f"gateway did not start: {first!r}"
        url = first.split("listening on ", 1)[1].split()[0]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise AssertionError("gateway never became ready")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if log is not None:
            stderr.close()  # type: ignore[union-attr]
