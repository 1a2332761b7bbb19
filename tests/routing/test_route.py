"""route(): precedence of verdicts, learned routers, rules and passthrough."""

from __future__ import annotations

import pytest

from clawback.errors import UsageError
from clawback.routing.model import LinearModel
from clawback.routing.policies import LearnedRouter, Rule, RulesTable
from clawback.routing.route import RoutingConfig, TaskPolicy, route
from clawback.routing.validators import LabelValidator

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"
BODY = {"model": OPUS, "max_tokens": 16, "messages": [{"role": "user", "content": "where is my card?"}]}
ALWAYS_CHEAP = LearnedRouter(LinearModel((0.0,) * 4, 5.0), HAIKU, SONNET, 0.5)

CONFIG = RoutingConfig(
    rules=RulesTable((Rule(SONNET, task_types=frozenset({"classify"})),)),
    tasks={
        "switched": TaskPolicy("switch", model=HAIKU, summary="evidence"),
        "cascaded": TaskPolicy(
            "cascade", model=HAIKU, escalate_to=SONNET, validator=LabelValidator(frozenset({"a"}))
        ),
        "kept": TaskPolicy("keep", reference=SONNET),
        "classify": TaskPolicy("keep"),
    },
    learned={"learned-task": ALWAYS_CHEAP},
)


@pytest.mark.parametrize(
    ("task", "model", "policy", "escalate"),
    [
        ("switched", HAIKU, "verdict", None),
        ("cascaded", HAIKU, "verdict", SONNET),
        ("kept", OPUS, "verdict", None),
        ("classify", OPUS, "verdict", None),  # a verdict beats the rules table
        ("learned-task", HAIKU, "learned", None),
        ("chat", OPUS, "passthrough", None),
        (None, OPUS, "passthrough", None),
    ],
)
def test_precedence(task: str | None, model: str, policy: str, escalate: str | None) -> None:
    d = route(BODY, task, CONFIG)
    assert (d.model, d.policy, d.escalate_to) == (model, policy, escalate)


def test_rules_apply_when_no_verdict_or_learned_router() -> None:
    config = RoutingConfig(rules=RulesTable((Rule(SONNET, task_types=frozenset({"classify"})),)))
    assert route(BODY, "classify", config).policy == "rules"


def test_learned_star_applies_to_every_task() -> None:
    config = RoutingConfig(learned={"*": ALWAYS_CHEAP})
    assert route(BODY, "anything", config).model == HAIKU
    assert route(BODY, None, config).model == HAIKU


def test_reason_carries_the_evidence() -> None:
    assert route(BODY, "switched", CONFIG).reason == "switch (evidence)"
    assert route(BODY, "cascaded", CONFIG).validator == "labels"


def test_no_model_anywhere_is_an_error() -> None:
    with pytest.raises(UsageError, match="names no model"):
        route({"messages": []}, None, RoutingConfig())


def test_incomplete_verdicts_are_refused() -> None:
    with pytest.raises(UsageError):
        TaskPolicy("switch")
    with pytest.raises(UsageError):
        TaskPolicy("cascade", model=HAIKU)


def test_validator_for() -> None:
    assert CONFIG.validator_for("cascaded") is not None
    assert CONFIG.validator_for("switched") is None
    assert CONFIG.validator_for(None) is None
