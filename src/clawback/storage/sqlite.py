"""SQLite connections in WAL mode, and migrations applied to them.

``journal_mode=WAL`` with ``synchronous=NORMAL``: a committed transaction survives the writing
process being killed (it is in the WAL file, which the next opener replays); only a power loss or
OS crash can take back the last commits, which ``synchronous="FULL"`` prevents at an fsync per
commit. Connections are in autocommit mode (``isolation_level=None``): a single ``INSERT`` is its
own transaction, and multi-statement work uses explicit ``BEGIN`` … ``COMMIT``.

Damage is named, never left to look like something else: an error that means the file itself is
damaged (SQLite's ``SQLITE_CORRUPT`` and ``SQLITE_NOTADB``) becomes a message naming the file and
the repair (:func:`describe_failure`), and :func:`check_integrity` runs SQLite's own
``integrity_check`` within a time budget, for callers about to act on what the file says.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from clawback.errors import StoreError
from clawback.storage.migrations import Migrations, SchemaDb, create_table_sql, pending_migrations

__all__ = [
    "check_integrity",
    "checkpoint_sqlite",
    "connect_sqlite",
    "describe_failure",
    "is_damage",
    "migrate_sqlite",
    "repair_hint",
]

Synchronous = Literal["NORMAL", "FULL"]


def connect_sqlite(
    path: Path,
    *,
    create: bool = True,
    busy_timeout_ms: int = 5000,
    synchronous: Synchronous = "NORMAL",
    autocheckpoint: bool = True,
) -> sqlite3.Connection:
    """A WAL-mode connection to ``path``, usable from any thread (callers serialise access).

    With ``autocheckpoint=False`` a commit never runs a WAL checkpoint (which copies pages to the
    database file and fsyncs it: milliseconds); the owner then calls :func:`checkpoint_sqlite`
    from another connection, off the hot path. Raises :class:`StoreError` when the file can't be opened, isn't a database, or is missing
    and ``create`` is false.
    """
    if not create and not path.exists():
        raise StoreError(f"no ledger at {path}")
    if path.exists() and path.is_dir():
        raise StoreError(f"cannot open {path}: it is a directory")
    if path.exists() and not path.is_file():
        raise StoreError(f"cannot open {path}: not a regular file (a FIFO, device or socket)")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(describe_failure(f"cannot open {path}", path, exc)) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot use {path}: WAL mode unavailable (journal_mode is {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if not autocheckpoint:
            conn.execute("PRAGMA wal_autocheckpoint = 0")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(describe_failure(f"cannot open {path}", path, exc)) from exc
    except StoreError:
        conn.close()
        raise
    return conn


def migrate_sqlite(
    conn: sqlite3.Connection, migrations: Migrations, *, path: Path | None = None
) -> list[str]:
    """Apply ``migrations`` not yet applied, in one ``BEGIN IMMEDIATE`` transaction; their names.

    ``path`` (the file) lets an error on a damaged file name the repair.
    """
    applied: list[str] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(create_table_sql("sqlite"))
            rows = conn.execute(
                "SELECT name FROM clawback_migrations WHERE component = ?", (migrations.component,)
            ).fetchall()
            db = SchemaDb("sqlite", conn.execute)
            now = datetime.now(UTC).isoformat()
            for migration in pending_migrations(migrations, [r[0] for r in rows]):
                migration.apply(db)
                conn.execute(
                    "INSERT INTO clawback_migrations (component, name, applied_at) VALUES (?, ?, ?)",
                    (migrations.component, migration.name, now),
                )
                applied.append(migration.name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        what = f"cannot migrate the {migrations.component} schema" + (f" of {path}" if path else "")
        raise StoreError(describe_failure(what, path or "FILE", exc)) from exc
    return applied


_DAMAGE_CODES = frozenset(
    {"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE"}
)
_DAMAGE_WORDS = ("malformed", "not a database", "corrupt")


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` says the database file itself is damaged (not locked, full or missing)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str) and name in _DAMAGE_CODES:
        return True
    text = str(exc).lower()
    return any(word in text for word in _DAMAGE_WORDS)


def repair_hint(path: Path | str) -> str:
    """How to get back what a damaged SQLite file still holds."""
    return (
        f"recover what it holds with: sqlite3 {path} .recover | sqlite3 {path}.recovered "
        "(then use the .recovered file in its place)"
    )


def describe_failure(what: str, path: Path | str, exc: BaseException) -> str:
    """``what: error``, naming the repair when the error says the file is damaged."""
    first = str(exc).strip().splitlines()
    message = f"{what}: {first[0] if first else type(exc).__name__}"
    if not is_damage(exc):
        return message
    if "not a database" in message:
        return f"{message}; if it is the right file, it is damaged: {repair_hint(path)}"
    return f"{message}; the file is damaged: {repair_hint(path)}"


def check_integrity(
    conn: sqlite3.Connection, *, budget_s: float = 2.0, table: str | None = None
) -> str | None:
    """The first problem SQLite's ``integrity_check`` finds (of one ``table`` and its indexes, or all).

    None when the file is sound — or when the check did not finish within ``budget_s`` seconds
    (it reads every page, so on a large file it is cut short rather than delay the caller). A
    damaged index (``row 93 missing from index …``) is found here, where ``quick_check`` skips it.
    """
    deadline = time.monotonic() + budget_s
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        pragma = "PRAGMA integrity_check" if table is None else f"PRAGMA integrity_check({table})"
        rows = conn.execute(pragma).fetchmany(3)
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc).lower():
            return None
        return str(exc)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.set_progress_handler(None, 0)
    problems = [str(r[0]) for r in rows if r and str(r[0]) != "ok"]
    return "; ".join(problems) if problems else None


def checkpoint_sqlite(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """A passive WAL checkpoint (waits for no reader or writer): (busy, WAL frames, frames copied)."""
    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])
