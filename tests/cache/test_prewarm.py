"""Pre-warm requests on plain values: the prefix alone, the lowest max_tokens the API accepts."""

from __future__ import annotations

from typing import Any

import pytest

from clawback.cache.prewarm import FILLER_MESSAGE, prefix_request, prewarm_params
from clawback.errors import CacheRuleError
from clawback.shapes import request_shape

BP = {"type": "ephemeral"}
BP_1H = {"type": "ephemeral", "ttl": "1h"}
TOOLS = [{"name": "a", "input_schema": {}}, {"name": "b", "input_schema": {}}]


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 512,
        "tools": TOOLS,
        "system": [{"type": "text", "text": "rules"}, {"type": "text", "text": "more rules"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "doc"}, {"type": "text", "text": "q1"}]},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (0, {"tools": [{**TOOLS[0], "cache_control": BP}], "messages": [FILLER_MESSAGE]}),
        (
            3,
            {
                "tools": TOOLS,
                "system": [
                    {"type": "text", "text": "rules"},
                    {"type": "text", "text": "more rules", "cache_control": BP},
                ],
                "messages": [FILLER_MESSAGE],
            },
        ),
        (
            4,
            {
                "tools": TOOLS,
                "system": _body()["system"],
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "doc", "cache_control": BP}]}
                ],
            },
        ),
        (
            6,
            {
                "tools": TOOLS,
                "system": _body()["system"],
                "messages": [
                    _body()["messages"][0],
                    {"role": "assistant", "content": [{"type": "text", "text": "a1", "cache_control": BP}]},
                    FILLER_MESSAGE,
                ],
            },
        ),
    ],
)
def test_the_prefix_ends_at_the_breakpoint(position: int, expected: dict[str, Any]) -> None:
    body = _body(cache_control=BP, stream=True)
    out = prefix_request(body, position, "5m")
    assert out == {"model": "claude-sonnet-5-5", "max_tokens": 512, "stream": True, **expected}
    full, cut = request_shape(body), request_shape(out)
    assert cut.blocks[position].prefix_hash == full.blocks[position].prefix_hash  # the same cached prefix
    assert body == _body(cache_control=BP, stream=True)  # the caller's body is untouched


def test_an_existing_breakpoint_and_a_string_system_are_kept() -> None:
    body = _body(system="rules")
    body["messages"][0]["content"][0]["cache_control"] = BP_1H
    assert prefix_request(body, 2, "5m")["system"] == [{"type": "text", "text": "rules", "cache_control": BP}]
    assert prefix_request(body, 3, "5m")["messages"][0]["content"] == [
        {"type": "text", "text": "doc", "cache_control": BP_1H}
    ]


def test_a_forced_tool_that_is_cut_is_dropped_and_one_kept_stays() -> None:
    body = _body(tool_choice={"type": "tool", "name": "b"})
    assert "tool_choice" not in prefix_request(body, 0, "1h")
    assert prefix_request(body, 1, "1h")["tool_choice"] == {"type": "tool", "name": "b"}
    assert prefix_request(body, 1, "1h")["tools"][1]["cache_control"] == BP_1H


def test_an_assistant_tool_use_turn_has_no_shorter_request() -> None:
    body = _body()
    body["messages"][1] = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t", "name": "a", "input": {}}],
    }
    body["messages"][2] = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}],
    }
    assert prefix_request(body, 6, "5m") == body
    with pytest.raises(CacheRuleError, match="no block at position 9"):
        prefix_request(body, 9, "5m")


@pytest.mark.parametrize(
    ("extra", "max_tokens"),
    [
        ({}, 0),
        ({"tool_choice": {"type": "auto"}}, 0),
        ({"tool_choice": {"type": "any"}}, 1),
        ({"output_config": {"format": {"type": "json_schema", "schema": {}}}}, 1),
        ({"output_config": {"effort": "low"}}, 0),
        ({"thinking": {"type": "adaptive"}}, 512),
    ],
)
def test_prewarm_max_tokens(extra: dict[str, Any], max_tokens: int) -> None:
    out = prewarm_params(_body(stream=True, **extra))
    assert out["max_tokens"] == max_tokens and "stream" not in out
