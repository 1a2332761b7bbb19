"""SQLite connections in WAL mode, and migrations applied to them.

``journal_mode=WAL`` with ``synchronous=NORMAL``: a committed transaction survives the writing
process being killed (it is in the WAL file, which the next opener replays); only a power loss or
OS crash can take back the last commits, which ``synchronous="FULL"`` prevents at an fsync per
commit. Connections are in autocommit mode (``isolation_level=None``): a single ``INSERT`` is its
own transaction, and multi-statement work uses explicit ``BEGIN`` … ``COMMIT``.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from clawback.errors import StoreError
from clawback.storage.migrations import Migrations, SchemaDb, create_table_sql, pending_migrations

__all__ = ["checkpoint_sqlite", "connect_sqlite", "migrate_sqlite"]

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
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc
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
        raise StoreError(f"cannot open {path}: {exc}") from exc
    except StoreError:
        conn.close()
        raise
    return conn


def migrate_sqlite(conn: sqlite3.Connection, migrations: Migrations) -> list[str]:
    """Apply ``migrations`` not yet applied, in one ``BEGIN IMMEDIATE`` transaction; their names."""
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
        raise StoreError(f"cannot migrate the {migrations.component} schema: {exc}") from exc
    return applied


def checkpoint_sqlite(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """A passive WAL checkpoint (waits for no reader or writer): (busy, WAL frames, frames copied)."""
    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])
