"""Terminal tables for ``clawback eval``: one evaluation run, and the offline evaluation."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from clawback.cli._common import console, plain, printable

__all__ = ["print_offline", "print_report"]


def print_report(report: Any) -> None:
    """The models, cascades and verdict of one ``clawback eval`` run."""
    from clawback.routing.report import percent

    out = console()
    table = Table(
        title=f"task {plain(report.plan.task)}: {report.samples} samples, scorer {plain(report.plan.scorer.name)}"
    )
    for column in ("model", "agreed", "estimate", "95% interval", "cost / 1,000 calls (as run)", "errors"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in report.results:
        cost = "—" if r.cost_per_1000 is None else f"${r.cost_per_1000:.4f}"
        name = plain(r.model) + (" (incumbent)" if r.model == report.incumbent else "")
        q = r.quality
        table.add_row(
            name,
            f"{q.successes}/{q.n}",
            f"{q.estimate:.3f}",
            f"[{q.low:.3f}, {q.high:.3f}]",
            cost,
            str(r.errors),
        )
    for c in report.cascades:
        cost = "—" if c.cost_per_1000 is None else f"${c.cost_per_1000:.4f}"
        q = c.quality
        name = plain(f"cascade {c.label} ({c.validator}, {percent(c.escalation_rate)} escalated)")
        table.add_row(
            name, f"{q.successes}/{q.n}", f"{q.estimate:.3f}", f"[{q.low:.3f}, {q.high:.3f}]", cost, ""
        )
    out.print(table)
    for note in report.notes:
        out.print(f"note: {printable(note)}", markup=False, soft_wrap=True)
    v = report.verdict
    out.print(f"bar for the lower bound: {report.bar:.3f} ({report.plan.quality_target:g} target)")
    out.print(f"[bold]verdict: {plain(v.kind)}[/bold] — {plain(v.reason)}", soft_wrap=True)


def print_offline(r: Any) -> None:
    """One benchmark's policies, metrics and the paper's figures."""
    from clawback.routing.report import percent

    out = console()
    title = (
        f"{r.benchmark}: {r.cheap_model} vs {r.strong_model} — {r.n_held_out:,} held-out prompts "
        f"(cheap {r.cheap_quality:.3f}, strong {r.strong_quality:.3f}, 95% = {r.target_quality:.3f})"
    )
    table = Table(title=title, title_justify="left")
    for column in (
        "policy",
        "strong share",
        "quality",
        "CPT(50%)",
        "CPT(80%)",
        "APGR",
        "share at 95%",
        "saved at 95%",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    skipped: list[str] = []
    for p in r.policies:
        if not p.points:
            table.add_row(p.name, "—", "—", "—", "—", "—", "—", "—")
            skipped.append(f"{p.name}: {p.note}")
            continue
        shown = p.operating or (p.points[0] if not p.is_curve else None)
        at = p.at_target
        table.add_row(
            p.name + (" (calibrated)" if p.operating else ""),
            percent(shown.strong_share) if shown else "curve",
            f"{shown.quality:.3f}" if shown else "",
            percent(p.cpt50) if p.is_curve else "",
            percent(p.cpt80) if p.is_curve else "",
            "" if p.apgr is None else f"{p.apgr:.3f}",
            percent(at.strong_share) if at else "not reached",
            percent(r.saving(at)) if at else "",
        )
    out.print(table)
    for line in skipped:
        out.print(line, markup=False, soft_wrap=True)
    out.print(f"cost: {r.cost_unit}", markup=False, soft_wrap=True)
    for name, deltas in r.beats_random.items():
        verdict = (
            "beats random at every decile"
            if all(d > 0 for d in deltas)
            else "does NOT beat random everywhere"
        )
        out.print(
            f"{name} {verdict}: " + ", ".join(f"{d:+.3f}" for d in deltas), markup=False, soft_wrap=True
        )
    if r.paper is not None:
        p = r.paper
        out.print(
            f"RouteLLM paper ({p.table}), best routers: CPT(50%) {p.best_cpt50:.2f}%, CPT(80%) {p.best_cpt80:.2f}%, "
            f"APGR {p.best_apgr:.3f}; saving ratio vs random {p.saving_ratio_cpt50:.2f}x at CPT(50%) "
            f"({p.quality_at_cpt50}); the authors' announced saving at 95% of GPT-4's quality: "
            f"{percent(p.published_saving_at_95, 0)} (router and cost formula not stated; table figures not "
            "re-checked against the paper in review)",
            markup=False,
            soft_wrap=True,
        )
    for note in r.notes:
        out.print(f"note: {note}", markup=False, soft_wrap=True)
