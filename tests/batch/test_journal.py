"""The journal on SQLite and PostgreSQL: jobs, chunks, views, events, the runner lock, and a whole run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clawback.batch import JobOptions, Journal
from clawback.batch.journal import JobRecord
from clawback.batch.machine import ChunkView, Phase
from clawback.errors import BatchJobError, StoreError
from tests.batch.support import check_exactly_once, emulator, write_input
from tests.batch.test_runner import runner, start


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh journal location on each dialect."""
    if request.param == "sqlite":
        yield str(tmp_path / "journal.sqlite3")
    else:
        yield request.getfixturevalue("pg_database")


def _job(name: str = "j", tag: str = "abc123") -> JobRecord:
    return JobRecord(
        name=name, tag=tag, created_at=1.0, input_path="in", output_path="out", options=JobOptions()
    )


def test_jobs_chunks_and_views_round_trip(location: str) -> None:
    with Journal.open(location) as journal:
        journal.insert_job(_job())
        with pytest.raises(BatchJobError, match="already exists"):
            journal.insert_job(_job())
        assert journal.tag_in_use("abc123") and not journal.tag_in_use("zzz999")
        journal.insert_chunk("j", 1, size=3, nbytes=300)
        view = ChunkView(
            1,
            Phase.SUBMITTED,
            3,
            batch_id="msgbatch_1",
            next_check_at=5.5,
            delay=2.0,
            failures=1,
            adopted=True,
            intent_at=4.0,
            create_attempts=2,
            excluded=("b0",),
        )
        journal.save_chunk("j", view, anchor="b9", status="in_progress", counts={"processing": 3})
        record = journal.chunk("j", 1)
        assert record.view == view and record.anchor == "b9" and record.counts == {"processing": 3}
        assert journal.view("j").chunks == (view,)
        assert journal.claimed_batch_ids() == frozenset({"msgbatch_1"})
        journal.request_cancel("j")
        assert journal.job("j").cancel_requested
        assert [kind for _, _, kind, _ in journal.events("j")] == ["cancel_requested"]
        with pytest.raises(BatchJobError, match="no batch job named 'x'"):
            journal.job("x")


def test_a_transaction_is_all_or_nothing(location: str) -> None:
    def fail(journal: Journal) -> None:
        with journal.db.transaction():
            journal.insert_job(_job())
            raise RuntimeError("boom")

    with Journal.open(location) as journal:
        with pytest.raises(RuntimeError):
            fail(journal)
        assert journal.jobs() == []


def test_the_runner_lock_is_exclusive_and_released(location: str) -> None:
    with Journal.open(location) as a, Journal.open(location) as b:
        a.insert_job(_job())
        with a.runner_lock("j"):
            assert not b.try_lock("j")
        assert b.try_lock("j")
        b.release_lock("j")


def test_a_missing_sqlite_journal_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BatchJobError, match="no batch journal"):
        Journal.open(tmp_path / "nope.sqlite3", create=False)
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        Journal.open(tmp_path / "dir.sqlite3")


def test_a_whole_job_on_each_dialect(location: str, tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 25)
    with emulator(every=3, first_404=True) as emu:
        with Journal.open(location) as journal:
            start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl", warm_cache=True)
        with Journal.open(location) as journal:
            summary = runner(journal, emu).run("job")
        check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    assert summary.state == "done" and summary.outcomes == {"succeeded": 25}
