"""Turning a reply into what the model "generated": stop sequences, ``max_tokens``, stop reason (pure).

Rules, per the Messages API reference:

* ``max_tokens: 0`` generates nothing: empty content, ``stop_reason: "max_tokens"``, zero output.
* Text is scanned for the earliest of the request's ``stop_sequences``; generation stops before it
  with ``stop_reason: "stop_sequence"`` and ``stop_sequence`` set to the one that matched.
* Output is cut when it would pass ``max_tokens`` (``stop_reason: "max_tokens"``); a ``tool_use``
  block that does not fit is dropped.
* A reply holding a ``tool_use`` block stops with ``"tool_use"``; otherwise ``"end_turn"`` unless
  the reply overrides it (a replayed ``"refusal"``).
* ``output_tokens`` is the estimate of the generated content for the model's tokenizer (or the
  recorded count of a replayed answer), never more than ``max_tokens`` and at least 1.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from clawback.emulator.responders import Reply
from clawback.tokens import estimate_text_tokens

__all__ = ["Completion", "complete", "cut_to_tokens"]

Tokenizer = Literal["pre-4.7", "4.7+"]
_UNLIMITED = 1 << 62


@dataclass(frozen=True, slots=True)
class Completion:
    """The generated content and how generation ended."""

    content: tuple[dict[str, Any], ...]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def cut_to_tokens(text: str, tokens: int, tokenizer: Tokenizer) -> str:
    """The longest prefix of ``text`` whose estimate is at most ``tokens``.

    The search first doubles a prefix until it no longer fits, so cutting a few tokens off a
    megabyte of text reads a few kilobytes, not the megabyte (the estimate grows with the prefix).
    """
    if tokens <= 0:
        return ""
    lo, hi = 0, min(len(text), max(64, tokens * 8))
    while hi < len(text) and estimate_text_tokens(text[:hi], tokenizer) <= tokens:
        lo, hi = hi, min(len(text), hi * 2)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_text_tokens(text[:mid], tokenizer) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


_PROBE_CHARS = 65_536


def _cost(text: str, budget: int, tokenizer: Tokenizer, count: Callable[[str, Tokenizer], int]) -> int:
    """``count(text)``, or for a long text that cannot fit, the (larger) count of a prefix."""
    probe = max(_PROBE_CHARS, budget * 8)
    while probe < len(text):
        cost = count(text[:probe], tokenizer)
        if cost > budget:
            return cost
        probe *= 4
    return count(text, tokenizer)


def _first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, stop)
    return best


def _tool_use(block: Mapping[str, Any]) -> dict[str, Any]:
    out = {"type": "tool_use", "id": block.get("id") or f"toolu_01{secrets.token_hex(11)}"}
    out["name"] = str(block.get("name", "tool"))
    out["input"] = block.get("input") if isinstance(block.get("input"), Mapping) else {}
    return out


def complete(
    reply: Reply,
    *,
    max_tokens: int,
    stop_sequences: Sequence[str] = (),
    tokenizer: Tokenizer = "pre-4.7",
    count: Callable[[str, Tokenizer], int] = estimate_text_tokens,
) -> Completion:
    """Apply stop sequences and ``max_tokens`` to ``reply``; ``count`` estimates a text's tokens."""
    if max_tokens <= 0:
        return Completion((), "max_tokens", None, 0)
    recorded = reply.output_tokens
    # a recorded answer that fitted is served whole; one that did not is cut at max_tokens
    budget = max_tokens if recorded is None or recorded > max_tokens else _UNLIMITED
    content: list[dict[str, Any]] = []
    used = 0
    stop_reason: str | None = None
    stop_sequence: str | None = None
    tool_called = False
    for block in reply.content:
        if block.get("type") == "tool_use":
            tool = _tool_use(block)
            cost = count(json.dumps(tool["input"], separators=(",", ":")), tokenizer) + 8
            if used + cost > budget:
                stop_reason = "max_tokens"
                break
            content.append(tool)
            used += cost
            tool_called = True
            continue
        if block.get("type", "text") != "text":
            continue  # only text and tool_use blocks are generated
        text = str(block.get("text", ""))
        found = _first_stop(text, stop_sequences)
        if found is not None:
            text = text[: found[0]]
        cost = _cost(text, budget - used, tokenizer, count)
        if used + cost > budget:
            content.append({"type": "text", "text": cut_to_tokens(text, budget - used, tokenizer)})
            stop_reason = "max_tokens"
            break
        content.append({"type": "text", "text": text})
        used += cost
        if found is not None:
            stop_reason, stop_sequence = "stop_sequence", found[1]
            break
    if recorded is not None and recorded > max_tokens and stop_reason != "stop_sequence":
        stop_reason = "max_tokens"  # the recorded answer was longer than this request allows
    if stop_reason == "max_tokens":
        used = max_tokens
    elif stop_reason == "stop_sequence":
        used = used if recorded is None else min(used, recorded)
    else:
        stop_reason = "tool_use" if tool_called else (reply.stop_reason or "end_turn")
        used = used if recorded is None else recorded
    return Completion(tuple(content), stop_reason, stop_sequence, max(1, min(used, max_tokens)))
