"""Verdict rules: switch, cascade or keep, on the lower bound of the interval."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clawback.routing.stats import proportion
from clawback.routing.verdict import MIN_SAMPLE, Option, decide_verdict

SONNET = Option("claude-sonnet-5-5", proportion(190, 200), Decimal("1.00"))


def _opt(model: str, k: int, n: int, cost: str | None, escalate: str | None = None) -> Option:
    return Option(
        model,
        proportion(k, n),
        None if cost is None else Decimal(cost),
        escalate_to=escalate,
        escalation_rate=0.1 if escalate else None,
    )


@pytest.mark.parametrize(
    ("candidates", "cascades", "kind", "model"),
    [
        ([_opt("haiku", 200, 200, "0.05")], [], "switch", "haiku"),
        ([_opt("haiku", 200, 200, "0.05"), _opt("haiku-4-5", 200, 200, "0.40")], [], "switch", "haiku"),
        ([_opt("cheapest", 150, 200, "0.01"), _opt("haiku", 200, 200, "0.05")], [], "switch", "haiku"),
        (
            [_opt("haiku", 180, 200, "0.05")],
            [_opt("haiku", 196, 200, "0.15", "claude-sonnet-5-5")],
            "cascade",
            "haiku",
        ),
        (
            [_opt("haiku", 180, 200, "0.05")],
            [_opt("haiku", 196, 200, "1.20", "claude-sonnet-5-5")],
            "keep",
            "claude-sonnet-5-5",
        ),
        ([_opt("haiku", 180, 200, "0.05")], [], "keep", "claude-sonnet-5-5"),
        ([_opt("opus", 200, 200, "5.00")], [], "keep", "claude-sonnet-5-5"),
        ([_opt("haiku", 200, 200, None)], [], "keep", "claude-sonnet-5-5"),
    ],
)
def test_verdicts(candidates: list[Option], cascades: list[Option], kind: str, model: str) -> None:
    v = decide_verdict(SONNET, candidates, cascades, bar=0.9)
    assert (v.kind, v.model) == (kind, model)
    assert v.incumbent == "claude-sonnet-5-5"


def test_point_estimate_above_the_bar_is_not_enough() -> None:
    # 39/40 = 0.975 > 0.95, but the lower bound is 0.871
    v = decide_verdict(_opt("sonnet", 40, 40, "1"), [_opt("haiku", 39, 40, "0.1")], [], bar=0.95)
    assert v.kind == "keep"
    assert "lower bound < 0.950" in v.reason


def test_too_few_samples_keeps() -> None:
    v = decide_verdict(_opt("sonnet", 10, 10, "1"), [_opt("haiku", 10, 10, "0.1")], [], bar=0.5)
    assert v.kind == "keep"
    assert f"at least {MIN_SAMPLE}" in v.reason


def test_reasons_name_the_evidence() -> None:
    v = decide_verdict(
        SONNET,
        [_opt("haiku", 180, 200, "0.05")],
        [_opt("haiku", 196, 200, "0.15", "claude-sonnet-5-5")],
        bar=0.9,
    )
    assert "haiku -> claude-sonnet-5-5" in v.reason
    assert "10.0% escalated" in v.reason
    assert v.chosen is not None and v.chosen.label == "haiku -> claude-sonnet-5-5"
