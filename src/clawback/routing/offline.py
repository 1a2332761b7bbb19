"""The offline evaluation: every routing policy on real per-prompt outcomes, on held-out prompts.

Split (fixed, documented in ``docs/routing.md``): a prompt is held out when the first 8 hex digits
of ``SHA-256("clawback-split-v1\\n" + prompt)``, read as an integer, modulo 100 are below 30 — about
30% of prompts, chosen by content alone, so the split never depends on file order. Routers and
validators are trained on the other 70%; their thresholds are calibrated on out-of-fold scores of
those same training prompts; every figure reported is measured on the held-out prompts only.

Policies: always-cheap, always-strong, random (the expected straight line and its 95% band),
rules (the seed article's table: reasoning or long context -> strong), learned (prompt-only
router), cascade (cheap first; a learned prompt+answer validator escalates — only where the data
holds the cheap model's answer text), and the oracle (perfect hindsight) as an upper bound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from clawback.routing.curves import CurvePoint, apgr, cascade_curve, cpt, score_curve, share_at_quality
from clawback.routing.features import request_features
from clawback.routing.learned import Calibration, calibrate_threshold
from clawback.routing.learned import train as fit
from clawback.routing.model import LinearModel
from clawback.routing.offline_data import Benchmark, Outcome
from clawback.routing.paper import PAPER_FIGURES, PaperFigures
from clawback.routing.policies import Rule, RulesTable
from clawback.routing.stats import random_routing_band

__all__ = [
    "CURVE_SHARES",
    "DECILES",
    "HELD_OUT_PERCENT",
    "SPLIT_SALT",
    "OfflineResult",
    "PolicyResult",
    "evaluate_benchmark",
    "is_held_out",
    "seed_rules",
]

SPLIT_SALT = "clawback-split-v1"
HELD_OUT_PERCENT = 30
CURVE_SHARES = tuple(i / 100 for i in range(101))
DECILES = tuple(i / 10 for i in range(1, 10))
QUALITY_TARGET = 0.95
FAILURES_SHOWN = 8
CONFIDENCE = 0.95
FOLDS = 5


def is_held_out(prompt: str) -> bool:
    """Whether ``prompt`` belongs to the held-out 30% (see the module docstring)."""
    digest = hashlib.sha256(f"{SPLIT_SALT}\n{prompt}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < HELD_OUT_PERCENT


def seed_rules(cheap: str, strong: str) -> RulesTable:
    """The seed article's hand-written table, for prompts without a task type: reasoning or a
    context of 2,000 tokens or more goes to the strong model, everything else to the cheap one."""
    return RulesTable(
        (
            Rule(strong, name="needs reasoning", needs_reasoning=True),
            Rule(strong, name="long context", min_context_tokens=2000),
        ),
        default=cheap,
    )


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy's points on the held-out prompts and its summary metrics."""

    name: str
    points: tuple[CurvePoint, ...]
    operating: CurvePoint | None = None
    note: str = ""
    band: tuple[tuple[float, float], ...] = ()
    cpt50: float | None = None
    cpt80: float | None = None
    apgr: float | None = None
    at_target: CurvePoint | None = None

    @property
    def is_curve(self) -> bool:
        """Whether this policy has a threshold to sweep (more than one point)."""
        return len(self.points) > 1


@dataclass(frozen=True, slots=True)
class OfflineResult:
    """Everything the offline evaluation found on one benchmark."""

    benchmark: str
    cheap_model: str
    strong_model: str
    source: str
    n_train: int
    n_held_out: int
    dropped: int
    cheap_quality: float
    strong_quality: float
    target_quality: float
    cost_unit: str
    policies: tuple[PolicyResult, ...]
    beats_random: dict[str, tuple[float, ...]]
    """Each swept policy's quality minus the random curve's, at 10%, 20%, ... 90% strong calls."""
    calibration: Calibration | None
    failures: tuple[Outcome, ...]
    paper: PaperFigures | None
    notes: tuple[str, ...] = field(default=())

    def policy(self, name: str) -> PolicyResult | None:
        """The named policy's result, if it was evaluated."""
        return next((p for p in self.policies if p.name == name), None)

    def saving(self, point: CurvePoint | None) -> float | None:
        """The cost saved at ``point`` against always-strong (a share: 0.4 is 40% cheaper)."""
        strong = self.policy("always-strong")
        if point is None or point.cost is None or strong is None or not strong.points[0].cost:
            return None
        return 1.0 - point.cost / strong.points[0].cost


@dataclass(frozen=True, slots=True)
class _Costs:
    cheap: list[float]
    strong: list[float]
    unit: str


