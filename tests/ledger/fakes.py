"""An in-memory ledger store whose failures the test controls."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from clawback.ledger.record import CallRecord
from clawback.ledger.store import Query
from clawback.ledger.summary import SummaryRow


class StoreDown(ConnectionError):
    """Stands in for a driver's OperationalError."""


class InterfaceError(Exception):
    """Stands in for a driver error some drivers raise for a value and others for a dead connection."""

    __module__ = "psycopg.errors"


class FakeBackend:
    """The 'database': survives connections; ``down`` makes connects and writes fail."""

    def __init__(self) -> None:
        self.rows: dict[str, CallRecord] = {}
        self.down = False
        self.down_error: type[Exception] = StoreDown
        self.bad_tasks: set[str] = set()
        self.gate: threading.Event | None = None
        self.connects = 0
        self.insert_calls = 0
        self.batch_sizes: list[int] = []
        self.lock = threading.Lock()

    def connect(self) -> FakeStore:
        self.connects += 1
        if self.down:
            raise StoreDown("connection refused")
        return FakeStore(self)


class FakeStore:
    """One 'connection' to a :class:`FakeBackend`."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.closed = False

    @property
    def display(self) -> str:
        return "fake://ledger"

    def _check(self, records: Sequence[CallRecord]) -> None:
        if self.backend.gate is not None:
            self.backend.gate.wait(10)
        if self.backend.down or self.closed:
            raise self.backend.down_error("server closed the connection unexpectedly")
        for r in records:
            if r.task in self.backend.bad_tasks:
                raise ValueError(f"bad value in task {r.task!r}")

    def insert(self, record: CallRecord) -> None:
        self.insert_many([record])

    def insert_many(self, records: Sequence[CallRecord]) -> None:
        with self.backend.lock:
            self.backend.insert_calls += 1
        self._check(records)
        with self.backend.lock:
            self.backend.batch_sizes.append(len(records))
            for r in records:
                self.backend.rows.setdefault(r.id, r)

    def iter_records(self, query: Query) -> Iterator[CallRecord]:
        return iter(sorted(self.backend.rows.values(), key=lambda r: (r.ts, r.id)))

    def summary_rows(self, query: Query) -> Iterator[SummaryRow]:
        return iter(())

    def tail(self, n: int) -> list[CallRecord]:
        return list(self.iter_records(Query()))[-n:]

    def count(self) -> int:
        return len(self.backend.rows)

    def ping(self) -> None:
        if self.backend.down or self.closed:
            raise StoreDown("no answer")

    def close(self) -> None:
        self.closed = True
