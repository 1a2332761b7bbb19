"""The ledger in PostgreSQL (psycopg 3), for many processes writing to one ledger.

Each store holds one autocommit connection: a single insert is one round trip and commits by
itself. Time is ``TIMESTAMPTZ``, money ``NUMERIC`` (exact), the record ``JSONB``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
from clawback.storage.location import StoreLocation
from clawback.storage.postgres import connect_postgres, migrate_postgres

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_INSERT = (
    f"INSERT INTO clawback_calls ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('%s' for _ in COLUMNS[:-1])}, %s::jsonb) ON CONFLICT (id) DO NOTHING"
)
_FETCH = 1000
_cursor_ids = itertools.count()


def _row(record: CallRecord) -> tuple[Any, ...]:
    return record_row(record, native=True)


class PostgresStore:
    """One connection to a PostgreSQL ledger; not thread-safe (the writer serialises its use)."""

    def __init__(self, conn: psycopg.Connection[Any], location: StoreLocation) -> None:
        self._conn: psycopg.Connection[Any] | None = conn
        self._location = location
        self.skipped = Skipped()

    @classmethod
    def open(cls, location: StoreLocation, *, connect_timeout_s: int = 5) -> PostgresStore:
        """Connect to and migrate the ledger at ``location``."""
        conn = connect_postgres(
            location, connect_timeout_s=connect_timeout_s, application_name="clawback-ledger"
        )
        try:
            migrate_postgres(conn, LEDGER_MIGRATIONS, location)
        except BaseException:
            conn.close()
            raise
        return cls(conn, location)

    @property
    def display(self) -> str:
        """The URL with its password masked."""
        return self._location.display

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The open connection."""
        if self._conn is None or self._conn.closed:
            raise StoreError(f"the ledger connection to {self.display} is closed")
        return self._conn

    def insert(self, record: CallRecord) -> None:
        """Write one record (one round trip; autocommit)."""
        self.conn.execute(_INSERT, _row(record))

    def insert_many(self, records: Sequence[CallRecord]) -> None:
        """Write ``records`` in one transaction."""
        conn = self.conn
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_INSERT, [_row(r) for r in records])

    def _select(self, columns: str, query: Query, suffix: str = "") -> Iterator[tuple[Any, ...]]:
        import psycopg

        where, params = where_clause(query, "%s", ts=lambda t: t)
        conn = self.conn
        try:
            with conn.transaction(), conn.cursor(name=f"clawback_ledger_{next(_cursor_ids)}") as cur:
                cur.itersize = _FETCH
                cur.execute(f"SELECT {columns} FROM clawback_calls{where}{suffix}", params)
                yield from cur
        except psycopg.Error as exc:
            raise StoreError(f"ledger {self.display}: {self._location.scrub(str(exc).strip())}") from exc

    def iter_records(self, query: Query) -> Iterator[CallRecord]:
        """Matching records in time order, streamed through a server-side cursor."""
        for rid, data in self._select("id, record", query, " ORDER BY ts, id"):
            record = self._parse(str(rid), data)
            if record is not None:
                yield record

    def summary_rows(self, query: Query) -> Iterator[SummaryRow]:
        """The summary facts of matching records, streamed (NUMERIC arrives as Decimal)."""
        for row in self._select(SUMMARY_COLUMNS, query):
            yield summary_row(row, ts=lambda t: t.astimezone(UTC), money=Decimal)

    def tail(self, n: int) -> list[CallRecord]:
        """The ``n`` latest records, oldest first."""
        rows = list(self._select("id, record", Query(), f" ORDER BY ts DESC, id DESC LIMIT {int(n)}"))
        parsed = (self._parse(str(rid), data) for rid, data in reversed(rows))
        return [record for record in parsed if record is not None]

    def _parse(self, rid: str, data: Any) -> CallRecord | None:
        try:
            return CallRecord.from_json(data)
        except UsageError as exc:
            self.skipped.add(f"record {rid}: {exc}")
            return None

    def count(self) -> int:
        """How many records the ledger holds."""
        row = self.conn.execute("SELECT count(*) FROM clawback_calls").fetchone()
        return int(row[0]) if row else 0

    def ping(self) -> None:
        """Raise unless the connection works."""
        self.conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
