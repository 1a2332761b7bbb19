"""Migrations: ordered, recorded, applied once, on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clawback.errors import StoreError
from clawback.storage.location import parse_location
from clawback.storage.migrations import Migrations, SchemaDb
from clawback.storage.postgres import connect_postgres, migrate_postgres
from clawback.storage.sqlite import connect_sqlite, migrate_sqlite


def _migrations(extra: bool = False) -> Migrations:
    ms = Migrations("demo")

    @ms.add
    def m001_items(db: SchemaDb) -> None:
        db.execute(db.format("CREATE TABLE demo_items (id TEXT PRIMARY KEY, price {money}, at {timestamp})"))

    if extra:

        @ms.add
        def m002_add_note(db: SchemaDb) -> None:
            db.execute("ALTER TABLE demo_items ADD COLUMN note TEXT")

    return ms


def test_duplicate_names_are_refused() -> None:
    ms = Migrations("x")

    def m001(db: SchemaDb) -> None:
        return None

    ms.add(m001)
    with pytest.raises(ValueError, match="duplicate"):
        ms.add(m001)


def test_sqlite_applies_each_migration_once_and_later_ones_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    conn = connect_sqlite(path)
    try:
        assert migrate_sqlite(conn, _migrations()) == ["m001_items"]
        assert migrate_sqlite(conn, _migrations()) == []
        assert migrate_sqlite(conn, _migrations(extra=True)) == ["m002_add_note"]
        conn.execute("INSERT INTO demo_items (id, price, note) VALUES ('a', '0.10', 'n')")
        assert conn.execute("SELECT price FROM demo_items").fetchone()[0] == "0.10"
    finally:
        conn.close()


def test_a_failing_migration_leaves_nothing_applied(tmp_path: Path) -> None:
    ms = _migrations()

    @ms.add
    def m002_broken(db: SchemaDb) -> None:
        db.execute("CREATE TABLE ok_table (x)")
        db.execute("THIS IS NOT SQL")

    conn = connect_sqlite(tmp_path / "x.sqlite3")
    try:
        with pytest.raises(StoreError, match="cannot migrate the demo schema"):
            migrate_sqlite(conn, ms)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "ok_table" not in tables and "demo_items" not in tables
    finally:
        conn.close()


def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        connect_sqlite(bad)
    with pytest.raises(StoreError, match="directory"):
        connect_sqlite(tmp_path)


def test_sqlite_connections_are_wal(tmp_path: Path) -> None:
    conn = connect_sqlite(tmp_path / "w.sqlite3", synchronous="FULL")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        conn.close()
    assert isinstance(conn, sqlite3.Connection)


@pytest.mark.postgres
def test_postgres_applies_each_migration_once_with_native_types(pg_database: str) -> None:
    loc = parse_location(pg_database)
    conn = connect_postgres(loc)
    try:
        assert migrate_postgres(conn, _migrations(), loc) == ["m001_items"]
        assert migrate_postgres(conn, _migrations(extra=True), loc) == ["m002_add_note"]
        assert migrate_postgres(conn, _migrations(extra=True), loc) == []
        kinds = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='demo_items'"
            ).fetchall()
        )
        assert kinds["price"] == "numeric"
        assert kinds["at"] == "timestamp with time zone"
    finally:
        conn.close()
