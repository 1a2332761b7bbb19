"""Recommendations: each saving turned into one change to make, ranked by dollars per month (pure).

A recommendation names the task, the request field or API to change and the effort. Its saving is
the technique's *stacked* saving for that task (so the list adds up to the stacked optimum), over
the audited window and scaled to a 30-day month.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final

from clawback.audit.evaluation import Evaluation
from clawback.audit.results import TOP_LEVEL, BreakpointAdvice, Recommendation, Technique

__all__ = ["EFFORT", "recommend"]

EFFORT: Final = {"route": "medium", "batch": "medium", "cache": "low", "output_cap": "low"}
_MIN_MONTHLY: Final = Decimal("0.01")
_MIN_SHARE: Final = Decimal("0.001")


def _route(task: str, ev: Evaluation) -> tuple[str, str]:
    moves = sorted({(m, r.target.id, r.source) for (t, m), r in ev.routes.items() if t == task})
    change = "; ".join(f'set "model": "{target}" (now "{model}")' for model, target, _ in moves)
    sources = ", ".join(sorted({src for _, _, src in moves if src})) or "the rules"
    return change, f"cleared by {sources}"


def _batch(task: str) -> tuple[str, str]:
    return (
        "send these requests through the Message Batches API (POST /v1/messages/batches, one "
        '{"custom_id", "params"} item per request) instead of POST /v1/messages',
        "the task can wait: every token kind costs 50% in a batch",
    )


def _cache(task: str, advice: BreakpointAdvice | None) -> tuple[str, str]:
    if advice is None or not advice.fields:
        return "let clawback's planner place cache_control breakpoints (clawback.Anthropic client)", "replay"
    ttl = ', "ttl": "1h"' if advice.ttl == "1h" else ""
    mark = f'"cache_control": {{"type": "ephemeral"{ttl}}}'
    planned, now = list(advice.fields), dict(advice.current)
    steps = [
        'remove the top-level "cache_control"' if f == TOP_LEVEL else f'remove "cache_control" from {f}'
        for f in now
        if f not in planned
    ]
    for verb, fields in (
        ("add", [f for f in planned if f not in now]),
        ("change to", [f for f in planned if f in now and now[f] != advice.ttl]),
    ):
        if fields:
            steps.append(f"{verb} {mark} {'to' if verb == 'add' else 'on'} {', '.join(fields)}")
    kept = [f for f in planned if now.get(f) == advice.ttl]
    if kept:
        steps.append(f"keep {mark} on {', '.join(kept)} (already there)")
    change = "; ".join(steps)
    if advice.keepalive:
        change += "; keep the entry warm with a max_tokens=0 request while calls pause"
    why = f"caches a {advice.prefix_tokens:,}-token prefix its calls share"
    if advice.notes:
        why += "; " + "; ".join(advice.notes)
    return change, why


def _cap(task: str, ev: Evaluation) -> tuple[str, str]:
    cap = ev.caps[task]
    stats = ev.stats[task]
    cut = ev.cap_cuts.get(task)
    change = f'set "max_tokens": {cap}'
    if cut is not None and cut.current is not None:
        change += f" (now {cut.current:,})"
    parts = []
    if cut is not None and cut.runaways:
        parts.append(f"{cut.runaways:,} calls ran to the limit (cut off anyway) and would stop at the cap")
    if cut is not None and cut.finished:
        share = cut.finished / stats.calls if stats.calls else 0.0
        parts.append(f"{cut.finished:,} finished answers ({share:.1%}) are longer and would be cut off")
    parts.append(f"finished answers: median {stats.p50:,}, p99 {stats.p99:,} tokens")
    return change, "; ".join(parts)


def recommend(
    techniques: Iterable[Technique], ev: Evaluation, monthly: Decimal, advice: Mapping[str, BreakpointAdvice]
) -> tuple[Recommendation, ...]:
    """One recommendation per technique and task that saves money, biggest monthly saving first.

    Changes worth less than a cent a month, or under 0.1% of the monthly spend, are left out.
    """
    spend = sum(ev.baseline.values(), Decimal(0)) * monthly
    floor = max(_MIN_MONTHLY, spend * _MIN_SHARE)
    out: list[Recommendation] = []
    for technique in techniques:
        for task, saving in technique.by_task.items():
            if saving * monthly < floor:
                continue
            if technique.name == "route":
                change, why = _route(task, ev)
            elif technique.name == "batch":
                change, why = _batch(task)
            elif technique.name == "cache":
                change, why = _cache(task, advice.get(task))
            else:
                change, why = _cap(task, ev)
            out.append(
                Recommendation(
                    technique=technique.name,
                    task=task,
                    monthly_saving=saving * monthly,
                    window_saving=saving,
                    effort=EFFORT[technique.name],
                    change=change,
                    why=why,
                )
            )
    return tuple(sorted(out, key=lambda r: (-r.monthly_saving, r.task, r.technique)))
