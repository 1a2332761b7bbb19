from __future__ import annotations

import json
import statistics

from clawback.tokens import (
    IMAGE_TOKENS_DEFAULT,
    estimate_block_tokens,
    estimate_text_tokens,
    tool_overhead_tokens,
)
from tests.conftest import shared_file


def test_estimates_grow_with_text_and_new_tokenizer_counts_more() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("hello") == 1
    short = estimate_text_tokens("The quick brown fox jumps over the lazy dog.")
    assert 9 <= short <= 12
    long_text = "The quick brown fox jumps over the lazy dog. " * 100
    old, new = estimate_text_tokens(long_text), estimate_text_tokens(long_text, "4.7+")
    assert old > 900
    assert abs(new / old - 1.3) < 0.01


def test_blocks() -> None:
    assert (
        estimate_block_tokens({"type": "image", "source": {"type": "base64", "data": "x"}})
        == IMAGE_TOKENS_DEFAULT
    )
    tool = {"name": "get_weather", "description": "Get the weather", "input_schema": {"type": "object"}}
    assert estimate_block_tokens(tool) > 5
    assert estimate_block_tokens({"type": "tool_result", "tool_use_id": "t", "content": "42"}) >= 5


def test_tool_overhead_by_model() -> None:
    assert tool_overhead_tokens("claude-opus-4-7", None) == 675
    assert tool_overhead_tokens("claude-opus-4-7", {"type": "any"}) == 804
    assert tool_overhead_tokens("claude-opus-4-5-20251101", None) == 496
    assert tool_overhead_tokens("not-a-claude", None) == 0


def test_error_on_real_claude_prompts_is_small() -> None:
    """Against 809 real Claude 3 Haiku prompts (RouterArena): median error under 8%."""
    path = shared_file("data", "routerarena-cached", "claude-3-haiku-20240307.jsonl")
    errors = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        actual = row["token_usage"]["input_tokens"]
        if actual:
            estimate = estimate_text_tokens(row["question"]) + 5 + 3
            errors.append(abs(estimate - actual) / actual)
    assert len(errors) > 700
    assert statistics.median(errors) < 0.08
