"""Request features: what the policies see, bounded work, stable hashing."""

from __future__ import annotations

import pytest

from clawback.routing.features import (
    HEAD_CHARS,
    TAIL_CHARS,
    feature_tokens,
    hashed_features,
    looks_like_reasoning,
    request_features,
    request_text,
)


def _body(text: str, **extra: object) -> dict[str, object]:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def test_last_user_turn_is_the_text() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "second"}, {"type": "image", "source": {}}],
            },
        ]
    }
    assert request_text(body) == "second"
    f = request_features(body)
    assert f.text == "second"
    assert f.has_images
    assert f.messages == 3


def test_context_counts_every_text_block_including_system() -> None:
    f = request_features(_body("x" * 400, system="y" * 400))
    assert f.context_tokens == 200
    assert f.model == "claude-sonnet-5-5"
    assert f.max_tokens == 64


@pytest.mark.parametrize(
    ("text", "reasoning"),
    [
        ("Classify this ticket: my card has not arrived", False),
        ("Solve for x: 3x + 2 = 11", True),
        ("Explain why the sky is blue", True),
        ("What is 12 * 7 + 3 * 2?", True),
        ("Translate 'hello' to French", False),
    ],
)
def test_reasoning_heuristic(text: str, reasoning: bool) -> None:
    assert looks_like_reasoning(text) is reasoning
    assert request_features(_body(text)).needs_reasoning is reasoning


def test_explicit_reasoning_flag_and_thinking_win() -> None:
    assert request_features(_body("Solve it"), needs_reasoning=False).needs_reasoning is False
    thinking = request_features(_body("hello", thinking={"type": "enabled", "budget_tokens": 1024}))
    assert thinking.thinking and thinking.needs_reasoning


def test_text_is_clipped_to_head_and_tail() -> None:
    long = "a" * 10_000 + "END"
    f = request_features(_body(long))
    assert len(f.text) <= HEAD_CHARS + TAIL_CHARS + 1
    assert f.text.endswith("END")


def test_hashed_features_are_stable_sorted_and_in_range() -> None:
    a = hashed_features("How many apples are left?", 1024)
    assert a == hashed_features("How many apples are left?", 1024)
    assert list(a) == sorted(set(a))
    assert all(0 <= i < 1024 for i in a)


def test_answer_tokens_are_kept_apart_from_prompt_tokens() -> None:
    alone = set(hashed_features("apples", 1 << 20))
    with_answer = set(hashed_features("apples", 1 << 20, answer="apples"))
    assert alone < with_answer


def test_light_markers() -> None:
    tokens = feature_tokens("Which is right?\nA. one\nB. two\n```python\ndef f(): pass\n```")
    assert "__options" in tokens
    assert "__code" in tokens
    assert "__question_mark" in tokens
    assert "__q_which" in tokens


def test_empty_request_has_no_text() -> None:
    f = request_features({})
    assert f.text == ""
    assert f.context_tokens == 0
    assert hashed_features("", 64)  # light markers only; never empty
