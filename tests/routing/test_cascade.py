"""run_cascade: cheap first, validate, escalate; every attempt recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clawback.routing.cascade import response_text, run_cascade
from clawback.routing.policies import RoutingDecision
from clawback.routing.validators import AgreementValidator, LabelValidator

HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"
BODY = {"messages": [{"role": "user", "content": "where is my card"}], "max_tokens": 8}
CASCADE = RoutingDecision(HAIKU, "verdict", "cascade", escalate_to=SONNET, validator="labels")
LABELS = LabelValidator(frozenset({"card_arrival"}))


def _send(answers: dict[str, list[str]]) -> tuple[list[str], Any]:
    calls: list[str] = []

    def send(model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        calls.append(model)
        return {"content": [{"type": "text", "text": answers[model].pop(0)}]}

    return calls, send


def test_valid_cheap_answer_is_kept() -> None:
    calls, send = _send({HAIKU: ["card_arrival"]})
    result = run_cascade(CASCADE, BODY, send, LABELS)
    assert calls == [HAIKU]
    assert not result.escalated
    assert response_text(result.response) == "card_arrival"
    assert result.to_json()["attempts"] == [{"model": HAIKU, "ok": True, "reason": "an allowed label"}]


def test_invalid_cheap_answer_escalates_and_both_attempts_are_recorded() -> None:
    calls, send = _send({HAIKU: ["I think it is about cards"], SONNET: ["card_arrival"]})
    result = run_cascade(CASCADE, BODY, send, LABELS)
    assert calls == [HAIKU, SONNET]
    assert result.escalated
    assert response_text(result.response) == "card_arrival"
    data = result.to_json()
    assert data["escalated"] is True
    assert [a["model"] for a in data["attempts"]] == [HAIKU, SONNET]
    assert data["attempts"][0]["ok"] is False


def test_agreement_samples_the_cheap_model_several_times() -> None:
    calls, send = _send({HAIKU: ["A", "B"], SONNET: ["A"]})
    result = run_cascade(CASCADE, BODY, send, AgreementValidator(2), samples=2)
    assert calls == [HAIKU, HAIKU, SONNET]
    assert result.escalated


def test_a_plain_decision_is_one_call() -> None:
    calls, send = _send({HAIKU: ["x"]})
    result = run_cascade(RoutingDecision(HAIKU, "rules", "r"), BODY, send, None)
    assert calls == [HAIKU]
    assert not result.escalated


def test_response_text_reads_sdk_like_objects() -> None:
    class Block:
        type = "text"
        text = "hello"

    class Message:
        content = (Block(),)

    assert response_text(Message()) == "hello"
    assert response_text({"content": "plain"}) == "plain"
    assert response_text({"content": [{"type": "tool_use"}]}) == ""
