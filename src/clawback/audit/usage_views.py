"""The usage views Claude Code users know (daily, weekly, monthly, per session, 5-hour blocks), from the priced calls.

Every view reads the audit's ``priced`` table (:mod:`clawback.audit.store`), so its costs are the
audit's own — same catalogue, same dated rates, same deduplication of streamed and relayed calls —
and unpriced calls are counted apart, never as $0. Periods are calendar days, ISO weeks (starting
Monday, named by that Monday) and months in ``timezone`` (an IANA name; UTC by default). A session
is a Claude Code session (the workspace of other logs), named with its project folder when the
input sits in Claude Code's ``projects/<project>/`` layout.

**Blocks** follow Claude's 5-hour usage windows as ccusage counts them: a block starts at its first
call's hour (UTC) and lasts five hours; the next call at or after its end, or five hours or more
after the previous call, starts a new block. A block is *active* while ``now`` is inside it and
the last call was less than five hours ago; for it the burn rate (cost per hour and tokens per
minute between its first and last call) and the projection to the block's end are given.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clawback.audit.duckdb_engine import duckdb
from clawback.audit.queries import TOTAL_SQL, micro_to_usd
from clawback.audit.results import usd
from clawback.errors import UsageError

__all__ = ["BLOCK", "VIEWS", "Block", "UsageRow", "UsageView", "project_of", "usage_view", "usage_views"]

VIEWS: Final = ("daily", "weekly", "monthly", "session", "blocks")
BLOCK: Final = timedelta(hours=5)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Calls, tokens by kind and cost of one period, session or block (or of one model in it)."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost: Decimal
    unpriced_calls: int = 0
    models: tuple[str, ...] = ()
    first: datetime | None = None
    last: datetime | None = None
    label: str = ""
    """What else names the row (a session's project)."""
    breakdown: tuple[UsageRow, ...] = ()
    """The same figures per model (``--breakdown``), costliest first."""

    @property
    def total_tokens(self) -> int:
        """Every token: input, output, cache writes and reads."""
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens

    @property
    def hit_rate(self) -> float | None:
        """Cache reads over all input tokens (None without input)."""
        prompt = self.input_tokens + self.cache_write_tokens + self.cache_read_tokens
        return self.cache_read_tokens / prompt if prompt else None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (money as a decimal string)."""
        out: dict[str, Any] = {
            "key": self.key,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": usd(self.cost),
            "unpriced_calls": self.unpriced_calls,
            "cache_hit_rate": None if self.hit_rate is None else round(self.hit_rate, 6),
            "models": list(self.models),
        }
        if self.label:
            out["label"] = self.label
        if self.first is not None and self.last is not None:
            out["first"], out["last"] = self.first.isoformat(), self.last.isoformat()
        if self.breakdown:
            out["breakdown"] = [row.to_json() for row in self.breakdown]
        return out


@dataclass(frozen=True, slots=True)
class Block:
    """One 5-hour usage block; the active one carries its burn rate and projection."""

    row: UsageRow
    start: datetime
    end: datetime
    active: bool = False
    cost_per_hour: Decimal | None = None
    tokens_per_minute: float | None = None
    projected_cost: Decimal | None = None
    projected_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: the row's figures, the block's bounds, and the burn rate when active."""
        out = self.row.to_json()
        out.update(start=self.start.isoformat(), end=self.end.isoformat(), active=self.active)
        if self.active:
            out["burn_rate"] = {
                "cost_per_hour_usd": None if self.cost_per_hour is None else usd(self.cost_per_hour),
                "tokens_per_minute": None
                if self.tokens_per_minute is None
                else round(self.tokens_per_minute, 3),
            }
            out["projection"] = {
                "cost_usd": None if self.projected_cost is None else usd(self.projected_cost),
                "total_tokens": self.projected_tokens,
            }
        return out


@dataclass(frozen=True, slots=True)
class UsageView:
    """One view: its rows in time order (sessions: costliest first) and the totals."""

    view: str
    timezone: str
    rows: tuple[UsageRow, ...]
    totals: UsageRow
    blocks: tuple[Block, ...] = ()
    now: datetime | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document of the view."""
        out: dict[str, Any] = {"view": self.view, "timezone": self.timezone}
        if self.view == "blocks":
            out["now"] = self.now.isoformat() if self.now else None
            out["blocks"] = [b.to_json() for b in self.blocks]
        else:
            out["rows"] = [row.to_json() for row in self.rows]
        out["totals"] = self.totals.to_json()
        out["notes"] = list(self.notes)
        return out


def project_of(path: str) -> str:
    """The Claude Code project of a transcript path (the folder under ``projects/``), else its folder's name."""
    parts = PurePath(path).parts
    if "projects" in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index("projects")
        if at + 1 < len(parts) - 1:
            return parts[at + 1]
    return PurePath(path).parent.name


_SUMS: Final = f"""count(*) FILTER (WHERE NOT agg), sum(inp), sum(outp), sum(w5 + w1), sum(rd),
    sum({TOTAL_SQL}) FILTER (WHERE unpriced IS NULL), count(*) FILTER (WHERE unpriced IS NOT NULL)"""


def _row(key: str, values: Sequence[Any], model: str | None = None) -> UsageRow:
    calls, inp, out, write, read, cost, unpriced = values
    return UsageRow(
        key=key,
        calls=int(calls or 0),
        input_tokens=int(inp or 0),
        output_tokens=int(out or 0),
        cache_write_tokens=int(write or 0),
        cache_read_tokens=int(read or 0),
        cost=micro_to_usd(cost),
        unpriced_calls=int(unpriced or 0),
        models=(model,) if model else (),
    )


def _add(rows: Iterable[UsageRow], key: str) -> UsageRow:
    rows = list(rows)
    firsts = [r.first for r in rows if r.first is not None]
    lasts = [r.last for r in rows if r.last is not None]
    return UsageRow(
        key=key,
        calls=sum(r.calls for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        cache_write_tokens=sum(r.cache_write_tokens for r in rows),
        cache_read_tokens=sum(r.cache_read_tokens for r in rows),
        cost=sum((r.cost for r in rows), Decimal(0)),
        unpriced_calls=sum(r.unpriced_calls for r in rows),
        models=tuple(sorted({m for r in rows for m in r.models})),
        first=min(firsts) if firsts else None,
        last=max(lasts) if lasts else None,
    )


def _zone(timezone: str) -> tzinfo:
    """The time zone named ``timezone`` (an IANA name); a one-line error otherwise."""
    if timezone == "UTC":
        return UTC
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone: unknown time zone {timezone!r} (an IANA name such as Europe/Berlin)"
        ) from None


def _utc(ts: datetime | None) -> datetime | None:
    return None if ts is None else ts.replace(tzinfo=UTC)


def _by_cost(rows: Iterable[UsageRow]) -> tuple[UsageRow, ...]:
    return tuple(sorted(rows, key=lambda r: (-r.cost, r.key)))


_Bucket = tuple[datetime, str, UsageRow]
"""A quarter of an hour's calls on one model (time zones are all whole quarters of an hour off UTC)."""


def _buckets(con: duckdb.DuckDBPyConnection) -> list[_Bucket]:
    """The calls per quarter of an hour and model, in time order, with their first and last call."""
    out = []
    for start, model, *rest in con.execute(
        f"""
        SELECT time_bucket(INTERVAL '15 minutes', ts), coalesce(model_id, model), {_SUMS}, min(ts), max(ts)
        FROM priced GROUP BY ALL ORDER BY 1, 2
        """
    ).fetchall():
        row = replace(_row(str(model), rest[:7], str(model)), first=_utc(rest[7]), last=_utc(rest[8]))
        out.append((start.replace(tzinfo=UTC), str(model), row))
    return out


def _period(view: str, start: datetime, zone: tzinfo) -> str:
    local = start.astimezone(zone)
    if view == "daily":
        return f"{local:%Y-%m-%d}"
    if view == "weekly":
        return f"{local.date() - timedelta(days=local.weekday()):%Y-%m-%d}"
    return f"{local:%Y-%m}"


def _rows(grouped: dict[str, dict[str, list[UsageRow]]]) -> list[UsageRow]:
    """One row per key, with its per-model breakdown, from rows grouped by key and model."""
    out = []
    for key, per_model in grouped.items():
        models = [replace(_add(rows, model), key=model) for model, rows in per_model.items()]
        out.append(replace(_add(models, key), breakdown=_by_cost(models)))
    return out


def _periods(view: str, buckets: Sequence[_Bucket], zone: tzinfo) -> list[UsageRow]:
    grouped: dict[str, dict[str, list[UsageRow]]] = {}
    for start, model, row in buckets:
        grouped.setdefault(_period(view, start, zone), {}).setdefault(model, []).append(row)
    return sorted(_rows(grouped), key=lambda r: r.key)


def _sessions(con: duckdb.DuckDBPyConnection, sources: Sequence[str]) -> list[UsageRow]:
    grouped: dict[str, dict[str, list[UsageRow]]] = {}
    first_src: dict[str, int] = {}
    for key, model, *rest in con.execute(
        f"SELECT workspace, coalesce(model_id, model), {_SUMS}, min(ts), max(ts), min(src) FROM priced GROUP BY ALL"
    ).fetchall():
        row = replace(_row(str(model), rest[:7], str(model)), first=_utc(rest[7]), last=_utc(rest[8]))
        grouped.setdefault(str(key), {}).setdefault(str(model), []).append(row)
        first_src[str(key)] = min(first_src.get(str(key), int(rest[9])), int(rest[9]))
    rows = []
    for row in _rows(grouped):
        src = first_src[row.key]
        rows.append(replace(row, label=project_of(sources[src])) if src < len(sources) else row)
    return sorted(rows, key=lambda r: (-r.cost, r.key))


def usage_views(
    con: duckdb.DuckDBPyConnection,
    views: Sequence[str] = VIEWS,
    *,
    timezone: str = "UTC",
    sources: Sequence[str] = (),
    now: datetime | None = None,
) -> dict[str, UsageView]:
    """The ``views`` (of :data:`VIEWS`) of the priced calls; ``sources`` name the inputs (for projects).

    Days, weeks, months and blocks come from one aggregation per quarter of an hour and model.
    """
    for view in views:
        if view not in VIEWS:
            raise UsageError(f"unknown view {view!r}; expected one of: {', '.join(VIEWS)}")
    zone = _zone(timezone)
    buckets = _buckets(con) if set(views) - {"session"} else []
    out = {}
    for view in views:
        if view == "blocks":
            out[view] = _blocks(buckets, timezone, now or datetime.now(UTC))
            continue
        rows = _sessions(con, sources) if view == "session" else _periods(view, buckets, zone)
        notes = (_SESSION_NOTE,) if view == "session" else ()
        out[view] = UsageView(view, timezone, tuple(rows), _add(rows, "total"), notes=notes)
    return out


def usage_view(
    con: duckdb.DuckDBPyConnection,
    view: str,
    *,
    timezone: str = "UTC",
    sources: Sequence[str] = (),
    now: datetime | None = None,
) -> UsageView:
    """One view (see :func:`usage_views`)."""
    return usage_views(con, (view,), timezone=timezone, sources=sources, now=now)[view]


_SESSION_NOTE: Final = "a session is a Claude Code session id (the workspace or API key id of other logs)"


def _blocks(buckets: Sequence[_Bucket], timezone: str, now: datetime) -> UsageView:
    """Blocks from the quarter-hour buckets: a block's end falls on a whole hour, so no bucket straddles
    it, and the last call of one bucket and the first of the next show any five-hour gap."""
    groups: list[tuple[datetime, dict[str, list[UsageRow]]]] = []
    block_end: datetime | None = None
    last: datetime | None = None
    for _start, same in itertools.groupby(buckets, key=lambda b: b[0]):
        rows = list(same)
        first = min(r.first for _, _, r in rows if r.first is not None)
        if block_end is None or first >= block_end or (last is not None and first - last >= BLOCK):
            begin = first.replace(minute=0, second=0, microsecond=0)
            groups.append((begin, {}))
            block_end = begin + BLOCK
        for _, model, row in rows:
            groups[-1][1].setdefault(model, []).append(row)
        latest = max(r.last for _, _, r in rows if r.last is not None)
        last = latest if last is None else max(last, latest)
    blocks = []
    for begin, per_model in groups:
        models = [replace(_add(rows, model), key=model) for model, rows in per_model.items()]
        first = min(r.first for r in models if r.first is not None)
        latest = max(r.last for r in models if r.last is not None)
        blocks.append(_block(begin, models, first, latest, now))
    totals = _add((b.row for b in blocks), "total")
    return UsageView("blocks", timezone, tuple(b.row for b in blocks), totals, tuple(blocks), now)


def _block(start: datetime, models: list[UsageRow], first: datetime, last: datetime, now: datetime) -> Block:
    row = replace(_add(models, start.isoformat()), first=first, last=last, breakdown=_by_cost(models))
    end = start + BLOCK
    active = start <= now < end and now - last < BLOCK
    if not active:
        return Block(row, start, end)
    minutes = Decimal(str((last - first).total_seconds())) / 60
    if minutes <= 0:
        return Block(row, start, end, active=True)
    per_minute = row.cost / minutes
    tokens_per_minute = float(row.total_tokens) / float(minutes)
    remaining = Decimal(str(max((end - now).total_seconds(), 0.0))) / 60
    return Block(
        row,
        start,
        end,
        active=True,
        cost_per_hour=per_minute * 60,
        tokens_per_minute=tokens_per_minute,
        projected_cost=row.cost + per_minute * remaining,
        projected_tokens=int(row.total_tokens + tokens_per_minute * float(remaining)),
    )
