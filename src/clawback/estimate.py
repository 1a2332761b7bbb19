"""What-if arithmetic for a steady workload: each technique alone and stacked (pure).

Every figure comes from :func:`clawback.pricing.cost.price_usage` on per-call usage objects, so the
estimate obeys the same rules as a bill: caching needs the static prefix to reach the *serving*
model's minimum cacheable length, writes cost 1.25x (5-minute) or 2x (1-hour), reads cost the
model's own read rate, batch halves everything, and Haiku 5.5's long-prompt tier applies per call.

Stacking order is route → batch → cache → output, and caching is judged on the model the calls
end up on: the seed article's example moves to Haiku 3.5, whose 2,048-token minimum is above its
1,500-token system prompt, so the prompt is never cached and the stacked cost is $39.00 a day, not
$10.07.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from clawback.errors import UsageError
from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import Usage, format_usd, price_usage
from clawback.pricing.lifecycle import lifecycle_notes
from clawback.tokens import NEW_TOKENIZER_FACTOR

__all__ = ["CachePlan", "Estimate", "Step", "Workload", "estimate_workload"]

SECONDS_PER_DAY = 86_400
DAYS_PER_MONTH = 30


@dataclass(frozen=True, slots=True)
class Workload:
    """A steady workload and the changes to evaluate."""

    calls_per_day: int
    static_tokens: int
    dynamic_tokens: int
    output_tokens: int
    model: ModelInfo
    target_model: ModelInfo | None = None
    batch_share: Decimal = Decimal(0)
    cache_hit_rate: Decimal | None = None
    gap_seconds: float | None = None
    target_output_tokens: int | None = None
    at: date | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.calls_per_day, bool)
            or not isinstance(self.calls_per_day, int)
            or self.calls_per_day <= 0
        ):
            raise UsageError(f"calls per day must be a positive integer, got {self.calls_per_day!r}")
        for name in ("static_tokens", "dynamic_tokens", "output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UsageError(f"{name.replace('_', ' ')} must be a non-negative integer, got {value!r}")
        if self.target_output_tokens is not None and (
            not isinstance(self.target_output_tokens, int) or self.target_output_tokens < 0
        ):
            raise UsageError(
                f"target output tokens must be a non-negative integer, got {self.target_output_tokens!r}"
            )
        if not Decimal(0) <= self.batch_share <= Decimal(1):
            raise UsageError(f"batch share must be between 0 and 1, got {self.batch_share}")
        if self.cache_hit_rate is not None and not Decimal(0) <= self.cache_hit_rate <= Decimal(1):
            raise UsageError(f"cache hit rate must be between 0 and 1, got {self.cache_hit_rate}")
        if self.cache_hit_rate is not None and self.gap_seconds is not None:
            raise UsageError("give either a cache hit rate or the gap between requests, not both")
        if self.gap_seconds is not None and not 0 < self.gap_seconds < math.inf:
            raise UsageError(
                f"gap between requests must be a positive number of seconds, got {self.gap_seconds!r}"
            )


@dataclass(frozen=True, slots=True)
class CachePlan:
    """How the static prefix is cached: the TTL and the share of calls that read it."""

    ttl: str
    hit_rate: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class Step:
    """One technique: its cost alone, the stacked cost after it, and why it may not apply."""

    name: str
    title: str
    stacked: Decimal
    alone: Decimal
    applied: bool
    warnings: tuple[str, ...]

    def to_json(self, baseline: Decimal) -> dict[str, Any]:
        """Decimal strings of daily figures."""
        return {
            "name": self.name,
            "title": self.title,
            "total_usd": format_usd(self.stacked),
            "alone_usd": format_usd(self.alone),
            "alone_saving_usd": format_usd(baseline - self.alone),
            "applied": self.applied,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class Estimate:
    """Daily costs: the baseline, each step, and the stacked result."""

    workload: Workload
    baseline: Decimal
    steps: tuple[Step, ...]
    warnings: tuple[str, ...]

    @property
    def final(self) -> Decimal:
        """The stacked daily cost after every step that applies."""
        return self.steps[-1].stacked if self.steps else self.baseline

    def to_json(self) -> dict[str, Any]:
        """The documented ``--json`` shape (daily figures, decimal strings)."""
        w = self.workload
        return {
            "period": "day",
            "baseline_usd": format_usd(self.baseline),
            "final_usd": format_usd(self.final),
            "saving_usd": format_usd(self.baseline - self.final),
            "saving_pct": format_usd(
                ((self.baseline - self.final) / self.baseline * 100).quantize(Decimal("0.01"))
            )
            if self.baseline
            else "0.00",
            "monthly_baseline_usd": format_usd(self.baseline * DAYS_PER_MONTH),
            "monthly_final_usd": format_usd(self.final * DAYS_PER_MONTH),
            "model": w.model.id,
            "target_model": (w.target_model or w.model).id,
            "steps": [s.to_json(self.baseline) for s in self.steps],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class _Config:
    model: ModelInfo
    batch_share: Decimal
    cache: CachePlan | None
    output_tokens: int


def _scale(tokens: int, source: ModelInfo, target: ModelInfo) -> int:
    """The same text's tokens on ``target``'s tokenizer, given its count on ``source``'s."""
    if source.tokenizer == target.tokenizer:
        return tokens
    factor = NEW_TOKENIZER_FACTOR if target.tokenizer == "4.7+" else 1 / NEW_TOKENIZER_FACTOR
    return round(tokens * factor)


