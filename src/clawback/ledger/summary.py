"""Totals of ledger rows, grouped by task, model, UTC day or source, in exact Decimal arithmetic (pure).

Each group reports what was spent, the baseline (what the same calls would have cost sent as the
caller wrote them, see :mod:`clawback.ledger.baseline`) and the saving, and the three add up exactly:
``saved = baseline - spent``. A priced row without a recorded baseline counts its own cost as its
baseline (nothing is claimed for it) and is counted in ``without_baseline``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from clawback.errors import UsageError
from clawback.pricing.cost import format_usd

__all__ = ["GROUP_BY", "GroupBy", "GroupTotals", "Summary", "SummaryRow", "summarize"]

GroupBy = Literal["task", "model", "day", "source"]
GROUP_BY: tuple[GroupBy, ...] = ("task", "model", "day", "source")


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """The few facts of one call a summary needs (a store reads only these columns)."""

    ts: datetime
    task: str | None
    model: str
    total_usd: Decimal | None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    error: bool = False
    unpriced: bool = False
    source: str | None = None
    baseline_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class GroupTotals:
    """Totals of the calls sharing one key (or of every call, for the summary's overall line)."""

    key: str | None
    calls: int = 0
    total_usd: Decimal = Decimal(0)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    errors: int = 0
    unpriced_calls: int = 0
    baseline_usd: Decimal = Decimal(0)
    without_baseline: int = 0

    @property
    def saved_usd(self) -> Decimal:
        """Baseline minus spent: what clawback saved on these calls (negative when it cost more)."""
        return self.baseline_usd - self.total_usd

    def to_json(self) -> dict[str, Any]:
        """Counts as integers, money as a decimal string."""
        return {
            "key": self.key,
            "calls": self.calls,
            "total_usd": format_usd(self.total_usd),
            "baseline_usd": format_usd(self.baseline_usd),
            "saved_usd": format_usd(self.saved_usd),
            "without_baseline": self.without_baseline,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "errors": self.errors,
            "unpriced_calls": self.unpriced_calls,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """A ledger summary: overall totals and one :class:`GroupTotals` per key."""

    by: GroupBy
    overall: GroupTotals
    groups: tuple[GroupTotals, ...]
    since: datetime | None = None
    until: datetime | None = None

    @property
    def calls(self) -> int:
        """Every call counted."""
        return self.overall.calls

    @property
    def total_usd(self) -> Decimal:
        """The exact total cost of the priced calls."""
        return self.overall.total_usd

    @property
    def baseline_usd(self) -> Decimal:
        """What the same calls would have cost sent as the callers wrote them."""
        return self.overall.baseline_usd

    @property
    def saved_usd(self) -> Decimal:
        """``baseline_usd - total_usd``."""
        return self.overall.saved_usd

    def to_json(self) -> dict[str, Any]:
        """``calls``, ``total_usd`` (decimal string), overall counts and ``groups``."""
        overall = self.overall.to_json()
        del overall["key"]
        return {
            "by": self.by,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            **overall,
            "groups": [g.to_json() for g in self.groups],
        }


class _Acc:
    __slots__ = ("base", "calls", "cr", "cw", "errors", "inp", "missing", "out", "total", "unpriced")

    def __init__(self) -> None:
        self.calls = self.inp = self.out = self.cr = self.cw = self.errors = self.unpriced = self.missing = 0
        self.total = Decimal(0)
        self.base = Decimal(0)

    def add(self, row: SummaryRow) -> None:
        self.calls += 1
        if row.total_usd is not None:
            self.total += row.total_usd
        if row.baseline_usd is not None:
            self.base += row.baseline_usd
        elif row.total_usd is not None:
            self.base += row.total_usd  # nothing is claimed for a row without a baseline
            self.missing += 1
        self.inp += row.input_tokens
        self.out += row.output_tokens
        self.cr += row.cache_read_tokens
        self.cw += row.cache_write_tokens
        self.errors += row.error
        self.unpriced += row.unpriced

    def freeze(self, key: str | None) -> GroupTotals:
        return GroupTotals(
            key,
            self.calls,
            self.total,
            self.inp,
            self.out,
            self.cr,
            self.cw,
            self.errors,
            self.unpriced,
            self.base,
            self.missing,
        )


def _key(row: SummaryRow, by: GroupBy) -> str | None:
    if by == "task":
        return row.task
    if by == "model":
        return row.model
    if by == "source":
        return row.source
    return row.ts.astimezone(UTC).date().isoformat()


def summarize(
    rows: Iterable[SummaryRow],
    by: GroupBy = "task",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Summary:
    """Totals of ``rows`` grouped ``by`` task, model, UTC day or source (client, batch, eval, gateway).

    Groups by day are in date order; the others by cost (highest first), then by calls and key.
    ``since``/``until`` are only reported, not applied: the caller selects the rows.
    """
    if by not in GROUP_BY:
        raise UsageError(f"--by must be one of {', '.join(GROUP_BY)}, got {by!r}")
    overall = _Acc()
    groups: dict[str | None, _Acc] = {}
    for row in rows:
        overall.add(row)
        key = _key(row, by)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = _Acc()
        acc.add(row)
    frozen = [acc.freeze(key) for key, acc in groups.items()]
    if by == "day":
        frozen.sort(key=lambda g: g.key or "")
    else:
        frozen.sort(key=lambda g: (-g.total_usd, -g.calls, g.key is None, g.key or ""))
    return Summary(by, overall.freeze(None), tuple(frozen), since, until)
