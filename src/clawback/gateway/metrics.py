"""The gateway's counters and histograms, rendered in Prometheus' text format (pure).

Counters are kept per process; :meth:`Metrics.snapshot` and :meth:`Metrics.merged` turn them into
plain JSON and back, summed, so ``/metrics`` of one worker of ``--workers N`` reports the whole
gateway (see :mod:`clawback.gateway.shared_metrics`). Money is summed as ``Decimal`` and only
turned into a float when rendered.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clawback.ledger.record import TokenCounts

__all__ = ["BudgetGauge", "Histogram", "Metrics"]

LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
)  # fmt: skip


@dataclass(slots=True)
class Histogram:
    """Cumulative buckets, a sum and a count."""

    bounds: Sequence[float] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        """Add one observation (seconds)."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def snapshot(self) -> dict[str, Any]:
        """Counts, sum and number as plain JSON."""
        return {"counts": list(self.counts), "total": self.total, "n": self.n}

    def check(self, data: Mapping[str, Any]) -> None:
        """Raise ValueError unless ``data`` is a snapshot of a histogram with these buckets."""
        if len(data["counts"]) != len(self.counts):
            raise ValueError("histogram buckets differ")

    def add(self, data: Mapping[str, Any]) -> None:
        """Add a :meth:`snapshot` (same buckets) to this histogram."""
        for i, c in enumerate(data["counts"]):
            self.counts[i] += int(c)
        self.total += float(data["total"])
        self.n += int(data["n"])

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the ``q`` quantile (None when empty)."""
        if self.n == 0:
            return None
        rank, seen = q * self.n, 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            seen += count
            if seen >= rank:
                return bound
        return float("inf")

    def lines(self, name: str, labels: str = "") -> list[str]:
        """The ``_bucket``, ``_sum`` and ``_count`` lines."""
        out: list[str] = []
        running = 0
        sep = "," if labels else ""
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else _num(bound)
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {running}')
        suffix = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{suffix} {_num(self.total)}")
        out.append(f"{name}_count{suffix} {self.n}")
        return out


@dataclass(frozen=True, slots=True)
class BudgetGauge:
    """One budget window as /metrics shows it."""

    scope: str
    period: str
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal


def _num(value: float | int | Decimal) -> str:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters of one gateway process."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.tokens: dict[str, int] = defaultdict(int)
        self.cost_usd = Decimal(0)
        self.baseline_usd = Decimal(0)
        self.upstream_latency = Histogram()
        self.added_latency = Histogram()
        self.ttft = Histogram()
        self.inflight = 0
        self.ledger_rows = 0

    def snapshot(self) -> dict[str, Any]:
        """Every counter as plain JSON (money as decimal strings)."""
        return {
            "requests": [[route, status, n] for (route, status), n in self.requests.items()],
            "errors": dict(self.errors),
            "tokens": dict(self.tokens),
            "cost_usd": str(self.cost_usd),
            "baseline_usd": str(self.baseline_usd),
            "upstream_latency": self.upstream_latency.snapshot(),
            "added_latency": self.added_latency.snapshot(),
            "ttft": self.ttft.snapshot(),
            "inflight": self.inflight,
            "ledger_rows": self.ledger_rows,
        }

    def merged(self, snapshots: Iterable[Mapping[str, Any]]) -> Metrics:
        """These counters plus those of ``snapshots`` (other processes'), as a new :class:`Metrics`;
        a snapshot that can't be read is skipped."""
        out = Metrics()
        out.add(self.snapshot())
        for snap in snapshots:
            try:
                out.add(snap)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                continue
        return out

    def add(self, snap: Mapping[str, Any]) -> None:
        """Add one :meth:`snapshot` to these counters."""
        requests = [(str(route), int(status), int(n)) for route, status, n in snap["requests"]]
        errors = {str(k): int(v) for k, v in snap["errors"].items()}
        tokens = {str(k): int(v) for k, v in snap["tokens"].items()}
        cost, baseline = Decimal(snap["cost_usd"]), Decimal(snap["baseline_usd"])
        hists = [
            (h, snap[name])
            for h, name in (
                (self.upstream_latency, "upstream_latency"),
                (self.added_latency, "added_latency"),
                (self.ttft, "ttft"),
            )
        ]
        for h, data in hists:
            h.check(data)
        for route, status, n in requests:
            self.requests[(route, status)] += n
        for k, v in errors.items():
            self.errors[k] += v
        for k, v in tokens.items():
            self.tokens[k] += v
        self.cost_usd += cost
        self.baseline_usd += baseline
        for h, data in hists:
            h.add(data)
        self.inflight += int(snap["inflight"])
        self.ledger_rows += int(snap["ledger_rows"])

    def request(self, route: str, status: int) -> None:
        """Count one answered request."""
        self.requests[(route, status)] += 1

    def error(self, kind: str) -> None:
        """Count one error by kind (``upstream_<status>``, ``refused_<type>``, ``unreachable``, …)."""
        self.errors[kind] += 1

    def usage(self, counts: Mapping[str, int], cost: Decimal | None, baseline: Decimal | None) -> None:
        """Add one call's tokens by kind and its cost."""
        for kind, n in counts.items():
            if n:
                self.tokens[kind] += n
        if cost is not None:
            self.cost_usd += cost
            self.baseline_usd += baseline if baseline is not None else cost

    def count_usage(self, counts: TokenCounts, cost: Decimal | None, baseline: Decimal | None) -> None:
        """:meth:`usage` from a call's :class:`~clawback.ledger.record.TokenCounts`."""
        tokens = self.tokens
        if counts.input:
            tokens["input"] += counts.input
        if counts.output:
            tokens["output"] += counts.output
        if counts.cache_read:
            tokens["cache_read"] += counts.cache_read
        writes = counts.cache_write_5m + counts.cache_write_1h
        if writes:
            tokens["cache_write"] += writes
        if cost is not None:
            self.cost_usd += cost
            self.baseline_usd += baseline if baseline is not None else cost

    @property
    def cache_hit_rate(self) -> float:
        """Cache reads over all prompt tokens (0 when nothing was sent)."""
        prompt = self.tokens["input"] + self.tokens["cache_read"] + self.tokens["cache_write"]
        return self.tokens["cache_read"] / prompt if prompt else 0.0

    def render(self, budgets: Iterable[BudgetGauge] = ()) -> str:
        """Everything, in the Prometheus text exposition format (version 0.0.4)."""
        p = "clawback_gateway_"
        out = [
            f"# HELP {p}requests_total Requests answered, by route and HTTP status.",
            f"# TYPE {p}requests_total counter",
        ]
        for (route, status), n in sorted(self.requests.items()):
            out.append(f'{p}requests_total{{route="{_label(route)}",status="{status}"}} {n}')
        out += [f"# HELP {p}errors_total Errors by kind.", f"# TYPE {p}errors_total counter"]
        for kind, n in sorted(self.errors.items()):
            out.append(f'{p}errors_total{{kind="{_label(kind)}"}} {n}')
        out += [f"# HELP {p}tokens_total Tokens by kind.", f"# TYPE {p}tokens_total counter"]
        for kind in ("input", "output", "cache_read", "cache_write"):
            out.append(f'{p}tokens_total{{kind="{kind}"}} {self.tokens[kind]}')
        out += [
            f"# HELP {p}cost_usd_total Exact cost of the calls served, from the price catalogue.",
            f"# TYPE {p}cost_usd_total counter",
            f"{p}cost_usd_total {_num(self.cost_usd)}",
            f"# HELP {p}baseline_usd_total What the same calls would have cost as the callers wrote them.",
            f"# TYPE {p}baseline_usd_total counter",
            f"{p}baseline_usd_total {_num(self.baseline_usd)}",
            f"# HELP {p}cache_hit_ratio Cache-read tokens over all prompt tokens.",
            f"# TYPE {p}cache_hit_ratio gauge",
            f"{p}cache_hit_ratio {_num(round(self.cache_hit_rate, 6))}",
            f"# HELP {p}inflight Requests in flight.",
            f"# TYPE {p}inflight gauge",
            f"{p}inflight {self.inflight}",
            f"# HELP {p}ledger_rows_total Ledger rows handed to the writer.",
            f"# TYPE {p}ledger_rows_total counter",
            f"{p}ledger_rows_total {self.ledger_rows}",
        ]
        for name, hist, text in (
            (
                "upstream_latency_seconds",
                self.upstream_latency,
                "Time from sending upstream to its last byte.",
            ),
            ("added_latency_seconds", self.added_latency, "Time the gateway adds on top of upstream."),
            ("ttft_seconds", self.ttft, "Time to first content event of streams."),
        ):
            out += [f"# HELP {p}{name} {text}", f"# TYPE {p}{name} histogram", *hist.lines(p + name)]
        out += [
            f"# HELP {p}budget_limit_usd Budget limit per scope and period.",
            f"# TYPE {p}budget_limit_usd gauge",
        ]
        gauges = list(budgets)
        for g in gauges:
            out.append(
                f'{p}budget_limit_usd{{scope="{_label(g.scope)}",period="{g.period}"}} {_num(g.limit_usd)}'
            )
        out += [
            f"# HELP {p}budget_spent_usd Spend in the current window.",
            f"# TYPE {p}budget_spent_usd gauge",
        ]
        for g in gauges:
            out.append(
                f'{p}budget_spent_usd{{scope="{_label(g.scope)}",period="{g.period}"}} {_num(g.spent_usd)}'
            )
        out += [
            f"# HELP {p}budget_reserved_usd Held by requests in flight.",
            f"# TYPE {p}budget_reserved_usd gauge",
        ]
        for g in gauges:
            out.append(
                f'{p}budget_reserved_usd{{scope="{_label(g.scope)}",period="{g.period}"}} {_num(g.reserved_usd)}'
            )
        return "\n".join(out) + "\n"
