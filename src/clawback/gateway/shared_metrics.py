"""``/metrics`` for the whole gateway under ``--workers N``: each worker publishes its counters to a
folder the workers share, and ``/metrics`` on any of them sums them.

The parent process makes a private folder (mode 0700) before it forks the workers and removes it
when the gateway stops. Each worker writes its :meth:`~clawback.gateway.metrics.Metrics.snapshot`
there as ``worker-<pid>.json`` every :data:`PUBLISH_INTERVAL_S` seconds and once more when it stops
(a temporary file renamed over the last one, so a reader never sees half a file). ``/metrics``
renders the answering worker's live counters plus every other worker's last snapshot, so its
counters may lag by up to one interval; those of a worker that stopped cleanly stay complete, and
those of a worker that was killed stay at its last publication. Nothing of this is on the request
path: publishing is one small file write per worker per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from clawback.gateway.metrics import Metrics

__all__ = ["PUBLISH_INTERVAL_S", "SharedMetrics"]

log = logging.getLogger("clawback.gateway")
PUBLISH_INTERVAL_S = 1.0


class SharedMetrics:
    """One worker's view of the shared metrics folder."""

    def __init__(self, folder: Path, *, pid: int | None = None) -> None:
        self.folder = folder
        self.pid = os.getpid() if pid is None else pid
        self.path = folder / f"worker-{self.pid}.json"
        self._task: asyncio.Task[None] | None = None

    def publish(self, metrics: Metrics) -> None:
        """Write this worker's counters (never raises: /metrics then lags, nothing else)."""
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(metrics.snapshot()), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("gateway: cannot publish this worker's metrics: %s", exc)

    def others(self) -> list[dict[str, Any]]:
        """The last snapshot of every other worker (unreadable ones skipped)."""
        out: list[dict[str, Any]] = []
        try:
            paths = sorted(self.folder.glob("worker-*.json"))
        except OSError:
            return out
        for path in paths:
            if path == self.path:
                continue
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    out.append(data)
        return out

    def start(self, metrics: Metrics) -> None:
        """Publish every :data:`PUBLISH_INTERVAL_S` seconds (inside the server's event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(metrics))

    async def _run(self, metrics: Metrics) -> None:
        while True:
            self.publish(metrics)
            await asyncio.sleep(PUBLISH_INTERVAL_S)

    async def stop(self, metrics: Metrics) -> None:
        """Stop publishing, after a last snapshot."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.publish(metrics)