def _costs(bench: Benchmark, held: Sequence[Outcome]) -> _Costs:
    if all(o.cheap_cost is not None and o.strong_cost is not None for o in held):
        return _Costs(
            [float(o.cheap_cost or 0) * 1000 for o in held],
            [float(o.strong_cost or 0) * 1000 for o in held],
            "USD per 1,000 calls (priced from each call's token counts)",
        )
    paper = PAPER_FIGURES.get(bench.name)
    ratio = paper.cheap_to_strong_price if paper is not None else 0.0
    return _Costs(
        [ratio] * len(held),
        [1.0] * len(held),
        f"cost per call relative to always-strong (cheap = {ratio:.4f}, the paper's price ratio)",
    )


def _summarise(result: PolicyResult, cheap_q: float, strong_q: float, target: float) -> PolicyResult:
    if not result.is_curve:
        hit = result.points[0] if result.points[0].quality >= target else None
        return replace(result, at_target=hit)
    return replace(
        result,
        cpt50=cpt(result.points, cheap_q, strong_q, 0.5),
        cpt80=cpt(result.points, cheap_q, strong_q, 0.8),
        apgr=apgr(result.points, cheap_q, strong_q),
        at_target=share_at_quality(result.points, target),
    )


def _labels(outcomes: Sequence[Outcome]) -> list[bool]:
    """The training target: the cheap answer is at least as good as the strong one (no loss)."""
    return [o.cheap >= o.strong for o in outcomes]


def _operating(
    scores: Sequence[float], threshold: float, held: Sequence[Outcome], costs: _Costs, *, cascade: bool
) -> CurvePoint:
    n = len(held)
    strong = [s < threshold for s in scores]
    quality = sum(o.strong if up else o.cheap for o, up in zip(held, strong, strict=True)) / n
    if cascade:
        cost = sum(c + (s if up else 0.0) for c, s, up in zip(costs.cheap, costs.strong, strong, strict=True))
    else:
        cost = sum(s if up else c for c, s, up in zip(costs.cheap, costs.strong, strong, strict=True))
    return CurvePoint(sum(strong) / n, quality, cost / n)


def _trained(
    train: Sequence[Outcome], target_ratio: float, *, answers: bool, meta: dict[str, Any]
) -> tuple[LinearModel, Calibration]:
    texts = [o.prompt for o in train]
    ans = [o.cheap_answer or "" for o in train] if answers else None
    labels = _labels(train)
    trained = fit(texts, labels, answers=ans, folds=FOLDS, meta=meta)
    calibration = calibrate_threshold(
        trained.out_of_fold,
        [o.cheap for o in train],
        [o.strong for o in train],
        target_ratio,
        confidence=CONFIDENCE,
    )
    return trained.model, calibration


def _fixed(name: str, held: Sequence[Outcome], costs: _Costs, strong: bool) -> PolicyResult:
    n = len(held)
    quality = sum(o.strong if strong else o.cheap for o in held) / n
    cost = sum(costs.strong if strong else costs.cheap) / n
    return PolicyResult(name, (CurvePoint(1.0 if strong else 0.0, quality, cost),))


def _random(held: Sequence[Outcome], costs: _Costs) -> PolicyResult:
    cheap = [o.cheap for o in held]
    strong = [o.strong for o in held]
    n = len(held)
    points, band = [], []
    for share in CURVE_SHARES:
        expected, low, high = random_routing_band(cheap, strong, share)
        k = round(share * n)
        cost = (sum(costs.cheap) * (n - k) + sum(costs.strong) * k) / n / n
        points.append(CurvePoint(k / n, expected, cost))
        band.append((low, high))
    return PolicyResult(
        "random", tuple(points), note="expected curve; band is its 95% range", band=tuple(band)
    )


def _rules(bench: Benchmark, held: Sequence[Outcome], costs: _Costs) -> PolicyResult:
    table = seed_rules(bench.cheap_model, bench.strong_model)
    up = [
        table.decide(request_features({"messages": [{"role": "user", "content": o.prompt}]})).model
        == bench.strong_model
        for o in held
    ]
    n = len(held)
    quality = sum(o.strong if u else o.cheap for o, u in zip(held, up, strict=True)) / n
    cost = sum(s if u else c for c, s, u in zip(costs.cheap, costs.strong, up, strict=True)) / n
    return PolicyResult(
        "rules",
        (CurvePoint(sum(up) / n, quality, cost),),
        note="seed article: reasoning or >=2,000 tokens -> strong",
    )


