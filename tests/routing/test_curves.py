"""Cost-quality curves and the RouteLLM metrics on hand-checked examples."""

from __future__ import annotations

import pytest

from clawback.routing.curves import CurvePoint, apgr, cascade_curve, cpt, score_curve, share_at_quality

CHEAP = [1.0, 0.0, 0.0, 1.0]
STRONG = [1.0, 1.0, 1.0, 0.0]
SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


def test_score_curve_sends_the_lowest_scores_to_the_strong_model_first() -> None:
    scores = [0.9, 0.1, 0.2, 0.8]  # prompts 1 and 2 are the ones the cheap model fails
    qualities = [p.quality for p in score_curve(scores, CHEAP, STRONG, SHARES)]
    assert qualities == [0.5, 0.75, 1.0, 0.75, 0.75]


def test_costs_follow_the_routed_model() -> None:
    points = score_curve(
        [0.9, 0.1, 0.2, 0.8], CHEAP, STRONG, SHARES, cheap_cost=[1.0] * 4, strong_cost=[10.0] * 4
    )
    assert [p.cost for p in points] == [1.0, 3.25, 5.5, 7.75, 10.0]


def test_cascade_pays_the_cheap_call_every_time() -> None:
    points = cascade_curve(
        [0.9, 0.1, 0.2, 0.8], CHEAP, STRONG, SHARES, cheap_cost=[1.0] * 4, strong_cost=[10.0] * 4
    )
    assert [p.cost for p in points] == [1.0, 3.5, 6.0, 8.5, 11.0]
    assert [p.quality for p in points][:3] == [0.5, 0.75, 1.0]


def test_share_at_quality_interpolates() -> None:
    points = [CurvePoint(0.0, 0.5, 1.0), CurvePoint(0.5, 0.7, 2.0), CurvePoint(1.0, 0.9, 3.0)]
    hit = share_at_quality(points, 0.6)
    assert hit == CurvePoint(0.25, 0.6, 1.5)
    assert share_at_quality(points, 0.4) == points[0]
    assert share_at_quality(points, 0.95) is None


def test_cpt_and_apgr() -> None:
    line = [CurvePoint(s, 0.5 + 0.4 * s) for s in (0.0, 0.5, 1.0)]
    assert cpt(line, 0.5, 0.9, 0.5) == pytest.approx(0.5)
    assert apgr(line, 0.5, 0.9) == pytest.approx(0.5)  # a random router's straight line
    better = [CurvePoint(0.0, 0.5), CurvePoint(0.5, 0.9), CurvePoint(1.0, 0.9)]
    assert apgr(better, 0.5, 0.9) == pytest.approx(0.75)
    assert cpt(better, 0.5, 0.9, 0.8) == pytest.approx(0.4)
    assert cpt(line, 0.9, 0.5, 0.5) is None
    assert apgr(line, 0.9, 0.9) is None
