"""The ledger in a SQLite file (WAL mode): the default store, at ``Settings.ledger_location``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from clawback.errors import StoreError, UsageError
from clawback.ledger.migrations import LEDGER_MIGRATIONS
from clawback.ledger.record import CallRecord
from clawback.ledger.store import (
    COLUMNS,
    SUMMARY_COLUMNS,
    Query,
    Skipped,
    record_row,
    summary_row,
    where_clause,
)
from clawback.ledger.summary import SummaryRow
from clawback.storage.sqlite import (
    Synchronous,
    checkpoint_sqlite,
    connect_sqlite,
    describe_failure,
    migrate_sqlite,
)

__all__ = ["SqliteStore", "WalCheckpointer"]

_INSERT = (
    f"INSERT OR IGNORE INTO clawback_calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)
_FETCH = 500


class SqliteStore:
    """One connection to a SQLite ledger; not thread-safe (the writer serialises its use)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        conn.text_factory = _text  # a value that is not UTF-8 marks its row damaged, not the whole read
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self.skipped = Skipped()

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        create: bool = True,
        busy_timeout_ms: int = 5000,
        synchronous: Synchronous = "NORMAL",
        autocheckpoint: bool = True,
    ) -> SqliteStore:
        """Open (creating it if ``create``) and migrate the ledger at ``path``."""
        conn = connect_sqlite(
            path,
            create=create,
            busy_timeout_ms=busy_timeout_ms,
            synchronous=synchronous,
            autocheckpoint=autocheckpoint,
        )
        try:
            migrate_sqlite(conn, LEDGER_MIGRATIONS, path=path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @property
    def display(self) -> str:
        """The file path."""
        return str(self._path)

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            raise StoreError(f"the ledger at {self._path} is closed")
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(describe_failure(f"ledger {self._path}", self._path, exc)) from exc

    def insert(self, record: CallRecord) -> None:
        """Write one record; in autocommit mode the statement is its own committed transaction."""
        self.conn.execute(_INSERT, record_row(record))

    def insert_many(self, records: Sequence[CallRecord]) -> None:
        """Write ``records`` in one transaction."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT, [record_row(r) for r in records])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _select(self, columns: str, query: Query, suffix: str = "") -> Iterator[tuple[Any, ...]]:
        where, params = where_clause(query, "?")
        with self._errors():
            cur = self.conn.execute(f"SELECT {columns} FROM clawback_calls{where}{suffix}", params)
            try:
                while rows := cur.fetchmany(_FETCH):
                    yield from rows
            finally:
                cur.close()

    def iter_records(self, query: Query) -> Iterator[CallRecord]:
        """Matching records in time order, streamed; unreadable rows are skipped and counted."""
        for rid, text in self._select("id, record", query, " ORDER BY ts, id"):
            record = self._parse(rid, text)
            if record is not None:
                yield record

    def summary_rows(self, query: Query) -> Iterator[SummaryRow]:
        """The summary facts of matching records, streamed (money parsed as Decimal)."""
        for row in self._select(SUMMARY_COLUMNS, query):
            if any(value is _UNDECODABLE for value in row):
                self.skipped.add("a text column is not UTF-8")
                continue
            try:
                yield summary_row(row, ts=_ts, money=_money)
            except (ValueError, TypeError, ArithmeticError) as exc:
                self.skipped.add(f"a column can't be read ({type(exc).__name__})")

    def tail(self, n: int) -> list[CallRecord]:
        """The ``n`` latest readable records, oldest first (unreadable rows are skipped and counted)."""
        rows = list(self._select("id, record", Query(), f" ORDER BY ts DESC, id DESC LIMIT {int(n)}"))
        parsed = (self._parse(rid, text) for rid, text in reversed(rows))
        return [record for record in parsed if record is not None]

    def _parse(self, rid: object, text: object) -> CallRecord | None:
        if rid is _UNDECODABLE or not isinstance(text, str):
            self.skipped.add("the record is not UTF-8 text")
            return None
        try:
            return CallRecord.from_json(text)
        except UsageError as exc:
            self.skipped.add(f"record {rid}: {exc}")
            return None

    def count(self) -> int:
        """How many records the ledger holds."""
        with self._errors():
            return int(self.conn.execute("SELECT count(*) FROM clawback_calls").fetchone()[0])

    def ping(self) -> None:
        """Raise unless the connection works."""
        self.conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Undecodable:
    """Stands for a TEXT value that is not valid UTF-8: its row is damaged."""

    __slots__ = ()


_UNDECODABLE = _Undecodable()


def _text(raw: bytes) -> str | _Undecodable:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _UNDECODABLE


def _ts(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


def _money(value: object) -> Decimal:
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise ValueError("not a finite amount")
    return amount


class WalCheckpointer:
    """Checkpoints a ledger's WAL from its own connection, so no writer's commit pays for it.

    The writer's background thread calls it about once a second while records are being written.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def run(self) -> None:
        """One passive checkpoint (never waits on readers or writers)."""
        if self._conn is None:
            self._conn = connect_sqlite(self._path, busy_timeout_ms=0)
        checkpoint_sqlite(self._conn)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
