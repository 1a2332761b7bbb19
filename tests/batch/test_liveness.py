"""`clawback batch status` knows whether a live runner holds the job: SIGKILL the runner and it says so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clawback.batch.journal import Journal
from clawback.cli.main import run
from clawback.emulator.config import BatchConfig, EmulatorConfig
from tests.batch.support import check_exactly_once, emulator, ticking, write_input
from tests.batch.test_kill import FLAGS, _clawback, _env

SLOW = EmulatorConfig(clock="manual", batch=BatchConfig(seconds=26 * 3600))  # about 2 s of ticking


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def journal_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite3")
    return str(request.getfixturevalue("pg_database"))


def test_the_lock_probe_sees_a_holder_in_another_connection_and_takes_nothing(journal_location: str) -> None:
    with Journal.open(journal_location) as holder, Journal.open(journal_location) as probe:
        assert not probe.db.lock_held("job")
        assert holder.try_lock("job")
        assert probe.db.lock_held("job") and holder.db.lock_held("job")
        assert not probe.try_lock("job")  # the probe took nothing: the holder still has it
        holder.release_lock("job")
        assert not probe.db.lock_held("job")
        assert probe.try_lock("job")  # and nothing blocks the next runner
        probe.release_lock("job")


def _status(capsys: pytest.CaptureFixture[str], journal: str, *flags: str) -> tuple[str, str]:
    """``clawback batch status kill`` in this process: (stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        run(["batch", "status", "kill", "--journal", journal, *flags])
    out, err = capsys.readouterr()
    assert exit_info.value.code in (0, None), err
    return out, err


def _state(capsys: pytest.CaptureFixture[str], journal: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(_status(capsys, journal, "--json")[0])
    return data


def test_sigkill_of_the_runner_then_status_says_not_running_and_resume_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = write_input(tmp_path / "in.jsonl", 20)
    journal = str(tmp_path / "journal.sqlite3")
    common = ["--journal", journal, *FLAGS]
    with emulator(SLOW) as emu, ticking(emu):
        first = _clawback(
            emu, "run", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--job", "kill",
            "--batch-size", "10", *common, crash_at=6,
        )  # fmt: skip
        assert first.returncode == 86, first.stderr
        assert _state(capsys, journal)["state"] == "not running"
        proc = subprocess.Popen(
            [sys.executable, "-m", "clawback", "batch", "resume", "kill", *common],
            env=_env(emu),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:  # until the runner holds the job
                live = _state(capsys, journal)
                if live["runner"] == {"alive": True, "pid": proc.pid} or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert live["state"] == f"running (pid {proc.pid})" and "resume" not in live
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=30)
        dead = _state(capsys, journal)
        assert dead["state"] == "not running" and dead["runner"] == {"alive": False, "pid": None}
        assert dead["resume"] == "clawback batch resume kill"
        out, err = _status(capsys, journal)
        assert "not running" in out and "not running — resume with: clawback batch resume kill" in err
        final = _clawback(emu, "resume", "kill", *common, "--json")
        assert final.returncode == 0, final.stderr
        with Journal.open(journal) as store:
            tag = store.job("kill").tag
        check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3, tag=tag)
        done = _state(capsys, journal)
        assert done["state"] == "done" and "resume" not in done
