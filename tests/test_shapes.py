from __future__ import annotations

import json
from typing import Any

from clawback.shapes import RequestShape, request_shape, shape_from_hash_blocks

SYSTEM = "You are a meticulous support-ticket classifier. " * 50


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 100,
        "tools": [{"name": "lookup", "description": "Look up an order", "input_schema": {"type": "object"}}],
        "system": SYSTEM,
        "messages": [{"role": "user", "content": "Where is my order 1234?"}],
    }
    base.update(changes)
    return base


def test_blocks_follow_tools_system_messages_order() -> None:
    shape = request_shape(body())
    assert [b.level for b in shape.blocks] == ["tools", "system", "messages"]
    assert [b.position for b in shape.blocks] == [0, 1, 2]
    assert shape.blocks[2].role == "user" and shape.blocks[2].message_index == 0
    assert shape.total_tokens == shape.prefix_tokens(2)


def test_hashes_ignore_cache_control_and_string_vs_list_form() -> None:
    plain = request_shape(body())
    listed = request_shape(
        body(
            system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            messages=[{"role": "user", "content": [{"type": "text", "text": "Where is my order 1234?"}]}],
        )
    )
    assert [b.prefix_hash for b in plain.blocks] == [b.prefix_hash for b in listed.blocks]
    assert listed.blocks[1].cache_ttl == "1h" and plain.blocks[1].cache_ttl is None


def test_changes_invalidate_their_level_and_everything_after() -> None:
    base = request_shape(body())
    new_tools = request_shape(body(tools=[{"name": "lookup2", "input_schema": {"type": "object"}}]))
    assert all(a.prefix_hash != b.prefix_hash for a, b in zip(base.blocks, new_tools.blocks, strict=True))
    choice = request_shape(body(tool_choice={"type": "any"}))
    assert choice.blocks[0].prefix_hash == base.blocks[0].prefix_hash
    assert choice.blocks[1].prefix_hash == base.blocks[1].prefix_hash
    assert choice.blocks[2].prefix_hash != base.blocks[2].prefix_hash
    fast = request_shape(body(speed="fast"))
    assert fast.blocks[0].prefix_hash == base.blocks[0].prefix_hash
    assert fast.blocks[1].prefix_hash != base.blocks[1].prefix_hash
    thinking = request_shape(body(thinking={"type": "adaptive"}))
    assert thinking.blocks[1].prefix_hash == base.blocks[1].prefix_hash
    assert thinking.blocks[2].prefix_hash != base.blocks[2].prefix_hash
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    with_image = request_shape(
        body(
            messages=[
                *body()["messages"],
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [image]},
            ]
        )
    )
    assert with_image.blocks[2].prefix_hash != base.blocks[2].prefix_hash
    default_effort = request_shape(body(output_config={"effort": "high"}))
    assert default_effort.blocks[2].prefix_hash == base.blocks[2].prefix_hash


def test_tool_use_input_key_order_matters_elsewhere_it_does_not() -> None:
    def convo(inp: dict[str, Any]) -> RequestShape:
        return request_shape(
            body(
                messages=[
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": inp}],
                    },
                ]
            )
        )

    assert convo({"a": 1, "b": 2}).blocks[-1].prefix_hash != convo({"b": 2, "a": 1}).blocks[-1].prefix_hash
    reordered = {"input_schema": {"type": "object"}, "description": "Look up an order", "name": "lookup"}
    assert (
        request_shape(body(tools=[reordered])).blocks[0].prefix_hash
        == request_shape(body()).blocks[0].prefix_hash
    )


def test_shape_keeps_no_text_and_round_trips() -> None:
    shape = request_shape(
        body(
            cache_control={"type": "ephemeral"},
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ],
        )
    )
    assert [b.index for b in shape.blocks] == [0, 0, 0, 1]
    data = json.dumps(shape.to_json())
    assert "classifier" not in data and "order 1234" not in data
    assert RequestShape.from_json(json.loads(data)) == shape
    assert shape.auto_cache_ttl == "5m"


def test_thinking_and_empty_text_cannot_carry_breakpoints() -> None:
    shape = request_shape(
        body(
            messages=[
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "text", "text": ""},
                    ],
                },
            ]
        )
    )
    assert [b.cacheable for b in shape.blocks[-2:]] == [False, False]


def test_new_tokenizer_counts_more() -> None:
    assert request_shape(body(), tokenizer="4.7+").total_tokens > request_shape(body()).total_tokens


def test_hash_block_traces() -> None:
    shape = shape_from_hash_blocks("claude-sonnet-5-5", [0, 1, 2], 1300)
    assert [b.tokens for b in shape.blocks] == [512, 512, 276]
    assert shape.blocks[0].prefix_hash == shape_from_hash_blocks("m", [0, 9], 600).blocks[0].prefix_hash


def _fresh_shape(b: dict[str, Any], **kwargs: Any) -> RequestShape:
    """The shape computed with every shape memo empty."""
    from clawback import shapes

    saved = (dict(shapes._ADD_MEMO), dict(shapes._FOLD_MEMO))
    shapes._ADD_MEMO.clear()
    shapes._FOLD_MEMO.clear()
    try:
        return request_shape(b, **kwargs)
    finally:
        shapes._ADD_MEMO.clear()
        shapes._FOLD_MEMO.clear()
        shapes._ADD_MEMO.update(saved[0])
        shapes._FOLD_MEMO.update(saved[1])


def test_memoised_blocks_equal_blocks_computed_afresh() -> None:
    """Blocks found in the memo are the ones computed from scratch, and a change anywhere changes them."""
    variants = [
        body(),
        body(system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]),
        body(system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]),
        body(system=SYSTEM + "!"),
        body(tools=[]),
        body(tool_choice={"type": "any"}),
        body(messages=[{"role": "assistant", "content": "Where is my order 1234?"}]),
        body(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
        body(
            messages=[{"role": "user", "content": [{"type": "thinking", "thinking": "x", "signature": "s"}]}]
        ),
        body(
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "user", "content": "Where is my order 1234?"},
            ]
        ),
        body(system=[{"type": "text", "text": "a"}, {"type": "text", "text": SYSTEM}]),
        body(model="claude-opus-4-7"),
    ]
    for tokenizer in ("pre-4.7", "4.7+"):
        for b in variants * 2:  # the second time round, every block comes from the memo
            assert request_shape(b, tokenizer=tokenizer) == _fresh_shape(b, tokenizer=tokenizer)
    shapes = {request_shape(b).to_json().__repr__() for b in variants}
    assert len(shapes) == len(variants)
    seven = request_shape(body(), count=lambda _block: 7)  # a caller's own counter is never memoised
    nine = request_shape(body(), count=lambda _block: 9)
    assert seven.blocks[1].tokens == 7 and nine.blocks[1].tokens == 9


def test_shape_memos_are_bounded() -> None:
    from clawback import shapes

    for i in range(shapes._SHAPE_MEMO_LIMIT + 50):
        request_shape(body(messages=[{"role": "user", "content": f"ticket {i}"}]))
    assert len(shapes._ADD_MEMO) <= shapes._SHAPE_MEMO_LIMIT
    assert len(shapes._FOLD_MEMO) <= shapes._SHAPE_MEMO_LIMIT
