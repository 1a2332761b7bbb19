"""The dashboard at ``/``: spend, saving, cache hit rate and requests over time, top keys and
tasks, budgets — one self-contained HTML page with inline SVG, no script, no network (pure).

:func:`summarize` folds the gateway's calls (:class:`~clawback.gateway.ledger_view.CallFacts`)
into a :class:`DashboardData`; :func:`render` turns that into HTML.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import escape

from clawback.gateway.ledger_view import CallFacts
from clawback.gateway.metrics import BudgetGauge

__all__ = ["DashboardData", "render", "summarize"]

ZERO = Decimal(0)


@dataclass(slots=True)
class DashboardData:
    """What the page shows, computed from the ledger."""

    hours: int
    now: datetime
    calls: int = 0
    errors: int = 0
    spend: Decimal = ZERO
    baseline: Decimal = ZERO
    prompt_tokens: int = 0
    cache_read_tokens: int = 0
    labels: list[str] = field(default_factory=list)
    spend_by_hour: list[float] = field(default_factory=list)
    saving_by_hour: list[float] = field(default_factory=list)
    calls_by_hour: list[float] = field(default_factory=list)
    hit_by_hour: list[float | None] = field(default_factory=list)
    top_keys: list[tuple[str, int, Decimal]] = field(default_factory=list)
    top_tasks: list[tuple[str, int, Decimal]] = field(default_factory=list)
    budgets: list[BudgetGauge] = field(default_factory=list)

    @property
    def saving(self) -> Decimal:
        """What the callers' own requests would have cost, less what they did."""
        return max(ZERO, self.baseline - self.spend)

    @property
    def cache_hit_rate(self) -> float:
        """Cache-read tokens over all prompt tokens."""
        return self.cache_read_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


