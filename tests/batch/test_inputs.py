"""Input lines: both forms, every refusal with its reason, and blank lines."""

from __future__ import annotations

import json
from datetime import date

import pytest

from clawback.batch.chunking import Limits
from clawback.batch.inputs import InputItem, LineError, parse_line
from clawback.pricing.loader import load_catalogue

CAT = load_catalogue()
TODAY = date(2026, 11, 25)
BODY = {"model": "claude-haiku-5-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def _parse(obj: object, limits: Limits | None = None) -> InputItem | LineError | None:
    raw = obj if isinstance(obj, str) else json.dumps(obj)
    return parse_line(raw, 7, catalogue=CAT, today=TODAY, limits=limits or Limits())


def test_body_form_with_an_id() -> None:
    item = _parse({"id": "t-1", **BODY})
    assert isinstance(item, InputItem)
    assert item.user_id == "t-1" and item.params == BODY and "id" not in item.params
    assert item.nbytes == len(item.params_json.encode())


def test_api_form_with_custom_id() -> None:
    item = _parse({"custom_id": 42, "params": BODY})
    assert isinstance(item, InputItem) and item.user_id == 42 and item.params == BODY


def test_no_id_is_fine() -> None:
    item = _parse(BODY)
    assert isinstance(item, InputItem) and item.user_id is None


def test_key_order_is_kept() -> None:
    body = {"messages": BODY["messages"], "max_tokens": 16, "model": "claude-haiku-5-5"}
    item = _parse(body)
    assert isinstance(item, InputItem) and item.params_json.startswith('{"messages"')


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("   \n", None)])
def test_blank_lines_are_skipped(raw: str, expected: None) -> None:
    assert _parse(raw) is expected


REFUSALS = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ({"model": "claude-haiku-5-5", "messages": BODY["messages"]}, "max_tokens: Field required"),
    ({**BODY, "max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
    ({**BODY, "max_tokens": "16"}, "max_tokens: Input should be a valid integer"),
    ({**BODY, "max_tokens": 10**7}, "above claude-haiku-5-5's output limit"),
    ({"max_tokens": 5, "messages": BODY["messages"]}, "model: Field required"),
    ({**BODY, "model": "claude-haiku-3-5"}, "unknown model 'claude-haiku-3-5'"),
    ({**BODY, "model": "claude-3-opus-20240229"}, "was retired on"),
    ({**BODY, "messages": []}, "messages: List should have at least 1 item"),
    ({**BODY, "stream": True}, "streaming is not available in the Batch API"),
    ({**BODY, "speed": "fast"}, "fast mode"),
    ({"id": "a", "custom_id": "b", **BODY}, "not both"),
    ({"id": True, **BODY}, "id must be a string or an integer"),
    ({"id": "", **BODY}, "must not be empty"),
    ({"custom_id": "a", "params": BODY, "extra": 1}, "unexpected key 'extra'"),
    ({"custom_id": "a", "params": [1]}, "params must be a JSON object"),
]


@pytest.mark.parametrize(("obj", "message"), REFUSALS)
def test_refusals_name_the_problem(obj: object, message: str) -> None:
    error = _parse(obj)
    assert isinstance(error, LineError) and error.line == 7
    assert message in error.message, error.message
    assert str(error).startswith("line 7: ")


def test_a_request_over_the_size_limit() -> None:
    big = {**BODY, "messages": [{"role": "user", "content": "x" * 5000}]}
    error = _parse(big, Limits(max_request_bytes=4096, max_bytes=10_000))
    assert isinstance(error, LineError) and "over the 4,096-byte limit" in error.message


def test_invalid_lines_keep_their_id() -> None:
    error = _parse({"id": "t-9", "model": "claude-haiku-5-5", "messages": BODY["messages"]})
    assert isinstance(error, LineError) and error.user_id == "t-9"
