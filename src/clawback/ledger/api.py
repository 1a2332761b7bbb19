"""Opening a ledger: :func:`open_ledger` (read and write) and :func:`open_writer` (the client's path).

A location is a SQLite path (default: ``Settings.ledger_location``, i.e. ``CLAWBACK_LEDGER`` or
``$CLAWBACK_HOME/ledger.sqlite3``) or a ``postgresql://`` URL. Pending files live beside a SQLite
ledger, and under ``$CLAWBACK_HOME/pending/`` for a PostgreSQL one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

from clawback.errors import StoreError
from clawback.ledger.options import LedgerStats, Maintenance, WriterOptions
from clawback.ledger.pending import PendingFile, replay_pending
from clawback.ledger.record import CallRecord
from clawback.ledger.store import LedgerStore, Query
from clawback.ledger.summary import GroupBy, Summary, summarize
from clawback.ledger.writer import LedgerWriter
from clawback.settings import Settings
from clawback.storage.location import StoreLocation, parse_location

__all__ = ["Ledger", "open_ledger", "open_store", "open_writer", "pending_file_for", "resolve_location"]

WRITER_BUSY_TIMEOUT_MS = 200
READER_BUSY_TIMEOUT_MS = 5000
log = logging.getLogger("clawback.ledger")

When = datetime | date | None


def resolve_location(location: str | Path | None, settings: Settings | None = None) -> StoreLocation:
    """The ledger location in effect: ``location`` if given, else the settings' default."""
    if location is None:
        location = (settings or Settings.from_env()).ledger_location
    return parse_location(location)


def open_store(
    location: StoreLocation,
    *,
    create: bool = True,
    busy_timeout_ms: int = READER_BUSY_TIMEOUT_MS,
    autocheckpoint: bool = True,
) -> LedgerStore:
    """A connected, migrated store for ``location``; :class:`StoreError` when it can't be opened."""
    if location.kind == "postgres":
        from clawback.ledger.postgres_store import PostgresStore

        return PostgresStore.open(location)
    from clawback.ledger.sqlite_store import SqliteStore

    return SqliteStore.open(
        location.path, create=create, busy_timeout_ms=busy_timeout_ms, autocheckpoint=autocheckpoint
    )


def pending_file_for(location: StoreLocation, settings: Settings | None = None) -> PendingFile:
    """Where a writer to ``location`` keeps records its store can't take yet."""
    if location.kind == "sqlite":
        return PendingFile(location.path.parent, location.path.name)
    home = (settings or Settings.from_env()).home
    return PendingFile(home / "pending", f"ledger-pg-{location.key()}")


def open_writer(
    location: str | Path | None = None,
    *,
    settings: Settings | None = None,
    options: WriterOptions | None = None,
) -> LedgerWriter:
    """A writer for the client: never raises because the store is down (it retries in the background).

    A malformed location (an unknown URL scheme) is still a :class:`~clawback.errors.UsageError`.
    """
    loc = resolve_location(location, settings)
    maintenance: Maintenance | None = None
    if loc.kind == "sqlite":
        from clawback.ledger.sqlite_store import WalCheckpointer

        maintenance = WalCheckpointer(loc.path)

    def connect() -> LedgerStore:
        # No commit of the writer runs a WAL checkpoint: the background thread does, off the hot path.
        return open_store(loc, busy_timeout_ms=WRITER_BUSY_TIMEOUT_MS, autocheckpoint=False)

    pending = pending_file_for(loc, settings)
    return LedgerWriter(connect, pending, options=options, scrub=loc.scrub, maintenance=maintenance)


def _utc(when: When) -> datetime | None:
    if when is None:
        return None
    if isinstance(when, datetime):
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return datetime.combine(when, time(), tzinfo=UTC)


class Ledger:
    """One ledger: ``record()`` never raises; reads stream from the store (flushing writes first)."""

    def __init__(
        self,
        location: StoreLocation,
        reader: LedgerStore,
        make_writer: Callable[[], LedgerWriter],
    ) -> None:
        self._location = location
        self._reader: LedgerStore | None = reader
        self._make_writer = make_writer
        self._writer: LedgerWriter | None = None

    @property
    def location(self) -> str:
        """Where the ledger is (a path, or a URL with its password masked)."""
        return self._location.display

    @property
    def writer(self) -> LedgerWriter:
        """The writer (created, with its own connection, on first use)."""
        if self._writer is None:
            self._writer = self._make_writer()
        return self._writer

    def record(self, record: CallRecord) -> None:
        """Write one record (see :class:`LedgerWriter`); never raises."""
        self.writer.record(record)

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything queued or pending; True when nothing is left."""
        return True if self._writer is None else self._writer.flush(timeout)

    @property
    def stats(self) -> LedgerStats:
        """The writer's counters."""
        if self._writer is None:
            return LedgerStats(0, 0, 0, 0, 0, 0, 0, False, None)
        return self._writer.stats

    @property
    def _store(self) -> LedgerStore:
        if self._reader is None:
            raise StoreError(f"the ledger at {self.location} is closed")
        self.flush()
        return self._reader

    def iter_records(
        self, since: When = None, until: When = None, task: str | None = None
    ) -> Iterator[CallRecord]:
        """Records with ``since <= ts < until`` (dates are UTC midnights), in time order, streamed."""
        return self._store.iter_records(Query(_utc(since), _utc(until), task))

    def summary(
        self, by: GroupBy = "task", *, since: When = None, until: When = None, task: str | None = None
    ) -> Summary:
        """Exact totals (calls, spent, baseline, saved, tokens, errors) grouped by task, model, day or source."""
        query = Query(_utc(since), _utc(until), task)
        return summarize(self._store.summary_rows(query), by, since=query.since, until=query.until)

    def tail(self, n: int = 20) -> list[CallRecord]:
        """The ``n`` latest records, oldest first."""
        return self._store.tail(n)

    def count(self) -> int:
        """How many records the ledger holds."""
        return self._store.count()

    @property
    def skipped(self) -> int:
        """Rows the reads so far skipped because they could not be read (damaged, not UTF-8)."""
        return 0 if self._reader is None else self._reader.skipped.count

    @property
    def skipped_reason(self) -> str | None:
        """Why the first skipped row could not be read."""
        return None if self._reader is None else self._reader.skipped.first

    def close(self) -> None:
        """Flush and close the writer and the reading connection (idempotent)."""
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_ledger(
    location: str | Path | None = None,
    *,
    settings: Settings | None = None,
    options: WriterOptions | None = None,
    create: bool = True,
) -> Ledger:
    """Open the ledger at ``location`` (default: the settings' path), replaying abandoned pending files.

    Raises :class:`~clawback.errors.StoreError` when it can't be opened (or, with ``create=False``,
    when a SQLite ledger doesn't exist). Use :func:`open_writer` where that must never raise.
    """
    loc = resolve_location(location, settings)
    reader = open_store(loc, create=create)
    pending = pending_file_for(loc, settings)
    try:
        replay_pending(pending.directory, pending.prefix, reader.insert_many, probe=reader.ping)
    except Exception as exc:  # reading still works; the files wait for the next writer
        log.warning("ledger: cannot replay pending records into %s yet: %s", loc.display, loc.scrub(str(exc)))
    return Ledger(loc, reader, lambda: open_writer(loc.target, settings=settings, options=options))
