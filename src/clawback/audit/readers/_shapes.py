"""Request shapes for logged request bodies, with token estimates memoised per block text.

Logs repeat the same system prompts, tools and documents thousands of times; estimating their
tokens once per distinct text keeps shape building cheap on large logs. The shape itself (hashes,
breakpoints) is built by :func:`clawback.shapes.request_shape`, unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from clawback import tokens as _tokens
from clawback.shapes import RequestShape, request_shape

__all__ = ["ShapeMaker", "prompt_preview"]

_MEMO_LIMIT = 50_000


class ShapeMaker:
    """Builds request shapes, remembering each distinct block's token estimate."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str], int] = {}

    def _count(self, block: Mapping[str, Any], tokenizer: str) -> int:
        if block.get("type") == "text" and isinstance(block.get("text"), str) and len(block) <= 3:
            key = (tokenizer, block["text"])
        else:
            key = (tokenizer, json.dumps(block, sort_keys=True, ensure_ascii=False, default=str))
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            found = _tokens.estimate_block_tokens(block, "4.7+" if tokenizer == "4.7+" else "pre-4.7")
            self._memo[key] = found
        return found

    def shape(self, body: Mapping[str, Any], tokenizer: str) -> RequestShape:
        """The shape of a Messages request body, estimating tokens for ``tokenizer``."""
        return request_shape(
            body,
            tokenizer="4.7+" if tokenizer == "4.7+" else "pre-4.7",
            count=lambda block: self._count(block, tokenizer),
        )


_PREVIEW_WORDS = 8
_PREVIEW_CHARS = 60


def _first_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for block in value:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                return str(block["text"])
    return None


def prompt_preview(body: Mapping[str, Any]) -> str | None:
    """The first words of a request's prompt: its system prompt, else its first message (None: no text)."""
    text = _first_text(body.get("system"))
    messages = body.get("messages")
    if not text and isinstance(messages, list) and messages and isinstance(messages[0], dict):
        text = _first_text(messages[0].get("content"))
    if not text:
        return None
    words = text.split()
    short = " ".join(words[:_PREVIEW_WORDS])
    if len(short) > _PREVIEW_CHARS:
        short = short[:_PREVIEW_CHARS].rstrip()
    return short + ("…" if short != " ".join(words) else "")
