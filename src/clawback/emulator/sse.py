"""A Message as the server-sent events of a streaming response, in the documented order (pure).

``message_start`` (the message with empty content and the full input usage) → for each content
block ``content_block_start``, its deltas (``text_delta`` or ``input_json_delta``) and
``content_block_stop``, with a ``ping`` after the first block starts → ``message_delta`` (stop
reason and *cumulative* usage) → ``message_stop``. A mid-stream failure is an ``error`` event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from clawback.emulator.wire import ApiError, dumps

__all__ = ["SseEvent", "error_event", "message_events"]

TEXT_CHUNK_CHARS: Final = 32
JSON_CHUNK_CHARS: Final = 48


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One encoded event and the output tokens it carries (for pacing)."""

    data: bytes
    tokens: float = 0.0


def _event(name: str, payload: Mapping[str, Any], tokens: float = 0.0) -> SseEvent:
    return SseEvent(b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n", tokens)


def error_event(error: ApiError, request_id: str) -> bytes:
    """An SSE ``error`` event."""
    return _event("error", {"type": "error", "error": error.to_error(), "request_id": request_id}).data


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _block_events(index: int, block: Mapping[str, Any], per_char: float) -> list[SseEvent]:
    if block.get("type") == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        text = json.dumps(block.get("input", {}), ensure_ascii=False, separators=(",", ":"))
        delta_kind, field, size = "input_json_delta", "partial_json", JSON_CHUNK_CHARS
    else:
        start = {"type": "text", "text": ""}
        text = str(block.get("text", ""))
        delta_kind, field, size = "text_delta", "text", TEXT_CHUNK_CHARS
    events = [
        _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
    ]
    if index == 0:
        events.append(_event("ping", {"type": "ping"}))
    for piece in _chunks(text, size):
        if not piece and text:
            continue
        payload = {"type": "content_block_delta", "index": index, "delta": {"type": delta_kind, field: piece}}
        events.append(_event("content_block_delta", payload, len(piece) * per_char))
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def message_events(message: Mapping[str, Any]) -> list[SseEvent]:
    """The events of a streamed ``message`` (a complete Message object)."""
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    head = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    events = [_event("message_start", {"type": "message_start", "message": head})]
    content = message["content"]
    chars = sum(len(str(b.get("text", ""))) + len(json.dumps(b.get("input", ""))) for b in content) or 1
    per_char = usage["output_tokens"] / chars
    for index, block in enumerate(content):
        events.extend(_block_events(index, block, per_char))
    delta_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "stop_details": None,
    }
    events.append(_event("message_delta", {"type": "message_delta", "delta": delta, "usage": delta_usage}))
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events
