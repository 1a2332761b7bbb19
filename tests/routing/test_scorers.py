"""Scorers: exact, label, JSON field, numeric tolerance and a judge model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from clawback.errors import UsageError
from clawback.routing.scorers import JudgeScorer, ScoreItem, parse_scorer


@pytest.mark.parametrize(
    ("spec", "answer", "expected", "ok"),
    [
        ("exact", " yes \n", "yes", True),
        ("exact", "Yes", "yes", False),
        ("label", "Card_Arrival.", "card_arrival", True),
        ("label", "card arrival", "card_arrival", False),
        ("json-field:label", '{"label": "a", "x": 1}', '{"label": "a"}', True),
        ("json-field:label", '{"label": "a"}', {"label": "b"}, False),
        (
            "json-field:result.label",
            '```json\n{"result": {"label": "a"}}\n```',
            {"result": {"label": "a"}},
            True,
        ),
        ("json-field:label", "not json", '{"label": "a"}', False),
        ("json-field:label", '{"other": 1}', '{"label": "a"}', False),
        ("numeric:0", "The answer is 18.", "18", True),
        ("numeric:0", "#### 1,250", 1250, True),
        ("numeric:0.001", "3.14159", "3.14", False),
        ("numeric:0.01", "3.145", "3.14", True),
        ("numeric:2%", "98", "100", True),
        ("numeric:2%", "97", "100", False),
        ("numeric:1", "no number", "3", False),
    ],
)
def test_scorers(spec: str, answer: str, expected: Any, ok: bool) -> None:
    assert parse_scorer(spec).score_many([ScoreItem(answer, expected)]) == [ok]


@pytest.mark.parametrize(
    "spec", ["fuzzy", "exact:1", "json-field", "json-field:", "numeric:abc", "numeric:-1", "judge:"]
)
def test_bad_specs(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_scorer(spec, judge_call=lambda bodies: [])


def test_judge_needs_a_runner() -> None:
    with pytest.raises(UsageError, match="runner"):
        parse_scorer("judge:claude-opus-5-5")


def test_judge_sends_one_request_per_item_and_reads_the_first_word() -> None:
    seen: list[Mapping[str, Any]] = []

    def call(bodies: Sequence[Mapping[str, Any]]) -> list[str | None]:
        seen.extend(bodies)
        return ["CORRECT", "incorrect.", None, "**Correct**"]

    scorer = parse_scorer("judge:claude-opus-5-5", judge_call=call)
    assert isinstance(scorer, JudgeScorer)
    items = [
        ScoreItem("a", "a", "q1"),
        ScoreItem("b", "a", "q2"),
        ScoreItem("c", "a", "q3"),
        ScoreItem("d", "a", "q4"),
    ]
    assert scorer.score_many(items) == [True, False, False, True]
    assert scorer.name == "judge:claude-opus-5-5"
    assert seen[0]["model"] == "claude-opus-5-5"
    assert "q1" in seen[0]["messages"][0]["content"]
