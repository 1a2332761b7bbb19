"""Result classification, the retry rule and output lines."""

from __future__ import annotations

import json

import pytest

from clawback.batch.outcomes import OutputRecord, classify_result, next_step, render_output_line

MESSAGE = {"id": "msg_1", "content": [], "usage": {"input_tokens": 3, "output_tokens": 1}}


def _line(result: dict[str, object]) -> dict[str, object]:
    return {"custom_id": "abc1230001-x", "result": result}


def _err(kind: str) -> dict[str, object]:
    return {"type": "errored", "error": {"type": "error", "error": {"type": kind, "message": "m"}}}


@pytest.mark.parametrize(
    ("result", "outcome", "retryable"),
    [
        ({"type": "succeeded", "message": MESSAGE}, "succeeded", False),
        (_err("invalid_request_error"), "errored", False),
        (_err("overloaded_error"), "errored", True),
        (_err("api_error"), "errored", True),
        ({"type": "errored", "error": {"type": "rate_limit_error", "message": "m"}}, "errored", True),
        ({"type": "expired"}, "expired", True),
        ({"type": "canceled"}, "canceled", False),
    ],
)
def test_classify_and_retryable(result: dict[str, object], outcome: str, retryable: bool) -> None:
    item = classify_result(_line(result))
    assert item.outcome == outcome and item.retryable is retryable


def test_invalid_request_error_keeps_its_type_and_message() -> None:
    item = classify_result(_line(_err("invalid_request_error")))
    assert item.error == {"type": "invalid_request_error", "message": "m"}


@pytest.mark.parametrize(
    "line", [{}, {"custom_id": 1, "result": {}}, _line({"type": "weird"}), _line({"type": "succeeded"})]
)
def test_malformed_results_raise(line: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        classify_result(line)


@pytest.mark.parametrize(
    ("attempts", "maximum", "canceling", "step"),
    [(1, 3, False, "retry"), (3, 3, False, "final"), (1, 3, True, "final"), (1, 1, False, "final")],
)
def test_retry_rule(attempts: int, maximum: int, canceling: bool, step: str) -> None:
    item = classify_result(_line({"type": "expired"}))
    assert next_step(item, attempts, maximum, canceling=canceling) == step


def test_output_line_shape() -> None:
    ok = json.loads(
        render_output_line(OutputRecord("t-1", 3, "succeeded", 1, message=MESSAGE, cost_usd="0.01"))
    )
    assert (
        ok["id"] == "t-1" and ok["line"] == 3 and ok["message"] == MESSAGE and ok["usage"] == MESSAGE["usage"]
    )
    bad = json.loads(
        render_output_line(OutputRecord(17, 4, "invalid", 0, error={"type": "invalid_input", "message": "x"}))
    )
    assert (
        bad["id"] == 17
        and bad["error"]["type"] == "invalid_input"
        and bad["usage"] is None
        and "message" not in bad
    )
