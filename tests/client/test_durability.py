"""What a kill can take from the ledger, and what a normal exit cannot.

* ``ledger_mode="sync"``: kill -9 mid-workload, and every call that returned has its row.
* ``ledger_mode="async"`` (the default): records are built and written off the calling thread;
  a normal exit (no ``close()``) loses nothing, and kill -9 loses at most the calls still queued
  (bounded by the queue, never more than the recorder's ``max_queue``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import clawback

WORKLOAD = textwrap.dedent(
    """
    import sys
    import clawback
    from clawback.client import ClientOptions
    from clawback.emulator import EmulatorConfig, create_app, running

    mode, limit = sys.argv[2], int(sys.argv[3])
    with running(create_app(EmulatorConfig())) as url:
        client = clawback.Anthropic(
            base_url=url, api_key="sk-ant-durability", max_retries=0, ledger=sys.argv[1],
            options=ClientOptions(ledger_mode=mode),
        )
        i = 0
        while limit == 0 or i < limit:
            message = client.messages.create(
                model="claude-haiku-5-5", max_tokens=16, system="You answer briefly. " * 200,
                messages=[{"role": "user", "content": f"question {i}"}], task="durability",
            )
            print(message._request_id, flush=True)   # the call has returned to the caller
            i += 1
    # no client.close(): the interpreter's exit must write what is still queued
    """
)


def _start(tmp_path: Path, mode: str, limit: int) -> tuple[subprocess.Popen[str], Path]:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    ledger_path = tmp_path / f"{mode}.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ledger_path), mode, str(limit)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, ledger_path


def _kill_after(proc: subprocess.Popen[str], calls: int) -> list[str]:
    returned: list[str] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            returned.append(line.strip())
            if len(returned) >= calls:
                os.kill(proc.pid, signal.SIGKILL)  # mid-workload: more calls are in flight
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    returned += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    proc.stdout.close()
    return returned


def _recorded(ledger_path: Path) -> set[str | None]:
    with clawback.open_ledger(ledger_path) as ledger:
        return {r.request_id for r in ledger.iter_records()}


def test_sync_mode_every_returned_call_has_a_record_after_sigkill(tmp_path: Path) -> None:
    proc, ledger_path = _start(tmp_path, "sync", 0)
    returned = _kill_after(proc, 40)
    assert len(returned) >= 40
    assert [rid for rid in returned if rid not in _recorded(ledger_path)] == []


def test_async_mode_a_sigkill_loses_at_most_the_queued_calls(tmp_path: Path) -> None:
    proc, ledger_path = _start(tmp_path, "async", 0)
    returned = _kill_after(proc, 150)
    recorded = _recorded(ledger_path)
    missing = [rid for rid in returned if rid not in recorded]
    assert len(returned) >= 150
    assert len(missing) <= 1000  # the recorder's max_queue: memory never holds more
    assert recorded <= set(returned)  # nothing is recorded that did not happen
    # whatever was lost is the tail: every call before the first missing one is there
    if missing:
        first = returned.index(missing[0])
        assert all(rid in recorded for rid in returned[:first])


def test_a_normal_exit_without_close_loses_nothing(tmp_path: Path) -> None:
    proc, ledger_path = _start(tmp_path, "async", 60)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    returned = [line for line in out.splitlines() if line]
    assert len(returned) == 60
    assert _recorded(ledger_path) == set(returned)
