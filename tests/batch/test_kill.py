"""End to end: the real CLI in a subprocess, killed again and again, against a faulty emulator.

The emulator runs in this process on a manual clock that a thread moves quickly (a 26-hour batch
passes its 24-hour expiry in about two seconds); its batch items error and expire at seeded rates,
the 2nd and 5th creates answer 500, and polls answer 404 at first and 5xx now and then. The runner
is killed at its N-th crash point (``CLAWBACK_BATCH_CRASH_AT``, an ``os._exit`` right after a
journal write or an API call) over and over, then with real SIGKILLs at random moments, and
resumed each time. At the end every input id is in the output exactly once with a final outcome
and the emulator never received any custom_id twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from clawback.batch.journal import Journal
from clawback.emulator.config import BatchConfig, BatchFaultRule, EmulatorConfig, FaultRule
from tests.batch.support import KEY, Emu, check_exactly_once, emulator, ticking, write_input

CONFIG = EmulatorConfig(
    clock="manual",
    batch=BatchConfig(seconds=26 * 3600),
    faults=(FaultRule(kind="api_error", endpoint="batches", nth=(2, 5)),),
    batch_faults=(
        BatchFaultRule(result="errored", rate=0.08),
        BatchFaultRule(result="expired", rate=0.04),
        BatchFaultRule(result="errored", rate=0.04, error_type="invalid_request_error", message="bad"),
    ),
)
FLAGS = ["--poll-interval", "0.05", "--max-poll-interval", "0.3", "--recover-grace", "0.3", "--no-progress"]


def _env(emu: Emu, crash_at: int | None = None) -> dict[str, str]:
    env = {**os.environ, "ANTHROPIC_BASE_URL": emu.base_url, "ANTHROPIC_API_KEY": KEY, "COLUMNS": "160"}
    env.pop("CLAWBACK_BATCH_CRASH_AT", None)
    if crash_at is not None:
        env["CLAWBACK_BATCH_CRASH_AT"] = str(crash_at)
    return env


def _clawback(emu: Emu, *args: str, crash_at: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clawback", "batch", *args],
        env=_env(emu, crash_at),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sigkill_at_many_points_then_resume(tmp_path: Path) -> None:
    rng = random.Random(5)
    ids = write_input(tmp_path / "in.jsonl", 40)
    journal = str(tmp_path / "journal.sqlite3")
    common = ["--journal", journal, *FLAGS]
    codes: list[int] = []
    with emulator(CONFIG, every=7, first_404=True) as emu, ticking(emu):
        first = _clawback(
            emu,
            "run",
            str(tmp_path / "in.jsonl"),
            "--out",
            str(tmp_path / "out.jsonl"),
            "--job",
            "kill",
            "--batch-size",
            "20",
            *common,
            crash_at=4,
        )
        assert first.returncode == 86, first.stderr
        for n in (3, 9, 1, 14):
            result = _clawback(emu, "resume", "kill", *common, crash_at=n)
            codes.append(result.returncode)
            assert result.returncode in (0, 86), result.stderr
            if result.returncode == 0:
                break
        for _ in range(1):
            proc = subprocess.Popen(
                [sys.executable, "-m", "clawback", "batch", "resume", "kill", *common],
                env=_env(emu),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.6, 1.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        final = _clawback(emu, "resume", "kill", *common, "--json")
        assert final.returncode == 0, final.stderr
        with Journal.open(journal) as store:
            tag = store.job("kill").tag
        lines = check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3, tag=tag)
    assert codes.count(86) >= 3, codes
    outcomes = {line["outcome"] for line in lines}
    assert "succeeded" in outcomes and outcomes & {"errored", "expired"}
    assert any(line["attempts"] > 1 for line in lines)
