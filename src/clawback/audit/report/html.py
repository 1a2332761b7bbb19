"""The audit as one self-contained HTML page: headline, charts, recommendations, tables.

:func:`render_report` takes an :class:`~clawback.audit.summary.AuditSummary` that is already
computed and returns the page as text. Charts are inline SVG (:mod:`.svg`); the CSS and one tiny
script are inline too, so the file opens offline. The script only checks the drawing: it counts
each chart's marks with a non-zero size and writes the counts to ``data-drawn`` on each chart and
``data-charts-drawn`` on ``<body>`` (the report test reads them from headless Chromium).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape

from clawback.audit.report import svg
from clawback.audit.report.usage import usage_section
from clawback.audit.results import KIND_LABELS, POLICIES, SpendRow, Technique, money
from clawback.audit.summary import AuditSummary

__all__ = ["money", "render_report"]

_KINDS = ("uncached_input", "cache_write_5m", "cache_write_1h", "cache_read", "output")

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111827;margin:0;background:#f9fafb}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px}
.sub{color:#6b7280;margin:0 0 16px}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;flex:1;min-width:180px}
.card b{display:block;font-size:24px}.card span{color:#6b7280;font-size:13px}
.lead{font-size:17px;background:#fff;border-left:4px solid #16a34a;padding:12px 16px;margin:16px 0}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:8px 16px 16px;margin:16px 0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #f3f4f6}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.chart .grid{stroke:#e5e7eb}.chart .tick,.chart .legend{font-size:11px;fill:#4b5563}
.chart .value{font-size:11px;fill:#111827}.chart .empty{fill:#9ca3af;font-size:14px}
.note{color:#6b7280;font-size:13px}.warn{color:#b45309}code{font-size:12px;background:#f3f4f6;padding:1px 4px;border-radius:4px}
"""
_SCRIPT = (
    "(function(){var n=0;document.querySelectorAll('svg.chart').forEach(function(s){var m=0;"
    "s.querySelectorAll('.mark').forEach(function(e){var b=e.getBBox();if(b.width>0||b.height>0)m++;});"
    "s.setAttribute('data-drawn',String(m));if(m>0)n++;});"
    "document.body.setAttribute('data-charts-drawn',String(n));})();"
)


_SHORT = {"route": "routing", "batch": "Batch API", "cache": "caching", "output_cap": "output caps"}


