"""Both stores (SQLite and a real PostgreSQL server) behave the same."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.errors import StoreError
from clawback.ledger import CallRecord, Query, open_ledger, open_store
from clawback.ledger.record import CallError
from clawback.storage.location import parse_location
from tests.ledger.factories import T0, cost_of, make_record


def test_insert_read_back_and_idempotent(location: str) -> None:
    store = open_store(parse_location(location))
    try:
        records = [make_record(i) for i in range(5)]
        store.insert(records[0])
        store.insert(records[0])
        store.insert_many(records)
        assert store.count() == 5
        assert list(store.iter_records(Query())) == records
        assert store.tail(2) == records[3:]
    finally:
        store.close()
        store.close()


def test_queries_filter_by_time_and_task(location: str) -> None:
    with open_ledger(location) as ledger:
        for i in range(10):
            ledger.record(make_record(i))
        since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=6)
        got = list(ledger.iter_records(since=since, until=until))
        assert [r.ts for r in got] == [T0 + timedelta(minutes=i) for i in range(2, 6)]
        assert {r.task for r in ledger.iter_records(task="classify")} == {"classify"}
        assert len(list(ledger.iter_records(since=T0.date()))) == 10


def test_summary_is_exact_in_both_stores(location: str) -> None:
    with open_ledger(location) as ledger:
        for i in range(30):
            ledger.record(make_record(i))
        ledger.record(make_record(30, total_usd=None, unpriced_reason="unknown model 'x'"))
        ledger.record(make_record(31, total_usd=None, usage=None, error=CallError("APIError", "boom", 500)))
        result = ledger.summary("task")
        assert result.calls == 32
        assert result.total_usd == sum(cost_of(i) for i in range(30))
        assert result.overall.errors == 1
        assert result.overall.unpriced_calls == 1
        by_task = {g.key: g for g in result.groups}
        assert by_task["summarise"].total_usd == sum(cost_of(i) for i in range(0, 30, 2))
        assert by_task["summarise"].cache_write_tokens == 300 * 16
        assert ledger.summary("day").groups[0].key == "2026-11-20"
        assert ledger.summary("model", task="classify").calls == 16


def test_money_never_passes_through_float(location: str) -> None:
    with open_ledger(location) as ledger:
        for i in range(10):
            ledger.record(make_record(i, total_usd="0.1", task="t"))
        ledger.record(make_record(10, total_usd="0.0000000001", task="t"))
        assert ledger.summary().total_usd == Decimal("1.0000000001")
        assert str(next(ledger.iter_records()).total_usd) == "0.1"


def test_text_no_database_accepts_is_cleaned(location: str) -> None:
    rec = make_record(0, task="t\x00ask\ud800", sample="nul \x00 and lone \udc80 surrogate")
    with open_ledger(location) as ledger:
        ledger.record(rec)
        assert ledger.stats.written == 1
        back = next(ledger.iter_records())
        assert back.id == rec.id
        assert back.task == "t\ufffdask?"
        assert ledger.summary().groups[0].key == "t\ufffdask?"


def test_sqlite_ledger_is_in_wal_mode_with_the_migrations_recorded(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    with open_ledger(str(path)) as ledger:
        ledger.record(make_record())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = [r[0] for r in conn.execute("SELECT name FROM clawback_migrations WHERE component='ledger'")]
    conn.close()
    assert names == ["m001_create_calls", "m002_index_ts_and_task", "m003_source_and_baseline"]


def test_default_location_is_the_settings_path(tmp_path: Path) -> None:
    with open_ledger() as ledger:
        ledger.record(make_record())
        assert ledger.location == str(tmp_path / "clawback-home" / "ledger.sqlite3")
    assert (tmp_path / "clawback-home" / "ledger.sqlite3").exists()


def test_reading_a_missing_ledger_without_create_fails(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no ledger at"):
        open_ledger(str(tmp_path / "missing.sqlite3"), create=False)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as info:
        open_ledger("postgresql://u:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in str(info.value)
    assert "***" in str(info.value)


def test_a_corrupt_row_is_skipped_and_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    damaged, intact = make_record(0), make_record(1)
    with open_ledger(str(path)) as ledger:
        ledger.record(damaged)
        ledger.record(intact)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE clawback_calls SET record = '{\"v\": 1}' WHERE id = ?", (damaged.id,))
    conn.commit()
    conn.close()
    with open_ledger(str(path)) as ledger:
        assert [r.id for r in ledger.iter_records()] == [intact.id]
        assert ledger.skipped == 1 and "malformed ledger record" in (ledger.skipped_reason or "")


def test_records_survive_a_reopen(location: str) -> None:
    records = [make_record(i) for i in range(3)]
    with open_ledger(location) as ledger:
        for rec in records:
            ledger.record(rec)
    with open_ledger(location) as ledger:
        assert list(ledger.iter_records()) == records
        assert isinstance(records[0], CallRecord)


def test_source_and_baseline_round_trip_through_the_sqlite_store(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from clawback.ledger.record import CallRecord
    from clawback.ledger.sqlite_store import SqliteStore
    from clawback.ledger.store import Query

    store = SqliteStore.open(tmp_path / "l.sqlite3")
    rec = CallRecord.create(
        "claude-haiku-5-5", ts=datetime(2026, 12, 1, tzinfo=UTC), source="batch", baseline_usd="0.0125"
    )
    store.insert(rec)
    (back,) = store.iter_records(Query())
    assert (back.source, back.baseline_usd) == ("batch", "0.0125")
    row = store.conn.execute("SELECT source, baseline_usd FROM clawback_calls").fetchone()
    assert tuple(row) == ("batch", "0.0125")
    store.close()
