"""The audit's results as plain values: spend, techniques, policies, recommendations (pure).

Everything here is computed already; the terminal renderer, ``--json`` and the HTML report only
read it. Money is Decimal (USD) and goes to JSON as decimal strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from clawback.pricing.cost import format_usd

__all__ = [
    "KIND_LABELS",
    "LOGGED",
    "NO_REQUEST_DATA",
    "POLICIES",
    "TOP_LEVEL",
    "BreakpointAdvice",
    "CachingReport",
    "PolicyResult",
    "Recommendation",
    "SeriesPoint",
    "Spend",
    "SpendRow",
    "Technique",
    "UnpricedRow",
    "money",
    "usd",
]

KIND_LABELS: dict[str, str] = {
    "uncached_input": "uncached input",
    "cache_write_5m": "cache writes (5 min)",
    "cache_write_1h": "cache writes (1 h)",
    "cache_read": "cache reads",
    "output": "output",
    "web_search": "web search and other",
}


NO_REQUEST_DATA = (
    "no call in the input carries request data (a request body or prefix hashes), so caching can't be "
    "replayed: the prompt prefixes and where they repeat are unknown"
)
"""Why caching can't be evaluated on calls without request data (the replay is skipped, unimported)."""
POLICIES: tuple[str, ...] = ("none", "auto", "planner", "first-sighting oracle", "oracle", "clairvoyant")
LOGGED = "as logged"
"""The name of the row that shows the replayed calls as the log has them (today's caching)."""
TOP_LEVEL = "top-level"
"""The request field of top-level automatic caching (``cache_control`` on the request itself)."""


def money(value: Decimal | float) -> str:
    """Dollars for people: whole dollars from $1,000, cents from $1, four significant digits below.

    ``12345.6`` → ``$12,346``; ``12.5`` → ``$12.50``; ``0.5`` → ``$0.50``; ``0.002454`` →
    ``$0.002454``; ``0.000015`` → ``$0.000015`` (never exponent notation).
    """
    v = float(value)
    sign, v = ("-" if v < 0 else ""), abs(v)
    if v >= 1000:
        return f"{sign}${v:,.0f}"
    if v >= 1 or v == 0:
        return f"{sign}${v:,.2f}"
    places = max(2, 3 - math.floor(math.log10(v)))
    whole, _, frac = f"{v:.{places}f}".rstrip("0").partition(".")
    return f"{sign}${whole}.{frac.ljust(2, '0')}"


def usd(amount: Decimal) -> str:
    """Dollars as a decimal string, rounded to a millionth of a cent for JSON."""
    return format_usd(amount.quantize(Decimal("0.00000001")))


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Calls (and aggregated report buckets), exact cost by token kind, and tokens for one task, model or day."""

    key: str
    calls: int
    usd: Decimal
    by_kind: dict[str, Decimal]
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    unpriced_calls: int = 0
    """Calls and buckets of the row that have no price."""
    buckets: int = 0
    """Buckets of aggregated reports (each stands for an unreported number of calls)."""

    @property
    def unpriced(self) -> bool:
        """True when none of the row's calls has a price (its cost is unknown, not $0)."""
        records = self.calls + self.buckets
        return records > 0 and self.unpriced_calls == records

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (money as decimal strings; ``usd`` is null when no call has a price)."""
        return {
            "calls": self.calls,
            "buckets": self.buckets,
            "usd": None if self.unpriced else usd(self.usd),
            "by_kind": {k: usd(v) for k, v in self.by_kind.items()},
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "unpriced_calls": self.unpriced_calls,
        }


@dataclass(frozen=True, slots=True)
class UnpricedRow:
    """Calls that could not be priced: never counted as $0, shown with their tokens and the reason."""

    model: str
    reason: str
    calls: int
    input_tokens: int
    output_tokens: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "model": self.model,
            "reason": self.reason,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One time bucket of the charts: spend by model and by token kind, and the cache hit rate."""

    start: datetime
    by_model: dict[str, Decimal]
    by_kind: dict[str, Decimal]
    hit_rate: float | None
    policy_hit_rates: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Spend:
    """Where the money went."""

    calls: int
    buckets: int
    total: Decimal
    by_kind: dict[str, Decimal]
    by_model: tuple[SpendRow, ...]
    by_task: tuple[SpendRow, ...]
    by_day: tuple[SpendRow, ...]
    unpriced: tuple[UnpricedRow, ...]
    first: datetime | None
    last: datetime | None
    bucket: str
    series: tuple[SeriesPoint, ...]
    hit_rate: float | None

    @property
    def unpriced_calls(self) -> int:
        """How many calls (or buckets) have no price."""
        return sum(row.calls for row in self.unpriced)


@dataclass(frozen=True, slots=True)
class Technique:
    """One technique: what it saves alone and stacked, its assumptions, or why it can't apply."""

    name: str
    title: str
    alone: Decimal
    stacked: Decimal
    applies: bool
    assumptions: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    by_task: dict[str, Decimal] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: savings over the audited window (decimal strings)."""
        return {
            "name": self.name,
            "title": self.title,
            "applies": self.applies,
            "saving_alone_usd": usd(self.alone),
            "saving_stacked_usd": usd(self.stacked),
            "by_task_usd": {k: usd(v) for k, v in self.by_task.items()},
            "assumptions": list(self.assumptions),
            "cannot_apply": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """The cost of the calls with request shapes under one caching policy (from the replay)."""

    policy: str
    cost: Decimal
    hit_rate: float
    calls: int
    read_tokens: int
    write_tokens: int
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "cost_usd": usd(self.cost),
            "hit_rate": round(self.hit_rate, 6),
            "calls": self.calls,
            "cache_read_tokens": self.read_tokens,
            "cache_write_tokens": self.write_tokens,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One change to make, with what it saves per month, the effort, and exactly what to change."""

    technique: str
    task: str
    monthly_saving: Decimal
    window_saving: Decimal
    effort: str
    change: str
    why: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "technique": self.technique,
            "task": self.task,
            "monthly_saving_usd": usd(self.monthly_saving),
            "window_saving_usd": usd(self.window_saving),
            "effort": self.effort,
            "change": self.change,
            "why": self.why,
        }


@dataclass(frozen=True, slots=True)
class BreakpointAdvice:
    """Where the planner puts breakpoints for a task's typical request, and why."""

    task: str
    fields: tuple[str, ...]
    ttl: str
    prefix_tokens: int
    calls: int
    keepalive: bool = False
    notes: tuple[str, ...] = ()
    current: tuple[tuple[str, str], ...] = ()
    """The breakpoints the task's requests carry today (most common set): (field, TTL) pairs."""


@dataclass(frozen=True, slots=True)
class CachingReport:
    """What the replay found: cost per policy, hit rates over time, advice per task, or why not."""

    available: bool
    shaped_calls: int = 0
    policies: dict[str, PolicyResult] = field(default_factory=dict)
    logged: PolicyResult | None = None
    """The same calls as logged: their real cost and hit rate (the row to compare policies with)."""
    reasons: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    advice: dict[str, BreakpointAdvice] = field(default_factory=dict)
    hit_series: dict[str, tuple[tuple[datetime, float], ...]] = field(default_factory=dict)
    not_cached: dict[str, str] = field(default_factory=dict)
    """Tasks the planner (almost) never cached, with the reason it gave most often."""