def _learned(
    train: Sequence[Outcome], held: Sequence[Outcome], costs: _Costs, bench: Benchmark
) -> tuple[PolicyResult, Calibration]:
    model, calibration = _trained(train, QUALITY_TARGET, answers=False, meta={"benchmark": bench.name})
    scores = [model.score(o.prompt) for o in held]
    cheap = [o.cheap for o in held]
    strong = [o.strong for o in held]
    points = score_curve(
        scores, cheap, strong, CURVE_SHARES, cheap_cost=costs.cheap, strong_cost=costs.strong
    )
    operating = _operating(scores, calibration.threshold, held, costs, cascade=False)
    note = f"threshold {calibration.threshold:.3f} calibrated on out-of-fold training scores"
    return PolicyResult("learned", points, operating=operating, note=note), calibration


def _cascade(
    train: Sequence[Outcome], held: Sequence[Outcome], costs: _Costs, bench: Benchmark
) -> PolicyResult:
    if not all(o.cheap_answer for o in (*train, *held)):
        return PolicyResult(
            "cascade",
            (),
            note="not evaluated: the data holds no cheap-model answer text for a validator to check",
        )
    model, calibration = _trained(train, QUALITY_TARGET, answers=True, meta={"benchmark": bench.name})
    scores = [model.score(o.prompt, o.cheap_answer or "") for o in held]
    points = cascade_curve(
        scores, [o.cheap for o in held], [o.strong for o in held], CURVE_SHARES,
        cheap_cost=costs.cheap, strong_cost=costs.strong,
    )  # fmt: skip
    operating = _operating(scores, calibration.threshold, held, costs, cascade=True)
    note = f"learned prompt+answer validator; threshold {calibration.threshold:.3f} (out-of-fold calibrated)"
    return PolicyResult("cascade", points, operating=operating, note=note)


def _oracle(held: Sequence[Outcome], costs: _Costs) -> PolicyResult:
    hindsight = [-(o.strong - o.cheap) for o in held]  # largest gain goes strong first
    points = score_curve(
        hindsight, [o.cheap for o in held], [o.strong for o in held], CURVE_SHARES,
        cheap_cost=costs.cheap, strong_cost=costs.strong,
    )  # fmt: skip
    return PolicyResult("oracle", points, note="perfect hindsight: an upper bound, not a policy")


def _beats_random(policy: PolicyResult, rnd: PolicyResult) -> tuple[float, ...]:
    by_share = {round(p.strong_share, 6): p.quality for p in rnd.points}
    out = []
    for share in DECILES:
        mine = next(p for p in policy.points if abs(p.strong_share - share) < 0.006)
        ref = min(by_share.items(), key=lambda kv: abs(kv[0] - mine.strong_share))[1]
        out.append(mine.quality - ref)
    return tuple(out)


def _failures(held: Sequence[Outcome]) -> tuple[Outcome, ...]:
    failed = [o for o in held if o.cheap < o.strong]
    failed.sort(key=lambda o: hashlib.sha256(o.id.encode()).hexdigest())
    return tuple(failed[:FAILURES_SHOWN])


def evaluate_benchmark(bench: Benchmark) -> OfflineResult:
    """Run every policy on ``bench`` and summarise on its held-out prompts."""
    train = [o for o in bench.outcomes if not is_held_out(o.prompt)]
    held = [o for o in bench.outcomes if is_held_out(o.prompt)]
    costs = _costs(bench, held)
    cheap_q = sum(o.cheap for o in held) / len(held)
    strong_q = sum(o.strong for o in held) / len(held)
    target = QUALITY_TARGET * strong_q
    rnd = _random(held, costs)
    learned, calibration = _learned(train, held, costs, bench)
    cascade = _cascade(train, held, costs, bench)
    raw = [
        _fixed("always-cheap", held, costs, strong=False),
        _fixed("always-strong", held, costs, strong=True),
        rnd,
        _rules(bench, held, costs),
        learned,
        cascade,
        _oracle(held, costs),
    ]
    policies = tuple(_summarise(p, cheap_q, strong_q, target) if p.points else p for p in raw)
    beats = {p.name: _beats_random(p, rnd) for p in policies if p.name in ("learned", "cascade") and p.points}
    notes = list(bench.notes)
    if strong_q <= cheap_q:
        notes.append(
            f"{bench.strong_model} (the dearer model) scores no better than {bench.cheap_model} here: "
            "always-cheap already meets any target relative to it; PGR-based metrics are undefined"
        )
    return OfflineResult(
        benchmark=bench.name,
        cheap_model=bench.cheap_model,
        strong_model=bench.strong_model,
        source=bench.source,
        n_train=len(train),
        n_held_out=len(held),
        dropped=bench.dropped,
        cheap_quality=cheap_q,
        strong_quality=strong_q,
        target_quality=target,
        cost_unit=costs.unit,
        policies=policies,
        beats_random=beats,
        calibration=calibration,
        failures=_failures(held),
        paper=PAPER_FIGURES.get(bench.name),
        notes=tuple(notes),
    )
