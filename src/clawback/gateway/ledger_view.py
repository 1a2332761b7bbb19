"""The few ledger columns the dashboard needs, read straight from the store without parsing records.

A busy deployment writes hundreds of thousands of rows a day; reading them as whole JSON records
would take seconds per page load. The dashboard reads only indexed columns of the gateway's own rows
(``source = 'gateway'``) — time, key identity, task, cost, baseline and token counts — and adds the
money as ``Decimal`` in Python (SQLite holds it as decimal text; never summed as floats).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clawback.errors import StoreError
from clawback.ledger.record import CallRecord, format_ts
from clawback.storage.location import StoreLocation

__all__ = ["CallFacts", "facts_of", "read_facts"]

_COLUMNS = (
    "ts, api_key_id, task, total_usd, baseline_usd, input_tokens, cache_read_tokens, "
    "cache_write_5m_tokens + cache_write_1h_tokens, error_type"
)


@dataclass(frozen=True, slots=True)
class CallFacts:
    """One gateway call as the dashboard sees it."""

    ts: datetime
    key: str | None
    task: str | None
    total: Decimal | None
    baseline: Decimal | None
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    error: bool


def facts_of(records: Iterable[CallRecord]) -> Iterator[CallFacts]:
    """The facts of the gateway's records among ``records`` (pure)."""
    for rec in records:
        if rec.source != "gateway":
            continue
        t = rec.tokens()
        yield CallFacts(
            rec.ts,
            rec.api_key_id,
            rec.task,
            rec.total,
            Decimal(rec.baseline_usd) if rec.baseline_usd is not None else None,
            t.input,
            t.cache_read,
            t.cache_write,
            rec.error is not None,
        )


def _row(row: tuple[Any, ...]) -> CallFacts:
    ts, key, task, total, baseline, inp, cr, cw, err = row
    when = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
    return CallFacts(
        when.astimezone(UTC),
        None if key is None else str(key),
        None if task is None else str(task),
        None if total is None else Decimal(str(total)),
        None if baseline is None else Decimal(str(baseline)),
        int(inp or 0),
        int(cr or 0),
        int(cw or 0),
        err is not None,
    )


def read_facts(location: StoreLocation, since: datetime, *, limit: int = 500_000) -> list[CallFacts]:
    """The gateway's calls since ``since``, oldest first (empty when the ledger doesn't exist yet)."""
    sql = f"SELECT {_COLUMNS} FROM clawback_calls WHERE source = 'gateway' AND ts >= {{p}} ORDER BY ts LIMIT {int(limit)}"
    if location.kind == "postgres":
        from clawback.storage.postgres import connect_postgres

        conn = connect_postgres(location, application_name="clawback-gateway-dashboard")
        try:
            return [_row(r) for r in conn.execute(sql.format(p="%s"), (since,)).fetchall()]
        finally:
            conn.close()
    import sqlite3

    from clawback.storage.sqlite import connect_sqlite

    try:
        conn3 = connect_sqlite(location.path, create=False, busy_timeout_ms=2000)
    except StoreError:
        return []
    try:
        return [_row(r) for r in conn3.execute(sql.format(p="?"), (format_ts(since),)).fetchall()]
    except sqlite3.OperationalError:  # no calls table yet
        return []
    finally:
        conn3.close()
