"""PostgreSQL connections through psycopg 3 (the ``postgres`` extra), and migrations applied to them.

Connections are in autocommit mode: a single ``INSERT`` is one round trip and its own
transaction; multi-statement work uses ``with conn.transaction():``. Every error message has the
URL's password replaced by ``***``.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clawback.errors import StoreError
from clawback.storage.location import StoreLocation
from clawback.storage.migrations import Migrations, SchemaDb, create_table_sql, pending_migrations

if TYPE_CHECKING:
    import psycopg

__all__ = ["connect_postgres", "migrate_postgres"]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StoreError("PostgreSQL stores need psycopg 3: pip install 'clawback[postgres]'") from exc
    return psycopg


def connect_postgres(
    location: StoreLocation,
    *,
    connect_timeout_s: int = 5,
    application_name: str = "clawback",
) -> psycopg.Connection[Any]:
    """An autocommit connection to ``location``; :class:`StoreError` (password masked) on failure."""
    pg = _psycopg()
    try:
        conn: psycopg.Connection[Any] = pg.connect(
            location.target,
            autocommit=True,
            connect_timeout=max(1, int(connect_timeout_s)),
            application_name=application_name,
            tcp_user_timeout=max(1000, int(connect_timeout_s * 1000)),
        )
    except pg.Error as exc:
        message = location.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
        # ``from None``: the driver's own exception may carry the unmasked URL.
        raise StoreError(f"cannot connect to {location.display}: {message}") from None
    return conn


def migrate_postgres(
    conn: psycopg.Connection[Any], migrations: Migrations, location: StoreLocation
) -> list[str]:
    """Apply ``migrations`` not yet applied, in one transaction under an advisory lock; their names."""
    pg = _psycopg()
    applied: list[str] = []
    lock_key = zlib.crc32(f"clawback:{migrations.component}".encode())
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
            cur.execute(create_table_sql("postgres"))
            cur.execute("SELECT name FROM clawback_migrations WHERE component = %s", (migrations.component,))
            done = [r[0] for r in cur.fetchall()]
            db = SchemaDb("postgres", cur.execute)
            now = datetime.now(UTC)
            for migration in pending_migrations(migrations, done):
                migration.apply(db)
                cur.execute(
                    "INSERT INTO clawback_migrations (component, name, applied_at) VALUES (%s, %s, %s)",
                    (migrations.component, migration.name, now),
                )
                applied.append(migration.name)
    except pg.Error as exc:
        raise StoreError(
            f"cannot migrate the {migrations.component} schema at {location.display}: "
            f"{location.scrub(str(exc).strip())}"
        ) from None
    return applied
