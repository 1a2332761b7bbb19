"""Light features of a Messages request, computed once per call for the routing policies (pure).

Everything here is cheap on purpose: the drop-in client computes features on every call, so the
work is bounded whatever the prompt's size. Text features look at the last user turn only, cut to
its first ``HEAD_CHARS`` and last ``TAIL_CHARS`` characters; context length is the character count
of every text block divided by four (an order of magnitude is all a rules table needs; use
:mod:`clawback.tokens` when a real estimate matters).

``FEATURES_VERSION`` names the exact recipe of :func:`hashed_features`; a trained router records the
version it was trained with and refuses to run with another.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "FEATURES_VERSION",
    "HEAD_CHARS",
    "TAIL_CHARS",
    "RequestFeatures",
    "feature_tokens",
    "hashed_features",
    "looks_like_reasoning",
    "request_features",
    "request_text",
]

FEATURES_VERSION: Final = "clawback-hashed-1"
HEAD_CHARS: Final = 1500
TAIL_CHARS: Final = 500
CHARS_PER_TOKEN: Final = 4
MAX_WORDS: Final = 400

_WORD = re.compile(r"[a-z]+|\d+")
_REASONING_WORDS = frozenset(
    [
        "prove",
        "derive",
        "calculate",
        "compute",
        "solve",
        "why",
        "explain",
        "analyze",
        "analyse",
        "compare",
        "debug",
        "plan",
        "reason",
        "justify",
        "estimate",
        "optimize",
        "optimise",
    ]
)
_REASONING_PHRASES = ("step by step", "step-by-step", "how many", "how much")
_DIGITS = "0123456789"
_MATH_SYMBOLS = "=+*/^<>%$×÷"
_OPTION = re.compile(r"(?:^|\n)\s*\(?[A-Ea-e][).:]\s")
_CODE_MARKS = ("```", "def ", "class ", "return ", "#include", "function ", "=>", ";\n", "{\n", "};")
_QUESTION = ("what", "why", "how", "which", "who", "when", "where")


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    """What the routing policies look at, for one request."""

    text: str
    """The last user turn's text, cut to its head and tail (see ``HEAD_CHARS``, ``TAIL_CHARS``)."""
    context_tokens: int
    """Rough size of every text block of the request (characters / 4)."""
    model: str | None = None
    task: str | None = None
    messages: int = 0
    has_tools: bool = False
    has_images: bool = False
    thinking: bool = False
    needs_reasoning: bool = False
    max_tokens: int | None = None


def _blocks_text(content: Any, parts: list[str]) -> bool:
    """Append the text of ``content`` (a string or a list of blocks); True if it holds an image."""
    if isinstance(content, str):
        parts.append(content)
        return False
    image = False
    if isinstance(content, Sequence):
        for block in content:
            if not isinstance(block, Mapping):
                continue
            kind = block.get("type")
            if kind == "text":
                parts.append(str(block.get("text", "")))
            elif kind in ("image", "document"):
                image = True
            elif kind == "tool_result":
                image = _blocks_text(block.get("content", ""), parts) or image
    return image


def request_text(body: Mapping[str, Any]) -> str:
    """The text of the last user turn of a Messages request body (empty if there is none)."""
    messages = body.get("messages")
    if not isinstance(messages, Sequence):
        return ""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            parts: list[str] = []
            _blocks_text(message.get("content", ""), parts)
            return "\n".join(parts)
    return ""


def _clip(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _math_symbols(text: str) -> int:
    return sum(map(text.count, _MATH_SYMBOLS))


def _reasoning_words(lowered: str, words: Iterable[str]) -> bool:
    return not _REASONING_WORDS.isdisjoint(words) or any(p in lowered for p in _REASONING_PHRASES)


def looks_like_reasoning(text: str) -> bool:
    """A heuristic: the text asks for multi-step work (solve, prove, explain why, arithmetic...)."""
    lowered = _clip(text).lower()
    return _reasoning_words(lowered, _WORD.findall(lowered)) or _math_symbols(lowered) >= 3


def request_features(
    body: Mapping[str, Any], *, task: str | None = None, needs_reasoning: bool | None = None
) -> RequestFeatures:
    """Features of a request body; ``needs_reasoning`` overrides the heuristic when given."""
    parts: list[str] = []
    images = False
    system = body.get("system")
    if system is not None:
        images = _blocks_text(system, parts)
    messages = body.get("messages")
    count = 0
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        for message in messages:
            if isinstance(message, Mapping):
                count += 1
                images = _blocks_text(message.get("content", ""), parts) or images
    chars = sum(len(p) for p in parts)
    text = _clip(request_text(body))
    thinking = body.get("thinking")
    thinks = isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")
    if needs_reasoning is None:
        needs_reasoning = thinks or looks_like_reasoning(text)
    max_tokens = body.get("max_tokens")
    model = body.get("model")
    return RequestFeatures(
        text=text,
        context_tokens=math.ceil(chars / CHARS_PER_TOKEN),
        model=model if isinstance(model, str) else None,
        task=task,
        messages=count,
        has_tools=bool(body.get("tools")),
        has_images=images,
        thinking=thinks,
        needs_reasoning=needs_reasoning,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
    )


def _bucket(value: int) -> int:
    """0, 1, 2-3, 4-7, ... as 0, 1, 2, 3, ...: a log2 bucket that keeps small counts apart."""
    return value.bit_length()


def _light_tokens(text: str, lowered: str, words: Sequence[str]) -> list[str]:
    tokens = [
        f"__chars_{_bucket(len(text) // 16)}",
        f"__words_{_bucket(len(words) // 4)}",
        f"__digits_{_bucket(sum(map(text.count, _DIGITS)))}",
        f"__math_{_bucket(_math_symbols(text))}",
        f"__lines_{_bucket(text.count(chr(10)))}",
    ]
    if _OPTION.search(text):
        tokens.append("__options")
    if any(mark in text for mark in _CODE_MARKS):
        tokens.append("__code")
    if "?" in text:
        tokens.append("__question_mark")
    if _reasoning_words(lowered, words):
        tokens.append("__reasoning")
    if any(ch.isdigit() for ch in text[-40:]):
        tokens.append("__ends_with_number")
    head = lowered[:200]
    tokens.extend(f"__q_{word}" for word in _QUESTION if word in head)
    return tokens


def feature_tokens(text: str) -> list[str]:
    """The tokens :func:`hashed_features` hashes: words and numbers of ``text`` plus light markers."""
    clipped = _clip(text)
    lowered = clipped.lower()
    words = _WORD.findall(lowered)
    light = _light_tokens(clipped, lowered, words)
    if len(words) > MAX_WORDS:
        words = words[: MAX_WORDS - 100] + words[-100:]
    return [*words, *light]


def hashed_features(text: str, buckets: int, *, answer: str | None = None) -> tuple[int, ...]:
    """The sorted, distinct hashed feature indices of ``text`` (and of ``answer``, kept apart).

    Each token is hashed with CRC-32 modulo ``buckets``; an answer's tokens are prefixed ``a:`` so
    a word in the answer is a different feature from the same word in the prompt. A trained model
    scores ``bias + sum(weights[i]) / sqrt(len(indices))``: binary presence, L2-normalised, the same
    recipe the trainer used.
    """
    tokens = feature_tokens(text)
    if answer is not None:
        tokens.extend("a:" + token for token in feature_tokens(answer))
    return tuple(sorted({zlib.crc32(token.encode("utf-8")) % buckets for token in tokens}))
