"""Offline token estimates, per tokenizer generation (pure).

There is no official local tokenizer for Claude models. This estimator splits text into words,
digit runs, line breaks and punctuation and charges each piece what the previous-generation
tokenizer charges on average; Claude 4.7 and later models (and Haiku 5.5, Fable, Mythos) use a
newer tokenizer that produces about 30% more tokens for the same text, so their estimate is scaled
by 1.3.

Measured error (``benchmarks/token_estimator.py`` against 809 real Claude 3 Haiku prompts and
answers from RouterArena; figures in ``docs/benchmarks.md``): median absolute error about 4% on
prompts and 6% on answers. The 4.7+ factor is Anthropic's published "approximately 30%" and is not
measured here. For exact counts use :class:`clawback.token_counter.TokenCounter`, which calls
``/v1/messages/count_tokens``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

__all__ = [
    "IMAGE_TOKENS_DEFAULT",
    "NEW_TOKENIZER_FACTOR",
    "estimate_block_tokens",
    "estimate_text_tokens",
    "tool_overhead_tokens",
]

Tokenizer = Literal["pre-4.7", "4.7+"]

NEW_TOKENIZER_FACTOR: Final = 1.3
IMAGE_TOKENS_DEFAULT: Final = 1600  # a full-size (about 1.15 megapixel) image
PDF_TOKENS_PER_PAGE: Final = 2000
MESSAGE_FRAMING_TOKENS: Final = 3
REQUEST_FRAMING_TOKENS: Final = 5

_PIECE = re.compile(r"[^\W\d_]+|\d+|\s+|.", re.UNICODE | re.DOTALL)
_LONG_WORD = 7
_CHARS_PER_TOKEN_LONG_WORD = 6.0

# Extra input tokens when at least one tool is sent (pricing page, "Tool use system prompt"):
# (auto/none, any/tool). Models missing from the published table use their generation's value.
_TOOL_OVERHEAD: Final[dict[str, tuple[int, int]]] = {
    "claude-haiku-5-5": (286, 406),
    "claude-opus-5": (286, 406),
    "claude-opus-5-5": (286, 406),  # not published; Opus 5's value
    "claude-sonnet-5-5": (354, 474),  # not published; Sonnet 5's value
    "claude-fable": (286, 406),  # not published; Opus 5's value
    "claude-mythos": (286, 406),  # not published; Opus 5's value
    "claude-opus-4-8": (290, 410),
    "claude-opus-4-7": (675, 804),
    "claude-opus-4-6": (497, 589),
    "claude-sonnet-4-6": (497, 589),
    "claude-opus-4-5": (496, 588),
    "claude-sonnet-4-5": (496, 588),
    "claude-haiku-4-5": (496, 588),
    "claude-sonnet-5": (354, 474),
    "claude-opus-4-1": (313, 315),
    "claude-opus-4": (313, 315),
    "claude-sonnet-4": (313, 315),
    "claude-3-5-haiku": (264, 355),
    "claude-3-haiku": (264, 340),
}


def _piece_tokens(piece: str) -> float:
    first = piece[0]
    if first.isalpha():
        if any(ord(ch) >= 0x2E80 for ch in piece):  # CJK and other ideographic scripts
            return float(len(piece))
        return 1.0 if len(piece) <= _LONG_WORD else len(piece) / _CHARS_PER_TOKEN_LONG_WORD
    if first.isdigit():
        return float(len(piece))
    if first.isspace():
        return float(piece.count("\n") + piece.count("\t"))
    return 1.0


_ALPHA_RUN = re.compile(r"[^\W\d_]+")
_LONG_RUN = re.compile(rf"[^\W\d_]{{{_LONG_WORD + 1},}}")
_DIGIT = re.compile(r"\d")
_OTHER = re.compile(r"[^\w\s]|_")


def _fast_total(text: str) -> float:
    """The same sum as piece by piece, counted with C-level regex scans (no CJK text)."""
    long_runs = _LONG_RUN.findall(text)
    short = len(_ALPHA_RUN.findall(text)) - len(long_runs)
    long_chars = sum(map(len, long_runs))
    return (
        short
        + long_chars / _CHARS_PER_TOKEN_LONG_WORD
        + len(_DIGIT.findall(text))
        + text.count("\n")
        + text.count("\t")
        + len(_OTHER.findall(text))
    )


_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_ASCII_DIGITS = b"0123456789"
_ASCII_SPACE = b" \t\n\r\x0b\x0c"  # what a bytes regex's \s matches
_LETTERS_ONLY = bytes(c if c in _ASCII_LETTERS else 32 for c in range(256))
_NOT_OTHER = _ASCII_LETTERS + _ASCII_DIGITS + _ASCII_SPACE


def _ascii_total(text: str) -> float:
    """The same sum for ASCII text, counted with byte translations (no regex engine: the client's hot path).

    Letter runs are the words left when every other byte becomes a space; digits and "other"
    characters (not a letter, digit or whitespace) are counted by deleting the rest.
    """
    data = text.encode("ascii")
    runs = data.translate(_LETTERS_ONLY).split()
    long_runs = [run for run in runs if len(run) > _LONG_WORD]
    return (
        len(runs)
        - len(long_runs)
        + sum(map(len, long_runs)) / _CHARS_PER_TOKEN_LONG_WORD
        + (len(data) - len(data.translate(None, _ASCII_DIGITS)))
        + data.count(b"\n")
        + data.count(b"\t")
        + len(data.translate(None, _NOT_OTHER))
    )


def estimate_text_tokens(text: str, tokenizer: Tokenizer = "pre-4.7") -> int:
    """Estimated tokens for ``text`` under a tokenizer generation (at least 1 for non-empty text)."""
    if not text:
        return 0
    if text.isascii():
        total = _ascii_total(text)
    elif not any(ord(ch) >= 0x2E80 for ch in text):
        total = _fast_total(text)
    else:
        total = sum(_piece_tokens(m.group(0)) for m in _PIECE.finditer(text))
    if tokenizer == "4.7+":
        total *= NEW_TOKENIZER_FACTOR
    return max(1, math.ceil(total - 1e-9))  # the tolerance absorbs float noise in the sum


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def estimate_block_tokens(block: Mapping[str, Any], tokenizer: Tokenizer = "pre-4.7") -> int:
    """Estimated tokens for one request content block or tool definition."""
    kind = block.get("type", "text" if "text" in block else "definition")
    if kind == "text":
        return estimate_text_tokens(str(block.get("text", "")), tokenizer)
    if kind == "image":
        return _image_tokens(block)
    if kind == "document":
        return _document_tokens(block, tokenizer)
    if kind in ("thinking", "redacted_thinking"):
        return estimate_text_tokens(str(block.get("thinking", block.get("data", ""))), tokenizer)
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            inner = sum(estimate_block_tokens(b, tokenizer) for b in content if isinstance(b, Mapping))
        else:
            inner = estimate_text_tokens(str(content), tokenizer)
        return inner + 4
    # tool definitions, tool_use, search results and anything else: their JSON as text
    stripped = {k: v for k, v in block.items() if k != "cache_control"}
    return estimate_text_tokens(_json_text(stripped), tokenizer)


def _image_tokens(block: Mapping[str, Any]) -> int:
    source = block.get("source")
    if isinstance(source, Mapping):
        width, height = source.get("width"), source.get("height")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            return min(IMAGE_TOKENS_DEFAULT, math.ceil(width * height / 750))
    return IMAGE_TOKENS_DEFAULT


def _document_tokens(block: Mapping[str, Any], tokenizer: Tokenizer) -> int:
    source = block.get("source")
    if isinstance(source, Mapping):
        if source.get("type") == "text":
            return estimate_text_tokens(str(source.get("data", "")), tokenizer)
        data = source.get("data")
        if isinstance(data, str):  # base64 PDF: about 3 KB of text per page in a typical PDF
            pages = max(1, math.ceil(len(data) * 3 / 4 / 50_000))
            return pages * PDF_TOKENS_PER_PAGE
    return PDF_TOKENS_PER_PAGE


def tool_overhead_tokens(model_id: str, tool_choice: Mapping[str, Any] | None) -> int:
    """System-prompt tokens the API adds when tools are sent (0 for unknown models)."""
    forced = isinstance(tool_choice, Mapping) and tool_choice.get("type") in ("any", "tool")
    best = ""
    for prefix in _TOOL_OVERHEAD:
        if model_id.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    if not best:
        return 0
    auto, any_tool = _TOOL_OVERHEAD[best]
    return any_tool if forced else auto
