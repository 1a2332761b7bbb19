"""Kill -9 in the middle of a workload: every call that returned to the caller has its ledger row."""

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
    from clawback.emulator import EmulatorConfig, create_app, running

    with running(create_app(EmulatorConfig())) as url:
        client = clawback.Anthropic(base_url=url, api_key="sk-ant-durability", max_retries=0, ledger=sys.argv[1])
        i = 0
        while True:
            message = client.messages.create(
                model="claude-haiku-5-5", max_tokens=16, system="You answer briefly. " * 200,
                messages=[{"role": "user", "content": f"question {i}"}], task="durability",
            )
            print(message._request_id, flush=True)   # the call has returned to the caller
            i += 1
    """
)


def test_every_returned_call_has_a_record_after_sigkill(tmp_path: Path) -> None:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    ledger_path = tmp_path / "ledger.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ledger_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    returned: list[str] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            returned.append(line.strip())
            if len(returned) >= 40:
                os.kill(proc.pid, signal.SIGKILL)  # mid-workload: more calls are in flight
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    returned += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    proc.stdout.close()
    with clawback.open_ledger(ledger_path) as ledger:
        recorded = {r.request_id for r in ledger.iter_records()}
    missing = [rid for rid in returned if rid not in recorded]
    assert len(returned) >= 40
    assert missing == []
