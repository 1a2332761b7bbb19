"""Savings per technique, alone and stacked, with their assumptions or why they can't apply (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from clawback.audit.evaluation import Evaluation, Key
from clawback.audit.results import Technique
from clawback.audit.rules import AuditRules

__all__ = ["ORDER", "TITLES", "build_techniques"]

ORDER: Final = ("route", "batch", "cache", "output_cap")
TITLES: Final = {
    "route": "Route cleared tasks to a cheaper model",
    "batch": "Batch API for latency-tolerant tasks",
    "cache": "Prompt caching (clawback's planner)",
    "output_cap": "Output caps (max_tokens) from real output lengths",
}


def _by_task(base: Mapping[Key, Decimal], after: Mapping[Key, Decimal]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for key, cost in after.items():
        saving = base.get(key, cost) - cost
        if saving:
            out[key[0]] = out.get(key[0], Decimal(0)) + saving
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _assumptions(name: str, ev: Evaluation) -> list[str]:
    if name == "route":
        notes = [
            "quality on the target model is taken as cleared by the rule or routing verdict; it is not checked here"
        ]
        if any(r.factor for r in ev.routes.values()):
            notes.append(
                "routes across tokenizer generations count about 30% more (or fewer) tokens for the same text"
            )
        notes.append(
            "cache reads and writes become uncached input where the cached part is below the target's minimum"
        )
        return notes
    if name == "batch":
        return [
            "every token kind at 50% of the standard price; results arrive within 24 hours",
            "prompt-cache hits inside batches are best-effort; they are assumed as in real time",
            "fast mode is dropped for batched calls (the Batch API doesn't offer it)",
        ]
    if name == "cache":
        return list(ev.caching.assumptions) or ["replayed call by call under the real cache rules"]
    return [
        "the cap is a percentile (default p99) of the task's answers that finished, rounded up",
        "calls that ran to today's max_tokens (stop_reason max_tokens) stop at the cap instead: "
        "their answers are cut off either way",
        "finished answers longer than the cap would be cut off too (about 1% at p99): check the task tolerates it",
        "not capped: tasks whose finished answers come within half of today's limit (it already cuts real answers)",
    ]


def _reasons(name: str, ev: Evaluation, rules: AuditRules) -> list[str]:
    reasons: list[str] = []
    aggregated = all(p.aggregated == p.calls for p in ev.pairs) and bool(ev.pairs)
    if name == "route":
        if not any(rules.for_task(p.task).route_to for p in ev.pairs):
            reasons.append(
                "no task is cleared for a cheaper model: add route_to for a task in a rules file "
                "(--rules) or pass the routing evaluation's config (--routing-config)"
            )
        reasons.extend(
            f"{t} on {m}: the cleared model would cost more, so it is left out"
            for t, m in ev.dropped.get("route", ())
        )
    elif name == "batch":
        if not ev.batch_pairs and not any(p.tolerant for p in ev.pairs):
            reasons.append(
                "no task is labelled or ruled latency-tolerant: set latency_tolerant = true for tasks "
                "that can wait up to 24 h (rules file) or label the calls"
            )
    elif name == "cache":
        reasons.extend(ev.caching.reasons)
        for task, model in ev.dropped.get("cache", ()):
            why = ev.caching.not_cached.get(task)
            text = f"nothing to cache — {why}" if why else "the planner would not beat today's caching"
            reasons.append(f"{task} on {model}: {text}")
    else:
        if aggregated:
            reasons.append("aggregated report: no per-call output lengths, so no cap can be derived")
            return reasons
        binding = [
            f"{task}: {s.at_limit:,} of {s.calls:,} calls stop at max_tokens while finished answers reach "
            f"{s.p99:,} tokens (p99): the limit cuts real answers, so no lower cap is suggested"
            for task, s in sorted(ev.stats.items())
            if s.binding
        ]
        if not ev.caps and not binding:
            reasons.append("no task has outputs above its cap percentile by a margin worth capping")
        reasons.extend(binding)
    return reasons


def build_techniques(ev: Evaluation, rules: AuditRules) -> tuple[tuple[Technique, ...], Decimal]:
    """Each technique's saving alone and stacked (USD, audited window) and the stacked saving in all."""
    base = ev.baseline
    techniques = []
    previous: Mapping[Key, Decimal] = base
    total = Decimal(0)
    for name in ORDER:
        alone = ev.alone.get(name, {})
        after = ev.stacked.get(name, previous)
        stacked_saving = sum((previous.get(k, v) - v for k, v in after.items()), Decimal(0))
        alone_saving = sum((base.get(k, v) - v for k, v in alone.items()), Decimal(0))
        total += stacked_saving
        techniques.append(
            Technique(
                name=name,
                title=TITLES[name],
                alone=alone_saving,
                stacked=stacked_saving,
                applies=alone_saving > 0 or stacked_saving > 0,
                assumptions=tuple(_assumptions(name, ev)),
                reasons=tuple(_reasons(name, ev, rules)),
                by_task=_by_task(previous, after),
            )
        )
        previous = after
    return tuple(techniques), total