def _daily_cost(w: Workload, cfg: _Config) -> Decimal:
    static = _scale(w.static_tokens, w.model, cfg.model)
    dynamic = _scale(w.dynamic_tokens, w.model, cfg.model)
    output = _scale(cfg.output_tokens, w.model, cfg.model)

    def call_cost(*, hit: bool, batch: bool) -> Decimal:
        cached = cfg.cache is not None
        usage = Usage(
            input_tokens=dynamic + (0 if cached else static),
            output_tokens=output,
            cache_read_input_tokens=static if cached and hit else 0,
            cache_write_5m_input_tokens=static
            if cached and not hit and cfg.cache and cfg.cache.ttl == "5m"
            else 0,
            cache_write_1h_input_tokens=static
            if cached and not hit and cfg.cache and cfg.cache.ttl == "1h"
            else 0,
        )
        return price_usage(usage, cfg.model, at=w.at, batch=batch).total

    hit_rate = cfg.cache.hit_rate if cfg.cache else Decimal(0)
    per_call = Decimal(0)
    for batch, share in ((False, 1 - cfg.batch_share), (True, cfg.batch_share)):
        if share == 0:
            continue
        mixed = hit_rate * call_cost(hit=True, batch=batch) + (1 - hit_rate) * call_cost(
            hit=False, batch=batch
        )
        per_call += share * mixed
    return per_call * w.calls_per_day


def _plan_cache(w: Workload, model: ModelInfo) -> tuple[CachePlan | None, list[str]]:
    static = _scale(w.static_tokens, w.model, model)
    if static == 0:
        return None, ["there is no static prefix to cache"]
    if static < model.min_cacheable_tokens:
        return None, [
            f"the {static:,}-token static prefix is below {model.id}'s "
            f"{model.min_cacheable_tokens:,}-token minimum cacheable length: it is never cached "
            "(the API processes it without caching and returns no error)"
        ]
    if w.cache_hit_rate is not None:
        return CachePlan(
            "5m", w.cache_hit_rate, f"{w.cache_hit_rate:.0%} of calls read the cached prefix (given)"
        ), []
    gap = w.gap_seconds if w.gap_seconds is not None else SECONDS_PER_DAY / w.calls_per_day
    reads = Decimal(w.calls_per_day - 1) / Decimal(w.calls_per_day)
    if gap <= 300:
        return CachePlan("5m", reads, f"calls {gap:,.1f} s apart keep a 5-minute entry alive"), []
    if gap <= 3600:
        return CachePlan(
            "1h",
            reads,
            f"calls {gap:,.0f} s apart outlive a 5-minute entry: a 1-hour entry (2x write) is kept alive",
        ), []
    return None, [
        f"calls arrive {gap:,.0f} s apart, longer than the 1-hour TTL: every entry would expire "
        "unread, so caching would only add write costs"
    ]


