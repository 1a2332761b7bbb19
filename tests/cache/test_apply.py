"""Writing a plan into a request body: the right blocks, the right TTL, the caller's body untouched."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from clawback.cache.apply import apply_plan
from clawback.cache.blocks import body_blocks
from clawback.cache.plan import CachePlan
from clawback.errors import CacheRuleError
from clawback.shapes import request_shape
from tests.cache.support import count, text

TOOL = {"name": "search", "description": "find things", "input_schema": {"type": "object"}}

BODIES: list[dict[str, Any]] = [
    {"model": "m", "messages": [{"role": "user", "content": "hello"}]},
    {"model": "m", "system": "be brief", "messages": [{"role": "user", "content": "hello"}]},
    {
        "model": "m",
        "tools": [TOOL, "not a tool", {**TOOL, "name": "other"}],
        "system": [text(5, "s"), text(5, "t")],
        "messages": [
            {"role": "user", "content": [text(5, "u"), "loose string"]},
            "not a message",
            {"role": "assistant", "content": {"type": "text", "text": "single block"}},
            {"role": "user", "content": "plain"},
        ],
    },
]


@pytest.mark.parametrize("request_body", BODIES)
def test_body_blocks_are_numbered_exactly_as_request_shape_numbers_them(request_body: dict[str, Any]) -> None:
    shape = request_shape(request_body, count=count)
    items = list(body_blocks(request_body))
    assert [i.position for i in items] == [b.position for b in shape.blocks]
    assert [i.level for i in items] == [b.level for b in shape.blocks]
    assert [i.message for i in items] == [b.message_index for b in shape.blocks]
    assert [i.item for i in items if i.level != "tools"] == [
        b.index for b in shape.blocks if b.level != "tools"
    ]


@pytest.mark.parametrize("request_body", BODIES)
def test_every_position_can_be_marked_and_the_shape_agrees(request_body: dict[str, Any]) -> None:
    shape = request_shape(request_body, count=count)
    original = copy.deepcopy(request_body)
    for position in range(len(shape.blocks)):
        ttl = "1h" if position % 2 else "5m"
        out = apply_plan(request_body, CachePlan(marks={position: ttl}))
        assert request_body == original  # never mutated
        marked = request_shape(out, count=count)
        assert marked.breakpoints == (position,)
        assert marked.blocks[position].cache_ttl == ttl
        assert [b.prefix_hash for b in marked.blocks] == [b.prefix_hash for b in shape.blocks]


def test_string_content_becomes_a_list_only_where_a_breakpoint_lands() -> None:
    request = {
        "model": "m",
        "system": "be brief",
        "messages": [{"role": "user", "content": "first"}, {"role": "user", "content": "second"}],
    }
    out = apply_plan(request, CachePlan(marks={2: "5m"}))
    assert out["system"] == "be brief"
    assert out["messages"][0] is request["messages"][0]
    assert out["messages"][1]["content"] == [
        {"type": "text", "text": "second", "cache_control": {"type": "ephemeral"}}
    ]
    out = apply_plan(request, CachePlan(marks={0: "1h"}))
    assert out["system"] == [
        {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    assert out["messages"] is request["messages"]


def test_the_callers_own_cache_control_is_left_as_it_is() -> None:
    request = {
        "model": "m",
        "system": [text(5, "s", ttl="1h")],
        "messages": [{"role": "user", "content": "q"}],
    }
    out = apply_plan(request, CachePlan(marks={0: "1h", 1: "5m"}))
    assert out["system"][0] is request["system"][0]
    assert out["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_an_empty_plan_returns_an_equal_copy_and_a_bad_position_is_an_error() -> None:
    request = BODIES[0]
    out = apply_plan(request, CachePlan(marks={}))
    assert out == request and out is not request
    with pytest.raises(CacheRuleError, match="does not have"):
        apply_plan(request, CachePlan(marks={7: "5m"}))


_MORE_BODIES: list[dict[str, Any]] = [
    *BODIES,
    {
        "model": "m",
        "tools": [TOOL, {**TOOL, "name": "other"}],
        "system": [text(5, "s"), "loose", text(5, "t", ttl="1h")],
        "messages": [
            {
                "role": "user",
                "content": [text(5, "u"), {**text(5, "v"), "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "assistant", "content": "plain"},
            {"role": "user", "content": [text(5, "w"), text(5, "x")]},
        ],
    },
    {"model": "m", "system": "", "messages": [{"role": "user", "content": ""}]},
    {"model": "m", "system": {"type": "text", "text": "a mapping"}, "messages": []},
    {"model": "m", "tools": None, "system": None, "messages": [{"role": "user", "content": None}]},
]


@pytest.mark.parametrize("request_body", _MORE_BODIES)
def test_planning_with_the_shape_gives_the_same_body(request_body: dict[str, Any]) -> None:
    """The shortcut through the shape's positions writes exactly what walking the body writes."""
    shape = request_shape(request_body, count=count)
    original = copy.deepcopy(request_body)
    n = len(shape.blocks)
    plans: list[dict[int, Any]] = [{}]
    plans += [{p: "1h" if p % 2 else "5m"} for p in range(n)]
    plans += [
        dict.fromkeys(range(0, n, 2), "5m"),
        dict.fromkeys(range(n), "1h"),
        dict.fromkeys(range(n - 1, -1, -3), "5m"),
    ]
    for marks in plans:
        plan = CachePlan(marks=marks)
        fast = apply_plan(request_body, plan, shape)
        assert fast == apply_plan(request_body, plan)
        assert list(fast) == list(apply_plan(request_body, plan))  # the same key order
        assert request_body == original  # never mutated
    with pytest.raises(CacheRuleError):
        apply_plan(request_body, CachePlan(marks={n: "5m"}), shape)
