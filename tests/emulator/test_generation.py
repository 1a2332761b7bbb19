"""Stop sequences, max_tokens and stop reasons on plain values."""

from __future__ import annotations

import pytest

from clawback.emulator.generation import complete, cut_to_tokens
from clawback.emulator.responders import Reply
from clawback.tokens import estimate_text_tokens


def reply(*texts: str, **extra: object) -> Reply:
    return Reply(tuple({"type": "text", "text": t} for t in texts), **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("r", "max_tokens", "stops", "expected_reason", "expected_text"),
    [
        (reply("hello world"), 100, (), "end_turn", "hello world"),
        (reply("hello world"), 0, (), "max_tokens", None),
        (reply("a b c d e f g h"), 3, (), "max_tokens", "a b c"),
        (reply("one two STOP three"), 100, ("STOP",), "stop_sequence", "one two "),
        (reply("x END y STOP"), 100, ("STOP", "END"), "stop_sequence", "x "),
        (reply("nothing to stop"), 100, ("STOP",), "end_turn", "nothing to stop"),
        (reply("refused", stop_reason="refusal"), 100, (), "refusal", "refused"),
    ],
)
def test_stop_reasons(
    r: Reply, max_tokens: int, stops: tuple[str, ...], expected_reason: str, expected_text: str | None
) -> None:
    out = complete(r, max_tokens=max_tokens, stop_sequences=stops)
    assert out.stop_reason == expected_reason
    if expected_text is None:
        assert out.content == () and out.output_tokens == 0
    else:
        assert out.content[0]["text"].strip() == expected_text.strip()
        assert 1 <= out.output_tokens <= max_tokens
    if expected_reason == "stop_sequence":
        assert out.stop_sequence in stops


def test_tool_use_blocks_stop_with_tool_use_and_get_ids() -> None:
    r = Reply(({"type": "text", "text": "checking"}, {"type": "tool_use", "name": "f", "input": {"a": 1}}))
    out = complete(r, max_tokens=100)
    assert out.stop_reason == "tool_use" and out.content[1]["id"].startswith("toolu_")
    assert complete(r, max_tokens=2).stop_reason == "max_tokens"  # the tool call does not fit


def test_empty_text_still_bills_one_output_token() -> None:
    assert complete(reply(""), max_tokens=10).output_tokens == 1


def test_recorded_output_tokens_are_used_and_capped() -> None:
    r = reply("short answer", output_tokens=40)
    assert complete(r, max_tokens=100).output_tokens == 40
    capped = complete(r, max_tokens=10)
    assert capped.output_tokens == 10 and capped.stop_reason == "max_tokens"


def test_newer_tokenizer_counts_more() -> None:
    text = "The quick brown fox jumps over the lazy dog " * 10
    old = complete(reply(text), max_tokens=1000, tokenizer="pre-4.7").output_tokens
    new = complete(reply(text), max_tokens=1000, tokenizer="4.7+").output_tokens
    assert new > old


@pytest.mark.parametrize("tokens", [0, 1, 5, 50])
def test_cut_to_tokens_fits(tokens: int) -> None:
    text = "word " * 100
    cut = cut_to_tokens(text, tokens, "pre-4.7")
    assert estimate_text_tokens(cut) <= tokens and text.startswith(cut)
