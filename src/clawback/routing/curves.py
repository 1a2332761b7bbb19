"""Cost-quality curves of routing policies on per-prompt outcomes, and their summary metrics (pure).

A curve maps the share of calls sent to the strong model to the mean quality obtained. Metrics
follow the RouteLLM paper (Ong et al., arXiv:2406.18665, section 3.2):

* PGR(s)    performance gap recovered: ``(quality(s) - cheap) / (strong - cheap)``.
* CPT(x%)   call-performance threshold: the smallest strong share whose PGR reaches x%
  (interpolated linearly between curve points, as RouteLLM's ``np.interp``).
* APGR      the area under PGR over the strong share (trapezoid rule on the curve's points).

and clawback adds the share (and cost) needed to reach a quality target such as 95% of the strong
model's quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from clawback.errors import UsageError

__all__ = [
    "CurvePoint",
    "apgr",
    "cascade_curve",
    "cpt",
    "score_curve",
    "share_at_quality",
]


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One operating point: share of calls to the strong model, mean quality, mean cost per call."""

    strong_share: float
    quality: float
    cost: float | None = None


def _check(cheap: Sequence[float], strong: Sequence[float], other: Sequence[float]) -> int:
    n = len(cheap)
    if n == 0 or len(strong) != n or len(other) != n:
        raise UsageError("outcomes and scores must be non-empty and of equal length")
    return n


def _points(
    order: Sequence[int],
    cheap: Sequence[float],
    strong: Sequence[float],
    shares: Sequence[float],
    base_cost: float | None,
    extra_cost: Sequence[float] | None,
) -> tuple[CurvePoint, ...]:
    n = len(order)
    gains = [strong[i] - cheap[i] for i in order]
    extras = [extra_cost[i] for i in order] if extra_cost is not None else None
    prefix_gain = [0.0]
    prefix_cost = [0.0]
    for j in range(n):
        prefix_gain.append(prefix_gain[-1] + gains[j])
        prefix_cost.append(prefix_cost[-1] + (extras[j] if extras is not None else 0.0))
    base_quality = sum(cheap) / n
    out = []
    for share in shares:
        k = round(share * n)
        cost = None if base_cost is None else (base_cost + prefix_cost[k]) / n
        out.append(CurvePoint(k / n, base_quality + prefix_gain[k] / n, cost))
    return tuple(out)


def score_curve(
    scores: Sequence[float],
    cheap: Sequence[float],
    strong: Sequence[float],
    shares: Sequence[float],
    *,
    cheap_cost: Sequence[float] | None = None,
    strong_cost: Sequence[float] | None = None,
) -> tuple[CurvePoint, ...]:
    """A router's curve: at each share, the lowest-scoring prompts (least likely fine on the cheap
    model) go to the strong model. Costs, when given, are per prompt for each model."""
    n = _check(cheap, strong, scores)
    order = sorted(range(n), key=lambda i: scores[i])
    if cheap_cost is None or strong_cost is None:
        return _points(order, cheap, strong, shares, None, None)
    extra = [strong_cost[i] - cheap_cost[i] for i in range(n)]
    return _points(order, cheap, strong, shares, float(sum(cheap_cost)), extra)


def cascade_curve(
    validator_scores: Sequence[float],
    cheap: Sequence[float],
    strong: Sequence[float],
    shares: Sequence[float],
    *,
    cheap_cost: Sequence[float] | None = None,
    strong_cost: Sequence[float] | None = None,
) -> tuple[CurvePoint, ...]:
    """A cascade's curve: every prompt is first answered by the cheap model; at each share, the
    answers the validator trusts least are escalated. The cheap call is paid on every prompt."""
    n = _check(cheap, strong, validator_scores)
    order = sorted(range(n), key=lambda i: validator_scores[i])
    if cheap_cost is None or strong_cost is None:
        return _points(order, cheap, strong, shares, None, None)
    return _points(order, cheap, strong, shares, float(sum(cheap_cost)), list(strong_cost))


def share_at_quality(points: Sequence[CurvePoint], target: float) -> CurvePoint | None:
    """The first point (by strong share) reaching ``target``, interpolated from the one before it.

    Returns None when no point reaches the target. Cost is interpolated the same way.
    """
    ordered = sorted(points, key=lambda p: p.strong_share)
    for i, point in enumerate(ordered):
        if point.quality >= target:
            if i == 0 or point.quality == ordered[i - 1].quality:
                return point
            prev = ordered[i - 1]
            t = (target - prev.quality) / (point.quality - prev.quality)
            share = prev.strong_share + t * (point.strong_share - prev.strong_share)
            cost = None
            if point.cost is not None and prev.cost is not None:
                cost = prev.cost + t * (point.cost - prev.cost)
            return CurvePoint(share, target, cost)
    return None


def cpt(
    points: Sequence[CurvePoint], cheap_quality: float, strong_quality: float, pgr: float
) -> float | None:
    """CPT(pgr): the strong share needed to recover ``pgr`` of the gap (None if the strong model
    is not better, or the curve never gets there)."""
    if strong_quality <= cheap_quality:
        return None
    found = share_at_quality(points, cheap_quality + pgr * (strong_quality - cheap_quality))
    return None if found is None else found.strong_share


def apgr(points: Sequence[CurvePoint], cheap_quality: float, strong_quality: float) -> float | None:
    """Average performance gap recovered over the strong share (None if the strong model is not
    better)."""
    if strong_quality <= cheap_quality:
        return None
    ordered = sorted(points, key=lambda p: p.strong_share)
    gap = strong_quality - cheap_quality
    area = 0.0
    for a, b in pairwise(ordered):
        pa = (a.quality - cheap_quality) / gap
        pb = (b.quality - cheap_quality) / gap
        area += (b.strong_share - a.strong_share) * (pa + pb) / 2
    return area