def summarize(
    calls: Iterable[CallFacts],
    now: datetime,
    *,
    hours: int = 24,
    budgets: Sequence[BudgetGauge] = (),
    top: int = 8,
) -> DashboardData:
    """The dashboard of the ``hours`` before ``now``, hour by hour."""
    now = now.astimezone(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    data = DashboardData(hours, now, budgets=list(budgets))
    spend = [ZERO] * hours
    saving = [ZERO] * hours
    calls_by = [0] * hours
    prompt = [0] * hours
    reads = [0] * hours
    keys: dict[str, list[object]] = defaultdict(lambda: [0, ZERO])
    tasks: dict[str, list[object]] = defaultdict(lambda: [0, ZERO])
    for call in calls:
        if not start <= call.ts < end:
            continue
        i = int((call.ts - start).total_seconds() // 3600)
        cost = call.total or ZERO
        base = call.baseline if call.baseline is not None else cost
        data.calls += 1
        data.errors += call.error
        data.spend += cost
        data.baseline += base
        p = call.input_tokens + call.cache_read_tokens + call.cache_write_tokens
        data.prompt_tokens += p
        data.cache_read_tokens += call.cache_read_tokens
        spend[i] += cost
        saving[i] += max(ZERO, base - cost)
        calls_by[i] += 1
        prompt[i] += p
        reads[i] += call.cache_read_tokens
        for table, name in ((keys, call.key or "(no key)"), (tasks, call.task or "(no task)")):
            row = table[name]
            row[0] = int(row[0]) + 1  # type: ignore[call-overload]
            row[1] = row[1] + cost  # type: ignore[operator]
    data.labels = [(start + timedelta(hours=i)).strftime("%H:00") for i in range(hours)]
    data.spend_by_hour = [float(v) for v in spend]
    data.saving_by_hour = [float(v) for v in saving]
    data.calls_by_hour = [float(v) for v in calls_by]
    data.hit_by_hour = [reads[i] / prompt[i] if prompt[i] else None for i in range(hours)]
    data.top_keys = _top(keys, top)
    data.top_tasks = _top(tasks, top)
    return data


def _top(table: dict[str, list[object]], n: int) -> list[tuple[str, int, Decimal]]:
    rows = [(name, int(v[0]), v[1]) for name, v in table.items()]  # type: ignore[call-overload]
    rows.sort(key=lambda r: (-r[2], -r[1], r[0]))  # type: ignore[operator]
    return rows[:n]  # type: ignore[return-value]


def _usd(value: float | Decimal) -> str:
    v = float(value)
    return f"${v:,.2f}" if abs(v) >= 1 or v == 0 else f"${v:.4f}"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
.sub{color:#475569;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px}
.card b{display:block;font-size:20px} .card span{color:#475569;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e2e8f0}
td,th{padding:6px 10px;border-bottom:1px solid #e2e8f0;text-align:left} td.n,th.n{text-align:right}
svg.chart{background:#fff;border:1px solid #e2e8f0;border-radius:8px}
svg .tick,svg .legend,svg .value{font-size:11px;fill:#475569}
svg .grid{stroke:#e2e8f0}
"""


def render(data: DashboardData) -> str:
    """The page."""
    from clawback.audit.report import svg  # the report's chart functions: pure, inline SVG

    cards = [
        ("spend", _usd(data.spend)),
        ("saving", _usd(data.saving)),
        ("cache hit rate", f"{data.cache_hit_rate:.1%}"),
        ("requests", f"{data.calls:,}"),
        ("errors", f"{data.errors:,}"),
    ]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>clawback gateway</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>clawback gateway</h1>",
        f"<p class='sub'>Last {data.hours} hours to {escape(data.now.strftime('%Y-%m-%d %H:%M UTC'))}, "
        "from the ledger (this deployment's gateway rows).</p>",
        "<div class='cards'>",
        *(f"<div class='card'><b>{escape(v)}</b><span>{escape(k)}</span></div>" for k, v in cards),
        "</div>",
        "<h2>Spend and saving per hour</h2>",
        svg.stacked_bars(
            data.labels,
            [{"spend": s, "saving": v} for s, v in zip(data.spend_by_hour, data.saving_by_hour, strict=True)],
            ["spend", "saving"],
            label="spend and saving per hour",
            fmt=_usd,
        ),
        "<h2>Requests per hour</h2>",
        svg.stacked_bars(
            data.labels,
            [{"requests": c} for c in data.calls_by_hour],
            ["requests"],
            label="requests per hour",
            fmt=lambda v: f"{v:,.0f}",
        ),
        "<h2>Cache hit rate per hour</h2>",
        svg.lines(
            data.labels,
            {"cache hit rate": data.hit_by_hour},
            label="cache hit rate per hour",
            fmt=lambda v: f"{v:.0%}",
        ),
        _table("Top keys", "key", data.top_keys),
        _table("Top tasks", "task", data.top_tasks),
        _budgets(data.budgets),
        "</main></body></html>",
    ]
    return "".join(parts)


def _table(title: str, what: str, rows: Sequence[tuple[str, int, Decimal]]) -> str:
    body = (
        "".join(
            f"<tr><td>{escape(name)}</td><td class='n'>{calls:,}</td><td class='n'>{escape(_usd(cost))}</td></tr>"
            for name, calls, cost in rows
        )
        or "<tr><td colspan='3'>no calls yet</td></tr>"
    )
    return (
        f"<h2>{escape(title)}</h2><table><tr><th>{what}</th><th class='n'>requests</th>"
        f"<th class='n'>spend</th></tr>{body}</table>"
    )


def _budgets(gauges: Sequence[BudgetGauge]) -> str:
    if not gauges:
        return ""
    rows = "".join(
        f"<tr><td>{escape(g.scope)}</td><td>{escape(g.period)}</td><td class='n'>{escape(_usd(g.spent_usd))}</td>"
        f"<td class='n'>{escape(_usd(g.reserved_usd))}</td><td class='n'>{escape(_usd(g.limit_usd))}</td></tr>"
        for g in gauges
    )
    return (
        "<h2>Budgets (current windows)</h2><table><tr><th>scope</th><th>period</th><th class='n'>spent</th>"
        f"<th class='n'>in flight</th><th class='n'>limit</th></tr>{rows}</table>"
    )
