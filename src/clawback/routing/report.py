"""HTML reports for routing evidence: self-contained pages with inline SVG charts (no I/O).

:func:`offline_html` renders the offline evaluation (cost-quality curves per benchmark, metrics
beside the RouteLLM paper's, the cheap model's failures shown side by side); :func:`eval_html`
renders a ``clawback eval`` run (sample size, agreement with 95% intervals, cost per 1,000 calls,
the verdict and the failures next to the incumbent's answer, with exact counts). Both take already computed
results; the caller writes the file.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from decimal import Decimal

from clawback.routing.evaluate import EvalReport
from clawback.routing.offline import OfflineResult
from clawback.routing.paper import PAPER_CAVEAT, PAPER_SOURCE, PUBLISHED_SAVING_SOURCE

__all__ = ["eval_html", "offline_html", "percent"]

_COLOURS = {
    "always-cheap": "#2a9d8f",
    "always-strong": "#e76f51",
    "random": "#8d99ae",
    "rules": "#f4a261",
    "learned": "#264653",
    "cascade": "#7b2cbf",
    "oracle": "#adb5bd",
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
line-height:1.45;padding:0 1rem}h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem;max-width:100%}td,th{border:1px solid #ddd;padding:.3rem .55rem;
vertical-align:top;text-align:left}th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{padding:.8rem 1rem;border-radius:6px;background:#eef6ee;border:1px solid #9c9}.keep{background:#fbf3e6;
border-color:#e0b96a}.note{color:#555;font-size:.9rem}pre{white-space:pre-wrap;word-break:break-word;margin:0;font-size:.85rem;
max-height:14rem;overflow:auto}svg{background:#fff;border:1px solid #ddd}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a percentage (``—`` for None)."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _page(title: str, body: Iterable[str]) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    out = ["<table><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        cells = (f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


class _Chart:
    """A small SVG line chart in data coordinates."""

    def __init__(
        self, x_range: tuple[float, float], y_range: tuple[float, float], x_label: str, y_label: str
    ) -> None:
        self.w, self.h, self.pad, self.legend_w = 960, 420, 56, 270
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.parts: list[str] = []
        self.legend: list[tuple[str, str]] = []
        self._axes(x_label, y_label)

    def x(self, v: float) -> float:
        return self.pad + (v - self.x0) / ((self.x1 - self.x0) or 1) * (self.w - 2 * self.pad - self.legend_w)

    def y(self, v: float) -> float:
        return self.h - self.pad - (v - self.y0) / ((self.y1 - self.y0) or 1) * (self.h - 2 * self.pad)

    def _axes(self, x_label: str, y_label: str) -> None:
        p = self.parts
        for i in range(6):
            xv = self.x0 + (self.x1 - self.x0) * i / 5
            yv = self.y0 + (self.y1 - self.y0) * i / 5
            p.append(
                f'<line x1="{self.x(xv):.1f}" y1="{self.pad}" x2="{self.x(xv):.1f}" y2="{self.h - self.pad}" stroke="#eee"/>'
            )
            p.append(
                f'<line x1="{self.pad}" y1="{self.y(yv):.1f}" x2="{self.x(self.x1):.1f}" y2="{self.y(yv):.1f}" stroke="#eee"/>'
            )
            p.append(
                f'<text x="{self.x(xv):.1f}" y="{self.h - self.pad + 16}" font-size="11" text-anchor="middle">{xv:.3g}</text>'
            )
            p.append(
                f'<text x="{self.pad - 6}" y="{self.y(yv) + 4:.1f}" font-size="11" text-anchor="end">{yv:.3f}</text>'
            )
        p.append(
            f'<text x="{self.w / 2}" y="{self.h - 12}" font-size="12" text-anchor="middle">{_e(x_label)}</text>'
        )
        p.append(
            f'<text x="14" y="{self.h / 2}" font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 14 {self.h / 2})">{_e(y_label)}</text>'
        )

    def line(self, pts: Sequence[tuple[float, float]], colour: str, label: str, dashed: bool = False) -> None:
        path = " ".join(f"{self.x(a):.1f},{self.y(b):.1f}" for a, b in pts)
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        self.parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        self.legend.append((colour, label))

    def band(
        self, low: Sequence[tuple[float, float]], high: Sequence[tuple[float, float]], colour: str
    ) -> None:
        pts = [*high, *reversed(low)]
        path = " ".join(f"{self.x(a):.1f},{self.y(b):.1f}" for a, b in pts)
        self.parts.append(f'<polygon points="{path}" fill="{colour}" opacity="0.18" stroke="none"/>')

    def dot(
        self, a: float, b: float, colour: str, label: str, err: tuple[float, float] | None = None
    ) -> None:
        if err is not None:
            self.parts.append(
                f'<line x1="{self.x(a):.1f}" y1="{self.y(err[0]):.1f}" x2="{self.x(a):.1f}" '
                f'y2="{self.y(err[1]):.1f}" stroke="{colour}" stroke-width="2"/>'
            )
        self.parts.append(
            f'<circle cx="{self.x(a):.1f}" cy="{self.y(b):.1f}" r="5" fill="{colour}"><title>{_e(label)}</title></circle>'
        )
        self.legend.append((colour, label))

    def svg(self) -> str:
        items = []
        for i, (colour, label) in enumerate(dict.fromkeys(self.legend)):
            yy = self.pad + 4 + i * 16
            left = self.w - self.legend_w + 10
            items.append(
                f'<rect x="{left}" y="{yy}" width="10" height="10" fill="{colour}"/>'
                f'<text x="{left + 15}" y="{yy + 9}" font-size="11">{_e(label)}</text>'
            )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
            f'viewBox="0 0 {self.w} {self.h}" role="img">{"".join(self.parts)}{"".join(items)}</svg>'
        )


def _curve_chart(r: OfflineResult) -> str:
    policies = [p for p in r.policies if p.points]
    qualities = [pt.quality for p in policies for pt in p.points]
    low, high = min(qualities), max(qualities)
    margin = (high - low) * 0.08 or 0.01
    chart = _Chart(
        (0.0, 1.0), (low - margin, high + margin), "share of calls sent to the strong model", "quality"
    )
    rnd = r.policy("random")
    if rnd is not None and rnd.band:
        chart.band(
            [(p.strong_share, b[0]) for p, b in zip(rnd.points, rnd.band, strict=True)],
            [(p.strong_share, b[1]) for p, b in zip(rnd.points, rnd.band, strict=True)],
            _COLOURS["random"],
        )
    chart.line(
        [(0.0, r.target_quality), (1.0, r.target_quality)], "#c00", "95% of strong quality", dashed=True
    )
    for p in policies:
        colour = _COLOURS.get(p.name, "#333")
        if p.is_curve:
            chart.line(
                [(pt.strong_share, pt.quality) for pt in p.points], colour, p.name, dashed=p.name == "oracle"
            )
        else:
            chart.dot(p.points[0].strong_share, p.points[0].quality, colour, p.name)
        if p.operating is not None:
            chart.dot(
                p.operating.strong_share, p.operating.quality, colour, f"{p.name} (calibrated threshold)"
            )
    return chart.svg()


def _policy_rows(r: OfflineResult) -> Iterable[Sequence[str]]:
    for p in r.policies:
        if not p.points:
            yield (_e(p.name), "—", "—", "—", "—", "—", "—", _e(p.note))
            continue
        at = p.at_target
        op = p.operating
        where = f"{percent(op.strong_share)} strong → quality {op.quality:.3f}" if op is not None else ""
        yield (
            _e(p.name),
            percent(p.cpt50) if p.is_curve else "",
            percent(p.cpt80) if p.is_curve else "",
            "" if p.apgr is None else f"{p.apgr:.3f}",
            percent(at.strong_share) if at else "not reached",
            percent(r.saving(at)) if at else "—",
            _e(where),
            _e(p.note),
        )


def _paper_rows(r: OfflineResult) -> Iterable[Sequence[str]]:
    paper = r.paper
    learned = r.policy("learned")
    if paper is None or learned is None:
        return
    rnd = r.policy("random")
    ratio = None
    if learned.cpt50 and rnd is not None and rnd.cpt50:
        ratio = rnd.cpt50 / learned.cpt50
    yield ("CPT(50%)", f"{paper.best_cpt50:.2f}% ({_e(paper.best_cpt50_router)})", percent(learned.cpt50, 2))
    yield ("CPT(80%)", f"{paper.best_cpt80:.2f}% ({_e(paper.best_cpt80_router)})", percent(learned.cpt80, 2))
    yield ("APGR", f"{paper.best_apgr:.3f}", "—" if learned.apgr is None else f"{learned.apgr:.3f}")
    yield (
        "random CPT(50%) / CPT(50%)",
        f"{paper.saving_ratio_cpt50:.2f}x",
        "—" if ratio is None else f"{ratio:.2f}x",
    )
    yield ("quality at CPT(50%)", _e(paper.quality_at_cpt50), "—")
    at = learned.at_target
    yield (
        "cost saved at 95% of GPT-4's quality, vs always-GPT-4",
        f"{percent(paper.published_saving_at_95, 0)} (authors' announcement)",
        percent(r.saving(at)) if at else "not reached",
    )


def _failure_rows(r: OfflineResult) -> Iterable[Sequence[str]]:
    for o in r.failures:
        yield (
            _e(o.id),
            f"<pre>{_e(o.prompt[:1500])}</pre>",
            f"<pre>{_e((o.cheap_answer or '(answer text not in the data)')[:1500])}</pre>",
            f"<pre>{_e((o.strong_answer or '(answer text not in the data)')[:1500])}</pre>",
            f"{o.cheap:.2f} / {o.strong:.2f}",
        )


def _offline_section(r: OfflineResult) -> Iterable[str]:
    yield f"<h2>{_e(r.benchmark)}: {_e(r.cheap_model)} (cheap) vs {_e(r.strong_model)} (strong)</h2>"
    yield (
        f'<p class="note">Source: {_e(r.source)}. {r.n_train:,} training and {r.n_held_out:,} held-out prompts'
        f"{f' ({r.dropped} contaminated prompts dropped)' if r.dropped else ''}. Held-out quality: cheap "
        f"{r.cheap_quality:.3f}, strong {r.strong_quality:.3f}; 95% of strong = {r.target_quality:.3f}. "
        f"Cost: {_e(r.cost_unit)}.</p>"
    )
    for note in r.notes:
        yield f'<p class="note"><b>Note:</b> {_e(note)}</p>'
    yield _curve_chart(r)
    yield _table(
        [
            "policy",
            "CPT(50%)",
            "CPT(80%)",
            "APGR",
            "strong share at 95%",
            "cost saved at 95%",
            "calibrated threshold",
            "note",
        ],
        _policy_rows(r),
        numeric=(1, 2, 3, 4, 5),
    )
    for name, deltas in r.beats_random.items():
        cells = ", ".join(f"{d:+.3f}" for d in deltas)
        yield f'<p class="note">{_e(name)} minus random at 10%…90% strong calls: {cells}</p>'
    rows = list(_paper_rows(r))
    if rows:
        yield f"<h3>Next to the RouteLLM paper ({_e(r.paper.table if r.paper else '')})</h3>"
        yield _table(["metric", "paper, best router", "clawback learned (held-out)"], rows)
        yield (
            f'<p class="note">{_e(PAPER_SOURCE)}; the saving at 95%: {_e(PUBLISHED_SAVING_SOURCE)}. '
            f"{_e(PAPER_CAVEAT)}</p>"
        )
    yield "<h3>Held-out prompts the cheap model got wrong and the strong one right (side by side)</h3>"
    yield _table(["id", "prompt", "cheap answer", "strong answer", "score cheap / strong"], _failure_rows(r))


def offline_html(results: Sequence[OfflineResult]) -> str:
    """The offline evaluation report for one or more benchmarks."""
    body = [
        "<h1>clawback routing: offline evaluation on real outcomes</h1>",
        '<p class="note">Every figure is measured on held-out prompts (30%, fixed by a hash of the prompt text); '
        "routers are trained and their thresholds calibrated on the other 70%. The random curve is the expected "
        "result of routing a random share, with its 95% band.</p>",
    ]
    for r in results:
        body.extend(_offline_section(r))
    return _page("clawback routing: offline evaluation", body)


def _usd(value: Decimal | None) -> str:
    return "—" if value is None else f"${value:.4f}"


def _eval_chart(report: EvalReport) -> str:
    options = [(r.model, r.quality, r.cost_per_1000) for r in report.results]
    options += [(c.label, c.quality, c.cost_per_1000) for c in report.cascades]
    priced = [(n, q, float(c)) for n, q, c in options if c is not None]
    if not priced:
        return ""
    top = max(c for _, _, c in priced) * 1.1 or 1.0
    lows = [q.low for _, q, _ in priced] + [report.bar]
    chart = _Chart(
        (0.0, top), (max(0.0, min(lows) - 0.03), 1.0), "cost per 1,000 calls (USD, as run)", "quality"
    )
    chart.line([(0.0, report.bar), (top, report.bar)], "#c00", f"bar {report.bar:.3f}", dashed=True)
    palette = ["#264653", "#e76f51", "#2a9d8f", "#7b2cbf", "#f4a261", "#8d99ae"]
    for i, (name, q, cost) in enumerate(priced):
        chart.dot(cost, q.estimate, palette[i % len(palette)], name, err=(q.low, q.high))
    return chart.svg()


def _cascade_cell(escalated: bool | None) -> str:
    if escalated is None:
        return ""
    return "escalated to the incumbent" if escalated else "<b>accepted: the wrong answer is served</b>"


def _failure_notes(report: EvalReport) -> Iterable[str]:
    """How many failures each candidate had, how many are listed, and what a cascade would catch."""
    for model, wrong in report.failure_counts().items():
        listed = [f for f in report.failures if f.model == model]
        shown = "all shown" if len(listed) == wrong else f"the first {len(listed)} shown"
        caught = ""
        if listed and listed[0].escalated is not None:
            escalated = sum(bool(f.escalated) for f in listed)
            caught = (
                f"; of those listed, the validator escalates {escalated} and lets {len(listed) - escalated} "
                "through"
            )
        yield (
            f'<p class="note">{_e(model)}: {wrong} of {report.samples} samples wrong ({shown}){_e(caught)}.</p>'
        )


def eval_html(report: EvalReport) -> str:
    """The report of one ``clawback eval`` run."""
    v = report.verdict
    plan = report.plan
    rows = [
        (
            _e(r.model + (" (incumbent)" if r.model == report.incumbent else "")),
            f"{r.quality.successes}/{r.quality.n}",
            f"{r.quality.estimate:.3f}",
            f"[{r.quality.low:.3f}, {r.quality.high:.3f}]",
            _usd(r.cost_per_1000),
            str(r.errors),
        )
        for r in report.results
    ]
    rows += [
        (
            _e(f"cascade {c.label} ({c.validator}, {percent(c.escalation_rate)} escalated)"),
            f"{c.quality.successes}/{c.quality.n}",
            f"{c.quality.estimate:.3f}",
            f"[{c.quality.low:.3f}, {c.quality.high:.3f}]",
            _usd(c.cost_per_1000),
            "",
        )
        for c in report.cascades
    ]
    with_cascade = any(f.escalated is not None for f in report.failures)
    failures = [
        (
            _e(f.sample_id),
            _e(f.model),
            f"<pre>{_e(f.question[:1200])}</pre>",
            _e(f.expected),
            f"<pre>{_e(f.answer)}</pre>",
            f"<pre>{_e(f.incumbent_answer)}</pre>",
            *([_cascade_cell(f.escalated)] if with_cascade else []),
        )
        for f in report.failures
    ]
    scoring = f"agreement with {plan.reference}" if plan.reference else "accuracy against the ground truth"
    body = [
        f"<h1>clawback eval: task {_e(plan.task)}</h1>",
        f'<div class="verdict {"keep" if v.kind == "keep" else ""}"><b>Verdict: {_e(v.kind)}</b> — {_e(v.reason)}</div>',
        f'<p class="note">{report.samples} samples{f" from {_e(plan.dataset)}" if plan.dataset else ""}; scorer '
        f"{_e(plan.scorer.name)} ({_e(scoring)}); quality target {plan.quality_target:g} → bar {report.bar:.3f} for the "
        "lower bound of the Wilson 95% interval; costs at Message Batches prices from clawback's catalogue; decided "
        f"{report.decided.isoformat()}.</p>",
        _eval_chart(report),
        _table(
            ["model", "agreed", "estimate", "95% interval", "cost / 1,000 calls", "errors"],
            rows,
            numeric=(1, 2, 4, 5),
        ),
        *(f'<p class="note">{_e(n)}</p>' for n in report.notes),
        "<h2>Where the candidates failed, next to the incumbent's answer</h2>",
        *_failure_notes(report),
        _table(
            [
                "sample",
                "model",
                "input",
                "expected",
                "candidate answer",
                "incumbent answer",
                *(["in the cascade"] if with_cascade else []),
            ],
            failures,
        ),
    ]
    return _page(f"clawback eval: {plan.task}", body)
