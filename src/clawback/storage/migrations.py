"""Schema migrations: an ordered list of small named functions plus a table of applied ones.

One logical schema is written once for SQLite and PostgreSQL: a migration receives a
:class:`SchemaDb` that runs SQL and names the column types of its dialect (money is exact in
both: TEXT decimal strings in SQLite, NUMERIC in PostgreSQL). Every component (the ledger, the
batch journal) keeps its own :class:`Migrations` list; they share one applied table,
``clawback_migrations(component, name, applied_at)``, so they can share one database.

Migrations run inside one transaction, serialised between processes (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``pg_advisory_xact_lock``), so many processes may open a new store at once. Never
edit or reorder an applied migration: add a new one at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["MIGRATIONS_TABLE", "Dialect", "Migration", "Migrations", "SchemaDb", "pending_migrations"]

Dialect = Literal["sqlite", "postgres"]
MIGRATIONS_TABLE = "clawback_migrations"

_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "money": "TEXT",
        "timestamp": "TEXT",
        "json": "TEXT",
        "bigint": "INTEGER",
        "real": "REAL",
        "text": "TEXT",
    },
    "postgres": {
        "money": "NUMERIC",
        "timestamp": "TIMESTAMPTZ",
        "json": "JSONB",
        "bigint": "BIGINT",
        "real": "DOUBLE PRECISION",
        "text": "TEXT",
    },
}


class _Execute(Protocol):
    def __call__(self, sql: str, /) -> object: ...


@dataclass(frozen=True, slots=True)
class SchemaDb:
    """What a migration sees: its dialect, the dialect's column types, and ``execute``."""

    dialect: Dialect
    run: _Execute

    def execute(self, sql: str) -> None:
        """Run one DDL or DML statement inside the migration transaction."""
        self.run(sql)

    def type(self, kind: str) -> str:
        """The column type for ``money``, ``timestamp``, ``json``, ``bigint``, ``real`` or ``text``."""
        return _TYPES[self.dialect][kind]

    def format(self, sql: str) -> str:
        """``sql`` with ``{money}``, ``{timestamp}``, ``{json}``, ``{bigint}``, ``{real}``, ``{text}`` filled."""
        return sql.format(**_TYPES[self.dialect])


@dataclass(frozen=True, slots=True)
class Migration:
    """One named schema change."""

    name: str
    apply: Callable[[SchemaDb], None]


@dataclass(slots=True)
class Migrations:
    """The ordered migrations of one component, registered with the :meth:`add` decorator."""

    component: str
    items: list[Migration] = field(default_factory=list)

    def add(self, fn: Callable[[SchemaDb], None]) -> Callable[[SchemaDb], None]:
        """Register ``fn`` as the next migration, named after the function."""
        if any(m.name == fn.__name__ for m in self.items):
            raise ValueError(f"duplicate migration name {fn.__name__!r} in {self.component}")
        self.items.append(Migration(fn.__name__, fn))
        return fn

    def __iter__(self) -> Iterator[Migration]:
        return iter(self.items)

    @property
    def names(self) -> tuple[str, ...]:
        """Every migration name, in order."""
        return tuple(m.name for m in self.items)


def pending_migrations(migrations: Migrations, applied: Sequence[str]) -> list[Migration]:
    """The migrations not yet in ``applied``, in order."""
    done = set(applied)
    return [m for m in migrations if m.name not in done]


def create_table_sql(dialect: Dialect) -> str:
    """The applied-migrations table, for ``dialect``."""
    return (
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
        "component TEXT NOT NULL, name TEXT NOT NULL, "
        f"applied_at {_TYPES[dialect]['timestamp']} NOT NULL, "
        "PRIMARY KEY (component, name))"
    )