def estimate_workload(w: Workload) -> Estimate:
    """Cost the workload as it is, each technique alone, and all of them stacked."""
    base_cfg = _Config(w.model, Decimal(0), None, w.output_tokens)
    baseline = _daily_cost(w, base_cfg)
    warnings = lifecycle_notes(w.model, w.at, subject="model")
    steps: list[Step] = []
    stacked_cfg = base_cfg
    stacked = baseline

    def add(
        name: str, title: str, alone_cfg: _Config | None, next_cfg: _Config | None, notes: list[str]
    ) -> None:
        nonlocal stacked_cfg, stacked
        alone = _daily_cost(w, alone_cfg) if alone_cfg is not None else baseline
        applied = False
        if next_cfg is not None:
            candidate = _daily_cost(w, next_cfg)
            if candidate <= stacked:
                stacked_cfg, stacked, applied = next_cfg, candidate, True
            else:
                notes.append(f"{title.lower()} would raise the cost here, so it is left out of the stack")
        steps.append(Step(name, title, stacked, alone, applied, tuple(notes)))

    target = w.target_model
    if target is not None and target.id != w.model.id:
        notes = lifecycle_notes(target, w.at, subject="target model")
        if target.tokenizer != w.model.tokenizer:
            direction = "more" if target.tokenizer == "4.7+" else "fewer"
            notes.append(
                f"{target.id} uses the {target.tokenizer} tokenizer and {w.model.id} the {w.model.tokenizer} one: "
                f"the same text is about 30% {direction} tokens there, and the estimate counts it so"
            )
        add(
            "route",
            f"Route to {target.id}",
            _Config(target, Decimal(0), None, w.output_tokens),
            _Config(target, stacked_cfg.batch_share, None, stacked_cfg.output_tokens),
            notes,
        )

    if w.batch_share > 0:
        add(
            "batch",
            f"Batch API for {w.batch_share:.0%} of calls",
            _Config(w.model, w.batch_share, None, w.output_tokens),
            _Config(stacked_cfg.model, w.batch_share, None, stacked_cfg.output_tokens),
            [],
        )

    alone_plan, alone_notes = _plan_cache(w, w.model)
    stack_plan, stack_notes = _plan_cache(w, stacked_cfg.model)
    notes = list(dict.fromkeys([*stack_notes, *(f"alone (on {w.model.id}): {n}" for n in alone_notes)]))
    if stack_plan is not None:
        notes.insert(0, stack_plan.reason)
        if stacked_cfg.batch_share > 0:
            notes.append(
                "inside the Batch API cache hits are best-effort (Anthropic quotes 30% to 98%); "
                "the batched share assumes the same hit rate"
            )
    add(
        "cache",
        "Prompt caching of the static prefix",
        _Config(w.model, Decimal(0), alone_plan, w.output_tokens) if alone_plan else None,
        _Config(stacked_cfg.model, stacked_cfg.batch_share, stack_plan, stacked_cfg.output_tokens)
        if stack_plan
        else None,
        notes,
    )

    if w.target_output_tokens is not None:
        if w.target_output_tokens >= w.output_tokens:
            add(
                "output",
                f"Cap output at {w.target_output_tokens:,} tokens",
                None,
                None,
                [
                    f"target of {w.target_output_tokens:,} output tokens is not below today's {w.output_tokens:,}"
                ],
            )
        else:
            add(
                "output",
                f"Shorter output: {w.output_tokens:,} → {w.target_output_tokens:,} tokens",
                _Config(w.model, Decimal(0), None, w.target_output_tokens),
                _Config(
                    stacked_cfg.model, stacked_cfg.batch_share, stacked_cfg.cache, w.target_output_tokens
                ),
                [],
            )
    return Estimate(w, baseline, tuple(steps), tuple(warnings))
