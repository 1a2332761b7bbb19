"""The write path: a failing store never fails or blocks the caller, and no record vanishes."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from clawback.errors import UsageError
from clawback.ledger import CallRecord, LedgerWriter, WriterOptions, open_ledger, open_writer
from clawback.ledger.api import pending_file_for
from clawback.ledger.pending import PendingFile, replay_pending
from clawback.ledger.store import record_json
from clawback.storage.location import parse_location
from tests.ledger.factories import make_record
from tests.ledger.fakes import FakeBackend

FAST = {"retry_min_s": 0.01, "retry_max_s": 0.05, "flush_interval_s": 0.02}


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def pending(tmp_path: Path) -> PendingFile:
    return PendingFile(tmp_path, "fake.ledger")


def _writer(backend: FakeBackend, pending: PendingFile, **opts: object) -> LedgerWriter:
    return LedgerWriter(backend.connect, pending, options=WriterOptions(**{**FAST, **opts}))  # type: ignore[arg-type]


@pytest.fixture
def writer(backend: FakeBackend, pending: PendingFile) -> Iterator[LedgerWriter]:
    w = _writer(backend, pending)
    yield w
    backend.down = False
    w.close(timeout=5)
    assert w.stats.pending == 0


def _pending_lines(directory: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in directory.glob("*.pending-*.jsonl"))


def test_sync_record_is_stored_before_record_returns(writer: LedgerWriter, backend: FakeBackend) -> None:
    rec = make_record()
    writer.record(rec)
    assert backend.rows == {rec.id: rec}
    assert writer.stats.written == 1
    assert writer.stats.pending == 0


def test_a_failing_store_never_raises_and_records_wait_on_disk(
    writer: LedgerWriter, backend: FakeBackend, tmp_path: Path
) -> None:
    backend.down = True
    records = [make_record(i) for i in range(20)]
    for rec in records:
        writer.record(rec)
    stats = writer.stats
    assert stats.degraded
    assert stats.failed_attempts >= 1
    assert stats.pending == 20
    assert stats.spilled == 20
    assert backend.insert_calls == 1  # only the first call touched the failing store
    assert _pending_lines(tmp_path) == 20
    assert "StoreDown" in (stats.last_error or "")

    backend.down = False
    assert writer.flush(timeout=5)
    assert set(backend.rows) == {r.id for r in records}
    assert writer.stats.pending == 0
    assert not writer.stats.degraded
    assert _pending_lines(tmp_path) == 0


def test_background_retry_recovers_without_a_flush(writer: LedgerWriter, backend: FakeBackend) -> None:
    backend.down = True
    writer.record(make_record(0))
    backend.down = False
    done = threading.Event()

    def wait_written() -> None:
        while writer.stats.pending:
            threading.Event().wait(0.01)
        done.set()

    threading.Thread(target=wait_written, daemon=True).start()
    assert done.wait(10)
    assert len(backend.rows) == 1
    writer.record(make_record(1))
    assert len(backend.rows) == 2


def test_one_warning_per_outage(
    writer: LedgerWriter, backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="clawback.ledger")
    backend.down = True
    for i in range(50):
        writer.record(make_record(i))
    warnings = [r for r in caplog.records if "cannot write to the ledger" in r.getMessage()]
    assert len(warnings) == 1


def test_async_mode_batches_and_flush_drains(backend: FakeBackend, pending: PendingFile) -> None:
    with _writer(backend, pending, mode="async", batch_size=10, flush_interval_s=5) as w:
        for i in range(35):
            w.record(make_record(i))
        assert w.flush(timeout=5)
        assert len(backend.rows) == 35
        assert max(backend.batch_sizes) <= 10
    assert w.stats.written == 35


def test_async_mode_holds_at_most_max_queue_in_memory(backend: FakeBackend, pending: PendingFile) -> None:
    backend.gate = threading.Event()  # the store hangs until released
    w = _writer(backend, pending, mode="async", batch_size=3, max_queue=5)
    try:
        for i in range(40):
            w.record(make_record(i))
            assert w.stats.queued <= 5
        assert w.stats.spilled >= 35
        backend.gate.set()
        assert w.flush(timeout=5)
        assert len(backend.rows) == 40
    finally:
        backend.gate.set()
        w.close(timeout=1)


def test_async_failure_moves_the_queue_to_disk(
    backend: FakeBackend, pending: PendingFile, tmp_path: Path
) -> None:
    w = _writer(backend, pending, mode="async", batch_size=1000, flush_interval_s=5)
    try:
        for i in range(10):
            w.record(make_record(i))
        backend.down = True
        assert not w.flush(timeout=0.2)
        assert w.stats.queued == 0
        assert _pending_lines(tmp_path) == 10
        backend.down = False
        assert w.flush(timeout=5)
        assert len(backend.rows) == 10
    finally:
        w.close(timeout=1)


def test_a_record_the_store_refuses_is_kept_aside_and_does_not_block_others(
    writer: LedgerWriter, backend: FakeBackend, tmp_path: Path
) -> None:
    backend.bad_tasks = {"poison"}
    writer.record(make_record(0, task="poison"))
    writer.record(make_record(1))
    assert len(backend.rows) == 1
    assert writer.stats.rejected == 1
    assert not writer.stats.degraded
    rejected = (tmp_path / "fake.ledger.rejected.jsonl").read_text().splitlines()
    assert len(rejected) == 1 and "poison" in rejected[0]


def test_poison_in_a_batch_is_isolated(backend: FakeBackend, pending: PendingFile, tmp_path: Path) -> None:
    backend.bad_tasks = {"poison"}
    with _writer(backend, pending, mode="async", flush_interval_s=5) as w:
        for i in range(6):
            w.record(make_record(i, task="poison" if i == 3 else "ok"))
        assert w.flush(timeout=5)
        assert len(backend.rows) == 5
        assert w.stats.rejected == 1


class _FullDisk(PendingFile):
    def append(self, records: Sequence[CallRecord]) -> None:
        raise OSError(28, "No space left on device")


def test_when_the_disk_is_full_too_records_wait_in_memory_then_are_counted_as_dropped(
    backend: FakeBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="clawback.ledger")
    w = LedgerWriter(backend.connect, _FullDisk(tmp_path, "x"), options=WriterOptions(max_queue=3, **FAST))
    try:
        backend.down = True
        for i in range(5):
            w.record(make_record(i))
        assert w.stats.pending == 3
        assert w.stats.dropped == 2
        assert any("dropped" in r.getMessage() for r in caplog.records)
        backend.down = False
        assert w.flush(timeout=5)
        assert len(backend.rows) == 3
    finally:
        w.close(timeout=1)


def test_close_with_the_store_down_keeps_records_for_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with open_ledger(str(path)):
        pass
    loc = parse_location(str(path))
    backend = FakeBackend()
    backend.down = True
    w = LedgerWriter(backend.connect, pending_file_for(loc), options=WriterOptions(**FAST))
    records = [make_record(i) for i in range(7)]
    for rec in records:
        w.record(rec)
    w.close(timeout=0)
    w.record(make_record(99))  # after close: still kept
    assert _pending_lines(tmp_path) == 8
    with open_ledger(str(path)) as ledger:
        assert ledger.count() == 8
    assert _pending_lines(tmp_path) == 0
    assert not list(tmp_path.glob("*.pending-*"))


def test_replay_skips_a_live_writers_file(backend: FakeBackend, tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    loc = parse_location(str(path))
    backend.down = True
    w = LedgerWriter(backend.connect, pending_file_for(loc), options=WriterOptions(**FAST))
    try:
        w.record(make_record(0))
        with open_ledger(str(path)) as ledger:
            assert ledger.count() == 0
        assert _pending_lines(tmp_path) == 1
    finally:
        backend.down = False
        w.close(timeout=5)


def test_replay_keeps_unreadable_lines_and_ignores_a_torn_last_line(tmp_path: Path) -> None:
    good = [make_record(i) for i in range(2)]
    text = record_json(good[0]) + "\n" + "garbage\n" + record_json(good[1]) + "\n" + record_json(good[1])[:30]
    (tmp_path / "p.pending-1-aa.jsonl").write_text(text)
    written: list[CallRecord] = []
    result = replay_pending(tmp_path, "p", written.extend)
    assert result.records == 2 and result.bad_lines == 1 and result.files == 1
    assert written == good
    assert (tmp_path / "p.pending-1-aa.jsonl.bad").exists()
    assert not (tmp_path / "p.pending-1-aa.jsonl").exists()


def test_a_locked_sqlite_ledger_delays_records_but_loses_none(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    writer = open_writer(str(path), options=WriterOptions(**FAST))
    try:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        records = [make_record(i) for i in range(10)]
        for rec in records:
            writer.record(rec)
        assert writer.stats.failed_attempts >= 1
        assert writer.stats.pending == 10
        blocker.execute("ROLLBACK")
        blocker.close()
        assert writer.flush(timeout=10)
    finally:
        writer.close()
    with open_ledger(str(path)) as ledger:
        assert [r.id for r in ledger.iter_records()] == [r.id for r in records]


@pytest.mark.postgres
def test_a_lost_postgres_connection_is_reconnected(pg_database: str) -> None:
    import psycopg

    writer = open_writer(pg_database, options=WriterOptions(**FAST))
    try:
        writer.record(make_record(0))
        with psycopg.connect(pg_database, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'clawback-ledger' AND datname = current_database()"
            )
        for i in range(1, 6):
            writer.record(make_record(i))
        assert writer.stats.failed_attempts >= 1
        assert writer.flush(timeout=10)
        assert writer.stats.written == 6
    finally:
        writer.close()
    with open_ledger(pg_database) as ledger:
        assert ledger.count() == 6


def test_an_unreachable_postgres_never_fails_the_writer(tmp_path: Path) -> None:
    writer = open_writer("postgresql://u:hunter2@127.0.0.1:1/x", options=WriterOptions(**FAST))
    try:
        writer.record(make_record())
        stats = writer.stats
        assert stats.degraded and stats.pending == 1
        assert "hunter2" not in (stats.last_error or "")
    finally:
        writer.close(timeout=0)
    assert len(list((tmp_path / "clawback-home" / "pending").glob("ledger-pg-*.pending-*.jsonl"))) == 1


@pytest.mark.parametrize(
    "opts",
    [
        {"mode": "eventually"},
        {"batch_size": 0},
        {"flush_interval_s": 0},
        {"retry_min_s": 2, "retry_max_s": 1},
    ],
)
def test_bad_options_are_usage_errors(opts: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        WriterOptions(**opts)  # type: ignore[arg-type]


class _CountingUpkeep:
    def __init__(self) -> None:
        self.runs = threading.Semaphore(0)
        self.closed = False

    def run(self) -> None:
        self.runs.release()

    def close(self) -> None:
        self.closed = True


def test_upkeep_runs_in_the_background_after_writes(backend: FakeBackend, pending: PendingFile) -> None:
    upkeep = _CountingUpkeep()
    options = WriterOptions(maintenance_interval_s=0.01, **FAST)  # type: ignore[arg-type]
    w = LedgerWriter(backend.connect, pending, options=options, maintenance=upkeep)
    try:
        w.record(make_record())
        assert upkeep.runs.acquire(timeout=10)
    finally:
        w.close()
    assert upkeep.closed


def test_the_writer_leaves_wal_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    from clawback.ledger.sqlite_store import SqliteStore, WalCheckpointer

    path = tmp_path / "l.sqlite3"
    store = SqliteStore.open(path, autocheckpoint=False)
    checkpointer = WalCheckpointer(path)
    try:
        store.insert_many([make_record(i, sample="x" * 4000) for i in range(1500)])
        before = path.stat().st_size
        checkpointer.run()
        assert path.stat().st_size > before + 4000 * 1000
        assert store.count() == 1500
    finally:
        checkpointer.close()
        store.close()


def test_a_dead_connection_raising_a_value_like_error_is_not_a_rejection(
    writer: LedgerWriter, backend: FakeBackend
) -> None:
    from tests.ledger.fakes import InterfaceError

    backend.down_error = InterfaceError
    backend.down = True
    writer.record(make_record(0))
    assert writer.stats.rejected == 0
    assert writer.stats.pending == 1
    backend.down = False
    assert writer.flush(timeout=5)
    assert len(backend.rows) == 1


def test_a_record_that_cannot_become_a_row_is_rejected_not_retried_forever(
    location: str, tmp_path: Path
) -> None:
    writer = open_writer(location, options=WriterOptions(mode="async", **FAST))  # type: ignore[arg-type]
    try:
        writer.record(make_record(0, total_usd="not money"))
        writer.record(make_record(1))
        assert writer.flush(timeout=10)
        assert writer.stats.written == 1
        assert writer.stats.rejected == 1
        assert not writer.stats.degraded
    finally:
        writer.close()
    rejected = list(tmp_path.rglob("*.rejected.jsonl"))
    assert len(rejected) == 1 and "not money" in rejected[0].read_text()


class _FlakyReads(PendingFile):
    failures = 1

    def read(self, limit: int) -> tuple[list[CallRecord], int]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("surprise")
        return super().read(limit)


def test_an_unexpected_error_in_the_background_is_logged_and_retried(
    backend: FakeBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = LedgerWriter(backend.connect, _FlakyReads(tmp_path, "x"), options=WriterOptions(**FAST))  # type: ignore[arg-type]
    try:
        backend.down = True
        w.record(make_record())
        backend.down = False
        assert w.flush(timeout=10)
        assert len(backend.rows) == 1
        # the failed read may be the background thread's, which logs it just after the caller's
        # flush succeeded: wait for the message rather than race it
        deadline = time.monotonic() + 10
        while not any("unexpected error" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the unexpected error was never logged"
            time.sleep(0.01)
    finally:
        w.close()