def _less(pct: float) -> str:
    """A saving in percent: whole percents, one decimal under 10%."""
    return f"{pct:.0f}%" if pct >= 10 or pct == 0 else f"{pct:.1f}%"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _when(ts: datetime, bucket: str) -> str:
    if bucket == "5 minutes":
        return ts.strftime("%H:%M")
    if bucket == "1 hour":
        return ts.strftime("%b %d %H:00")
    return ts.strftime("%b %d")


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(
        f'<th class="{"n" if i in numeric else ""}">{escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"n" if i in numeric else ""}">{cell}</td>' for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _span(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(seconds / 60, 1):.0f} minutes"


def _headline(s: AuditSummary) -> str:
    sp = s.spend
    span = _span(s.window_seconds)
    calls = f"{sp.calls:,} calls" if sp.calls else f"{sp.buckets:,} report buckets"
    unpriced_what = "calls" if sp.calls else "report buckets"
    pct = float(s.stacked_saving / sp.total * 100) if sp.total else 0.0
    monthly = s.stacked_saving * s.monthly_factor
    factor = f"×{s.monthly_factor:.2f}"
    cards = [
        (money(sp.total), f"spent on {calls} in the audited window ({span})"),
        (money(s.monthly_spend), f"a month at this rate (the window {factor} to 30 days)"),
        (money(s.stacked_total), f"in the window with every recommendation applied ({_less(pct)} less)"),
        (money(monthly), f"saved per month at this rate ({factor})"),
    ]
    if sp.unpriced_calls:
        cards.append((f"{sp.unpriced_calls:,}", f"{unpriced_what} without a price (never counted as $0)"))
    card_html = "".join(
        f'<div class="card"><b>{escape(a)}</b><span>{escape(b)}</span></div>' for a, b in cards
    )
    top = s.recommendations[0] if s.recommendations else None
    lead = (
        f"In the audited window ({escape(span)}) these calls cost <b>{escape(money(sp.total))}</b>; at this rate "
        f"that is <b>{escape(money(s.monthly_spend))} a month</b> (the window scaled {escape(factor)} to 30 days). "
        f"Applying the recommendations below, the window would have cost <b>{escape(money(s.stacked_total))}</b> — "
        f"{_less(pct)} less, about <b>{escape(money(monthly))} a month</b>."
    )
    if top is not None:
        lead += (
            f" The biggest single change: <b>{escape(top.technique.replace('_', ' '))}</b> for "
            f"<b>{escape(s.task_label(top.task))}</b> ({escape(money(top.monthly_saving))}/month)."
        )
    return f'<div class="cards">{card_html}</div><p class="lead">{lead}</p>'


def _spend_charts(s: AuditSummary) -> str:
    sp = s.spend
    labels = [_when(p.start, sp.bucket) for p in sp.series]
    models = [r.key for r in sp.by_model if r.usd > 0][:9]
    by_model = [{m: float(p.by_model.get(m, 0)) for m in models} for p in sp.series]
    kinds = [k for k in KIND_LABELS if any(p.by_kind.get(k, 0) > 0 for p in sp.series)]
    by_kind = [{KIND_LABELS[k]: float(p.by_kind.get(k, 0)) for k in kinds} for p in sp.series]
    per = f"per {sp.bucket.removeprefix('1 ')}"
    return (
        f"<section><h2>Spend over time by model ({escape(per)})</h2>"
        + svg.stacked_bars(labels, by_model, models, label="spend over time by model", fmt=money)
        + f"</section><section><h2>Spend over time by token kind ({escape(per)})</h2>"
        + svg.stacked_bars(
            labels,
            by_kind,
            [KIND_LABELS[k] for k in kinds],
            label="spend by token kind",
            fmt=money,
            colors={label: svg.PALETTE[i] for i, label in enumerate(KIND_LABELS.values())},
        )
        + "</section>"
    )


def _waterfall(s: AuditSummary) -> str:
    steps = [(_SHORT.get(t.name, t.name), float(t.stacked)) for t in s.techniques if t.stacked > 0]
    chart = svg.waterfall(
        ("today", float(s.spend.total)), steps, "stacked optimum", label="saving waterfall", fmt=money
    )
    return f"<section><h2>From today's cost to the stacked optimum</h2>{chart}</section>"


def _task_bars(s: AuditSummary) -> str:
    saved: dict[str, Decimal] = {}
    for t in s.techniques:
        for task, amount in t.by_task.items():
            saved[task] = saved.get(task, Decimal(0)) + amount
    priced = [r for r in s.spend.by_task if not r.unpriced][:12]
    rows = [(r.key, float(r.usd), float(r.usd - saved.get(r.key, Decimal(0)))) for r in priced]
    chart = svg.hbars(rows, label="cost per task today and after", fmt=money, names=("today", "after"))
    return f"<section><h2>Cost per task: today and with the recommendations</h2>{chart}</section>"


def _hit_chart(s: AuditSummary) -> str:
    sp = s.spend
    labels = [_when(p.start, sp.bucket) for p in sp.series]
    series: dict[str, list[float | None]] = {"today": [p.hit_rate for p in sp.series]}
    index = {p.start: i for i, p in enumerate(sp.series)}
    ordered = sorted(
        s.caching.hit_series.items(), key=lambda kv: POLICIES.index(kv[0]) if kv[0] in POLICIES else 99
    )
    for policy, points in ordered:
        values: list[float | None] = [None] * len(labels)
        for start, rate in points:
            if start in index:
                values[index[start]] = rate
        series[policy] = values
    chart = svg.lines(labels, series, label="cache hit rate over time", fmt=_pct)
    note = "Share of input tokens read from the prompt cache."
    if s.caching.hit_series:
        note += " Policies are the caching replay of the calls with request data."
    return f'<section><h2>Cache hit rate over time</h2>{chart}<p class="note">{note}</p></section>'


def _recommendations(s: AuditSummary) -> str:
    if not s.recommendations:
        return f"<section><h2>Recommendations</h2><p>{escape(s.no_recommendation())}</p></section>"
    rows = [
        [str(i), escape(s.task_label(r.task)), escape(r.technique.replace("_", " ")), escape(money(r.monthly_saving)),
         escape(r.effort), f"<code>{escape(r.change)}</code><br><span class='note'>{escape(r.why)}</span>"]
        for i, r in enumerate(s.recommendations[:25], 1)
    ]  # fmt: skip
    table = _table(["#", "task", "technique", "per month", "effort", "change to make"], rows, {3})
    return f"<section><h2>Recommendations, biggest saving first</h2>{table}</section>"


def _cost(row: SpendRow) -> str:
    return '<span class="warn">unpriced</span>' if row.unpriced else escape(money(row.usd))


def _technique_rows(t: Technique) -> list[str]:
    notes = [escape(a) for a in t.assumptions] + [f'<span class="warn">{escape(r)}</span>' for r in t.reasons]
    return [escape(t.title), escape(money(t.alone)), escape(money(t.stacked)), "<br>".join(notes)]


def _details(s: AuditSummary) -> str:
    sp = s.spend
    tech = _table(
        ["technique", "alone", "stacked", "assumptions / why not"],
        [_technique_rows(t) for t in s.techniques],
        {1, 2},
    )
    counts = ["calls"] * bool(sp.calls or not sp.buckets) + ["report buckets"] * bool(sp.buckets)

    def numbers(r: SpendRow) -> list[str]:
        return [f"{n:,}" for n, name in ((r.calls, "calls"), (r.buckets, "report buckets")) if name in counts]

    def kinds(r: SpendRow) -> list[str]:
        return ["—" if r.unpriced else escape(money(r.by_kind[k])) for k in _KINDS]

    width = len(counts)
    models = _table(
        ["model", *counts, "cost"] + [KIND_LABELS[k] for k in _KINDS],
        [[escape(r.key), *numbers(r), _cost(r), *kinds(r)] for r in sp.by_model],
        set(range(1, width + 2 + len(_KINDS))),
    )
    tasks = _table(
        ["task", *counts, "cost"],
        [[escape(s.task_label(r.key)), *numbers(r), _cost(r)] for r in sp.by_task],
        set(range(1, width + 2)),
    )
    parts = [f"<section><h2>What each technique saves</h2>{tech}</section>",
             f"<section><h2>By model</h2>{models}</section><section><h2>By task</h2>{tasks}</section>"]  # fmt: skip
    if sp.unpriced:
        rows = [
            [escape(u.model), escape(u.reason), f"{u.calls:,}", f"{u.input_tokens:,}", f"{u.output_tokens:,}"]
            for u in sp.unpriced
        ]
        parts.append("<section><h2>Unpriced calls (never counted as $0)</h2>"
                     + _table(["model", "why", "calls", "input tokens", "output tokens"], rows, {2, 3, 4}) + "</section>")  # fmt: skip
    if s.policies:
        parts.append(_policies(s))
    return "".join(parts)


def _policies(s: AuditSummary) -> str:
    logged = s.caching.logged
    rows = []
    if logged is not None:
        rows.append([f"<i>{escape(logged.policy)}</i>", escape(money(logged.cost)), _pct(logged.hit_rate),
                     f"{logged.calls:,}", "today: the calls as logged"])  # fmt: skip
    for name, p in s.policies.items():
        notes = "<br>".join(escape(n) for n in p.notes)
        rows.append([escape(name), escape(money(p.cost)), _pct(p.hit_rate), f"{p.calls:,}", notes])
    table = _table(["policy", "cost", "hit rate", "calls", "note"], rows, {1, 2, 3})
    about = (
        "The calls with request data replayed under each caching policy with their real timing: "
        "<b>none</b> strips every breakpoint, <b>auto</b> is top-level automatic caching, <b>planner</b> is "
        "clawback's planner (keep-alive pings included in its cost), <b>clairvoyant</b> knows every "
        "prefix's future uses. Hit rate is the share of input tokens read from the cache."
    )
    return f"<section><h2>Caching policies (replay)</h2>{table}<p class='note'>{about}</p></section>"


def _inputs(s: AuditSummary, shown: int = 20) -> str:
    listed = ", ".join(escape(f"{i.path} ({i.format}, {i.records:,} records)") for i in s.inputs[:shown])
    more = len(s.inputs) - shown
    return listed + (f" and {more:,} more" if more > 0 else "")


def _footer(s: AuditSummary) -> str:
    issues = s.issues
    lines = [f"Inputs: {_inputs(s)}."]
    if issues.get("malformed"):
        lines.append(f'<span class="warn">{issues["malformed"]:,} malformed lines were counted and skipped '
                     "(listed with line numbers in the terminal and --json output).</span>")  # fmt: skip
    lines.extend(f'<span class="warn">{escape(w)}</span>' for w in s.warnings)
    lines.extend(escape(n) for n in issues.get("notes", []))
    lines.append(
        f"Monthly figures scale the audited window ({_span(s.window_seconds)}) to 30 days (×{s.monthly_factor:.2f})."
    )
    return "<section><h2>About these figures</h2><p class='note'>" + "<br>".join(lines) + "</p></section>"


def render_report(summary: AuditSummary) -> str:
    """The whole report page as HTML text."""
    sp = summary.spend
    window = (
        f"{sp.first:%Y-%m-%d %H:%M} – {sp.last:%Y-%m-%d %H:%M} UTC" if sp.first and sp.last else "no calls"
    )
    body = "".join(
        [
            f"<h1>clawback audit</h1><p class='sub'>{escape(window)}</p>",
            _headline(summary),
            _recommendations(summary),
            _waterfall(summary),
            _spend_charts(summary),
            _task_bars(summary),
            _hit_chart(summary),
            usage_section(summary.usage),
            _details(summary),
            _footer(summary),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>clawback audit</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main><script>{_SCRIPT}</script></body></html>"
    )
