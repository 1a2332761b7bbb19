"""Pure routing policies, table-driven."""

from __future__ import annotations

import pytest

from clawback.errors import UsageError
from clawback.routing.features import RequestFeatures
from clawback.routing.model import LinearModel
from clawback.routing.policies import (
    CascadeRouter,
    FixedRouter,
    LearnedRouter,
    RandomRouter,
    RoutingDecision,
    Rule,
    RulesTable,
    hash_unit,
)

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"

# The seed article's table, with today's model ids.
SEED = RulesTable(
    (
        Rule(
            HAIKU,
            "simple",
            frozenset({"classify", "extract", "route", "format"}),
            2000,
            needs_reasoning=False,
        ),
        Rule(SONNET, "reasoning", needs_reasoning=True),
        Rule(SONNET, "complex tasks", frozenset({"analyze", "synthesize", "debug_complex"})),
    ),
    default=SONNET,
)


def _f(task: str | None = None, tokens: int = 100, reasoning: bool = False, **kw: object) -> RequestFeatures:
    return RequestFeatures(text="t", context_tokens=tokens, task=task, needs_reasoning=reasoning, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("features", "model", "reason"),
    [
        (_f("classify", 500), HAIKU, "matched simple"),
        (_f("extract", 1999), HAIKU, "matched simple"),
        (_f("extract", 2000), SONNET, "no rule matched"),  # the article's `< 2000`
        (_f("classify", 500, reasoning=True), SONNET, "matched reasoning"),
        (_f("analyze", 100), SONNET, "matched complex tasks"),
        (_f("chat", 100), SONNET, "no rule matched"),
        (_f(None, 100), SONNET, "no rule matched"),
    ],
)
def test_seed_article_table(features: RequestFeatures, model: str, reason: str) -> None:
    decision = SEED.decide(features)
    assert decision.model == model
    assert decision.reason == reason
    assert decision.policy == "rules"


def test_rules_without_default_keep_the_request_model() -> None:
    table = RulesTable((Rule(HAIKU, task_types=frozenset({"classify"})),))
    assert table.decide(_f("chat", model=OPUS)).model == OPUS
    assert table.decide(_f("classify", model=OPUS)).reason == "matched rule 1"
    with pytest.raises(UsageError, match="no default"):
        table.decide(_f("chat"))


@pytest.mark.parametrize(
    ("rule", "features", "matches"),
    [
        (Rule(OPUS, min_context_tokens=10_000), _f(tokens=9_999), False),
        (Rule(OPUS, min_context_tokens=10_000), _f(tokens=10_000), True),
        (Rule(OPUS, has_tools=True), _f(has_tools=True), True),
        (Rule(OPUS, has_tools=True), _f(), False),
        (Rule(OPUS, has_images=False), _f(has_images=True), False),
        (Rule(OPUS), _f(), True),
    ],
)
def test_rule_conditions(rule: Rule, features: RequestFeatures, matches: bool) -> None:
    assert rule.matches(features) is matches


def test_fixed_router() -> None:
    assert FixedRouter(HAIKU).decide(_f("x")) == RoutingDecision(HAIKU, "fixed", f"always {HAIKU}", task="x")


def test_random_router_is_deterministic_and_near_its_share() -> None:
    router = RandomRouter(HAIKU, SONNET, 0.3, seed=7)
    picks = [router.decide(RequestFeatures(text=f"prompt {i}", context_tokens=1)).model for i in range(2000)]
    again = [router.decide(RequestFeatures(text=f"prompt {i}", context_tokens=1)).model for i in range(2000)]
    assert picks == again
    assert 0.26 < picks.count(SONNET) / 2000 < 0.34
    assert hash_unit("a", 1) != hash_unit("a", 2)
    with pytest.raises(UsageError):
        RandomRouter(HAIKU, SONNET, 1.5)


def _model(bias: float) -> LinearModel:
    return LinearModel(weights=(0.0,) * 16, bias=bias)


@pytest.mark.parametrize(
    ("bias", "threshold", "model"), [(2.0, 0.5, HAIKU), (-2.0, 0.5, SONNET), (0.0, 0.5, HAIKU)]
)
def test_learned_router_against_threshold(bias: float, threshold: float, model: str) -> None:
    decision = LearnedRouter(_model(bias), HAIKU, SONNET, threshold).decide(_f("t"))
    assert decision.model == model
    assert decision.policy == "learned"
    assert decision.score is not None
    assert "P(cheap ok)" in decision.reason


def test_learned_router_needs_a_prompt_model() -> None:
    with pytest.raises(UsageError):
        LearnedRouter(LinearModel((0.0,), 0.0, inputs="prompt+answer"), HAIKU, SONNET, 0.5)


def test_cascade_decision_names_escalation_and_validator() -> None:
    d = CascadeRouter(HAIKU, SONNET, "labels").decide(_f("intent"))
    assert (d.model, d.escalate_to, d.validator, d.policy) == (HAIKU, SONNET, "labels", "cascade")
    assert d.to_json() == {
        "model": HAIKU,
        "policy": "cascade",
        "reason": d.reason,
        "escalate_to": SONNET,
        "validator": "labels",
        "task": "intent",
    }


def test_decision_json_rounds_the_score() -> None:
    assert RoutingDecision(HAIKU, "learned", "r", score=0.123456).to_json()["score"] == 0.1235
