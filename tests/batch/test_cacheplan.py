"""Shared-prefix grouping and breakpoint insertion within the API's rules."""

from __future__ import annotations

from typing import Any

from clawback.batch.cacheplan import (
    CachePlanInput,
    add_breakpoint,
    choose_group,
    plan_input,
    warmup_params,
)
from clawback.cache.rules import breakpoints_of
from clawback.shapes import request_shape

SYSTEM = "You are a careful classifier. " * 200


def _body(question: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-haiku-5-5",
        "max_tokens": 16,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": question}],
        **extra,
    }


def _plan(body: dict[str, Any], minimum: int = 512) -> CachePlanInput:
    return plan_input(request_shape(body, tokenizer="4.7+"), minimum)


def test_the_system_prompt_is_a_candidate_but_the_last_block_is_not() -> None:
    plan = _plan(_body("one"))
    assert [c.level for c in plan.candidates] == ["s"]
    assert plan.candidates[0].prefix_tokens > 512


def test_below_the_minimum_there_is_no_candidate() -> None:
    assert _plan(_body("one"), minimum=10**6).candidates == ()


def test_same_system_same_hash_and_a_group() -> None:
    a, b = _plan(_body("one")), _plan(_body("two"))
    assert a.candidates[0].prefix_hash == b.candidates[0].prefix_hash
    shared = {a.candidates[0].prefix_hash: 2}
    assert choose_group(a, shared) == a.candidates[0]
    assert choose_group(a, {a.candidates[0].prefix_hash: 1}) is None


def test_the_deepest_shared_candidate_wins() -> None:
    doc = "A long shared document. " * 300
    body = _body(
        "q",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": doc}, {"type": "text", "text": "q1"}]}
        ],
    )
    plan = _plan(body)
    assert [c.level for c in plan.candidates] == ["s", "m"]
    shared = {c.prefix_hash: 3 for c in plan.candidates}
    assert choose_group(plan, shared) == plan.candidates[-1]


def test_breakpoint_goes_on_the_block_and_passes_the_cache_rules() -> None:
    body = _body("one")
    plan = _plan(body)
    marked = add_breakpoint(body, plan, plan.candidates[0], "1h")
    assert marked is not None and body["system"] == SYSTEM  # the input is not changed
    assert marked["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    shape = request_shape(marked, tokenizer="4.7+")
    assert [b.ttl for b in breakpoints_of(shape)] == ["1h"]
    assert shape.blocks[0].prefix_hash == plan.candidates[0].prefix_hash


def test_message_breakpoint_converts_string_content() -> None:
    doc = "A long shared document. " * 300
    body = _body(
        "q",
        system=None,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": doc}, {"type": "text", "text": "q"}]}
        ],
    )
    body.pop("system")
    plan = _plan(body)
    marked = add_breakpoint(body, plan, plan.candidates[-1], "5m")
    assert marked is not None
    assert marked["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_no_fifth_breakpoint_and_no_1h_after_5m() -> None:
    full = _body(
        "x",
        tools=[
            {
                "name": f"t{i}",
                "description": "d" * 800,
                "input_schema": {"type": "object"},
                "cache_control": {"type": "ephemeral"},
            }
            for i in range(4)
        ],
    )
    plan = _plan(full)
    assert add_breakpoint(full, plan, plan.candidates[-1], "5m") is None
    one = _body(
        "x",
        tools=[
            {
                "name": "t",
                "description": "d" * 4000,
                "input_schema": {"type": "object"},
                "cache_control": {"type": "ephemeral"},
            }
        ],
    )
    plan = _plan(one)
    system = next(c for c in plan.candidates if c.level == "s")
    assert add_breakpoint(one, plan, system, "1h") is None
    assert add_breakpoint(one, plan, system, "5m") is not None


def test_an_existing_breakpoint_is_left_alone() -> None:
    body = _body("x", system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}])
    plan = _plan(body)
    assert add_breakpoint(body, plan, plan.candidates[0], "1h") is None


def test_plans_round_trip_through_json() -> None:
    plan = _plan(_body("one", cache_control={"type": "ephemeral"}))
    assert CachePlanInput.from_json(plan.to_json()) == plan
    assert plan.auto is not None


WARMUP_CASES = [
    ({}, 0),
    ({"thinking": {"type": "disabled"}}, 0),
    ({"tool_choice": {"type": "auto"}}, 0),
    ({"tool_choice": {"type": "any"}}, 1),
    ({"tool_choice": {"type": "tool", "name": "classify"}}, 1),
    ({"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}, 1),
    ({"thinking": {"type": "adaptive"}}, 2048),
]


def test_warmup_params_use_max_tokens_0_only_where_the_api_allows_it() -> None:
    for extra, max_tokens in WARMUP_CASES:
        params = {"model": "claude-haiku-5-5", "max_tokens": 2048, "messages": [], **extra}
        warm = warmup_params(params)
        assert warm["max_tokens"] == max_tokens, extra
        assert {k: v for k, v in warm.items() if k != "max_tokens"} == {
            k: v for k, v in params.items() if k != "max_tokens"
        }


def test_every_warmup_is_accepted_by_the_emulator_and_writes_the_cache() -> None:
    from clawback.emulator.testing import emulator_client

    tool = {"name": "classify", "description": "d", "input_schema": {"type": "object"}}
    with emulator_client() as (client, _):
        for extra, _expected in WARMUP_CASES:
            params: dict[str, Any] = {
                "model": "claude-haiku-5-5",
                "max_tokens": 2048,
                "system": [
                    {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
                ],
                "tools": [tool],
                "messages": [{"role": "user", "content": f"which team? {extra}"}],
                **extra,
            }
            message = client.messages.create(**warmup_params(params))
            written = message.usage.cache_creation_input_tokens or 0
            read = message.usage.cache_read_input_tokens or 0
            assert written + read > 1000, extra


def test_groups_follow_the_cache_planners_valuation() -> None:
    """Two requests sharing a prefix: one read pays for a 5-minute write (0.25x premium) but not for
    an hour's (1x premium for a 0.9x saving); three or more pay for either."""
    plan = _plan(_body("one"))
    prefix = plan.candidates[0].prefix_hash
    assert choose_group(plan, {prefix: 2}, ttl="5m") == plan.candidates[0]
    assert choose_group(plan, {prefix: 2}, ttl="1h") is None
    assert choose_group(plan, {prefix: 3}, ttl="1h") == plan.candidates[0]
