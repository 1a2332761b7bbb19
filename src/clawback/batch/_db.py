"""One small SQL surface over SQLite and PostgreSQL for the journal, and a per-job runner lock.

Connections, WAL mode and migrations come from :mod:`clawback.storage` (shared with the ledger).
This module only evens out what the journal needs: ``?`` placeholders (turned into ``%s`` for
psycopg), explicit transactions (``BEGIN IMMEDIATE`` on SQLite, ``conn.transaction()`` on
PostgreSQL), driver errors turned into :class:`~clawback.errors.StoreError`, and a lock that the
operating system or the server releases by itself when the process holding it dies — an ``flock``
on a side file for SQLite, a session advisory lock for PostgreSQL — so a runner killed with
SIGKILL never leaves a job locked, and :meth:`Database.lock_held` tells whether a live runner
holds a job (``clawback batch status``).
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clawback.errors import BatchJobError, StoreError
from clawback.storage.location import StoreLocation, parse_location
from clawback.storage.migrations import Migrations

__all__ = ["Database", "open_database"]

_LOCK_TRIES = 4
_LOCK_PAUSE_S = 0.05


class Database:
    """A connection with the few operations the journal uses, the same on both dialects."""

    def __init__(self, conn: Any, location: StoreLocation) -> None:
        self.conn = conn
        self.location = location
        self.dialect = location.kind
        self._depth = 0
        self._pg_tx: Any = None
        self._lock_file: Any = None

    # -- statements -------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def _fail(self, exc: Exception) -> StoreError:
        text = str(exc).strip().splitlines()
        message = (
            f"batch journal at {self.location.display}: {self.location.scrub(text[0] if text else repr(exc))}"
        )
        if self.dialect == "sqlite":
            from clawback.storage.sqlite import is_damage, repair_hint

            if is_damage(exc):
                message += f"; the file is damaged: {repair_hint(self.location.target)}"
        return StoreError(message)

    def integrity_problem(self, budget_s: float = 2.0) -> str | None:
        """What SQLite's integrity check finds wrong with the file (within ``budget_s``), or None.

        PostgreSQL checks its own pages; there this is always None.
        """
        if self.dialect != "sqlite":
            return None
        from clawback.storage.sqlite import check_integrity

        return check_integrity(self.conn, budget_s=budget_s)

    def damage(self, problem: str) -> StoreError:
        """The error for a journal found damaged: what is wrong, the file, and how to recover it."""
        from clawback.storage.sqlite import repair_hint

        where = self.location.display
        hint = f"; {repair_hint(self.location.target)}" if self.dialect == "sqlite" else ""
        return StoreError(f"batch journal {where} is damaged ({problem}); nothing more is sent{hint}")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        try:
            cur = self.conn.execute(self._sql(sql), tuple(params))
            return int(cur.rowcount or 0)
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._fail(exc) from None
            raise

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row."""
        if not rows:
            return
        try:
            if self.dialect == "postgres":
                with self.conn.cursor() as cur:
                    cur.executemany(self._sql(sql), [tuple(r) for r in rows])
            else:
                self.conn.executemany(sql, [tuple(r) for r in rows])
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._fail(exc) from None
            raise

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query."""
        try:
            cur = self.conn.execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in cur.fetchall()]
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._fail(exc) from None
            raise

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        rows = self.all(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            if self.dialect == "postgres":
                with self.conn.transaction():
                    yield
            else:
                self.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.execute("COMMIT")
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._fail(exc) from None
            raise
        finally:
            self._depth = 0

    # -- the runner lock ------------------------------------------------------------------------
    def _lock_path(self, name: str) -> Path:
        folder = Path(self.location.target).parent / ".clawback-batch-locks"
        return folder / f"{self.location.key()}-{zlib.crc32(name.encode()):08x}.lock"

    def try_lock(self, name: str) -> bool:
        """Take the lock for job ``name`` if no live process holds it."""
        if self.dialect == "postgres":
            key = zlib.crc32(f"clawback-batch:{name}".encode())
            row = self.one("SELECT pg_try_advisory_lock(?)", (key,))
            return bool(row and row[0])
        import fcntl

        path = self._lock_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - held until release_lock or exit
        for attempt in range(_LOCK_TRIES):  # `batch status` may be probing it for a moment: ask again
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if attempt == _LOCK_TRIES - 1:
                    handle.close()
                    return False
                time.sleep(_LOCK_PAUSE_S)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._lock_file = handle
        return True

    def lock_held(self, name: str) -> bool:
        """True while a live process (this one included) holds job ``name``'s lock; takes nothing.

        The lock vanishes with its process, so a SIGKILLed runner holds nothing.
        """
        if self.dialect == "postgres":
            key = zlib.crc32(f"clawback-batch:{name}".encode())
            row = self.one(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 "
                "AND objid = CAST(CAST(? AS BIGINT) AS OID) AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (key,),
            )
            return row is not None
        if self._lock_file is not None:
            return True
        import fcntl

        try:
            handle = open(self._lock_path(name), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return False
        with handle:
            try:  # a shared lock is refused while a runner holds its exclusive one
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False

    def release_lock(self, name: str) -> None:
        """Release the lock taken by :meth:`try_lock`."""
        if self.dialect == "postgres":
            key = zlib.crc32(f"clawback-batch:{name}".encode())
            with contextlib.suppress(StoreError):
                self.execute("SELECT pg_advisory_unlock(?)", (key,))
        elif self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def close(self) -> None:
        """Close the connection (and drop any lock)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        with contextlib.suppress(Exception):
            self.conn.close()


def _is_driver_error(exc: Exception) -> bool:
    module = type(exc).__module__
    return module.startswith(("sqlite3", "psycopg"))


def open_database(location: str | Path, migrations: Migrations, *, create: bool = True) -> Database:
    """A migrated journal database at a path or ``postgresql://`` URL."""
    where = parse_location(location)
    if where.kind == "postgres":
        from clawback.storage.postgres import connect_postgres, migrate_postgres

        pg = connect_postgres(where, application_name="clawback-batch")
        migrate_postgres(pg, migrations, where)
        return Database(pg, where)
    from clawback.storage.sqlite import connect_sqlite, migrate_sqlite

    if not create and not where.path.exists():
        raise BatchJobError(f"no batch journal at {where.display}")
    conn = connect_sqlite(where.path, create=create)
    try:
        migrate_sqlite(conn, migrations, path=where.path)
    except BaseException:
        conn.close()
        raise
    return Database(conn, where)
