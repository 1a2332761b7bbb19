"""Usage read from what upstream sends back, without holding the stream (pure).

:class:`SseUsage` is fed the raw bytes of a Messages stream as they pass through and keeps only
the tail of an event not yet complete. It parses the JSON of the few events that carry facts —
``message_start`` (model, input and cache counts), ``message_delta`` (cumulative usage, stop
reason) and ``error`` — recognises ``message_stop`` and the content events by their ``event:``
line (an event without one is parsed), and skips the rest after a prefix check, so the cost per
chunk is a few byte searches. :func:`read_message` does the same for a whole JSON
Message. Neither raises on junk: a stream or body that can't be read yields no usage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MessageFacts", "SseUsage", "read_message"]

MAX_EVENT_BYTES = 16 * 1024 * 1024
"""An event longer than this (no blank line in sight) is dropped rather than held."""

_SKIP = (b"event: content_block_delta", b"event: ping", b"event: content_block_stop")
_CONTENT = (b"event: content_block_start", b"event: content_block_delta")
_STOP = b"event: message_stop\n"
_BLOCK_START = b"event: content_block_start\n"


@dataclass(slots=True)
class MessageFacts:
    """What a response says about itself: usage, model, stop reason, message id, error."""

    usage: dict[str, Any] | None = None
    model: str | None = None
    stop_reason: str | None = None
    message_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None


def _merge(into: dict[str, Any], usage: Any) -> None:
    if isinstance(usage, Mapping):
        for key, value in usage.items():
            if value is not None:
                into[key] = value


def read_message(body: bytes) -> MessageFacts:
    """The facts of a JSON Message (or an error body); empty facts when the body isn't one."""
    facts = MessageFacts()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return facts
    if not isinstance(data, dict):
        return facts
    if data.get("type") == "error":
        _error(facts, data.get("error"))
        return facts
    usage = data.get("usage")
    if isinstance(usage, dict):
        facts.usage = {k: v for k, v in usage.items() if v is not None}
    model = data.get("model")
    facts.model = model if isinstance(model, str) else None
    stop = data.get("stop_reason")
    facts.stop_reason = stop if isinstance(stop, str) else None
    mid = data.get("id")
    facts.message_id = mid if isinstance(mid, str) else None
    return facts


def _error(facts: MessageFacts, error: Any) -> None:
    if isinstance(error, Mapping):
        kind, message = error.get("type"), error.get("message")
        facts.error_type = kind if isinstance(kind, str) else "error"
        facts.error_message = message if isinstance(message, str) else None
    else:
        facts.error_type = "error"


class SseUsage:
    """Folds a Messages event stream, chunk by chunk, into its usage and outcome."""

    __slots__ = ("_buf", "completed", "content_seen", "events", "facts")

    def __init__(self) -> None:
        self._buf = b""
        self.facts = MessageFacts()
        self.completed = False
        self.content_seen = False
        self.events = 0

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the stream (any split, ``\\n`` or ``\\r\\n`` line ends)."""
        data = self._buf + chunk if self._buf else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            self._buf = data if len(data) <= MAX_EVENT_BYTES else b""
            return
        self._buf = data[end + 2 :]
        for event in data[:end].split(b"\n\n"):
            self._event(event)

    def _event(self, event: bytes) -> None:
        event = event.lstrip(b"\n")
        if not event:
            return
        self.events += 1
        if not self.content_seen and event.startswith(_CONTENT):
            self.content_seen = True
        if event.startswith(_SKIP) or event.startswith(_BLOCK_START):  # only content: nothing to read
            return
        if event.startswith(_STOP) and event.find(b'"message_stop"', len(_STOP)) > 0:
            self.completed = True  # its data says no more than its name
            return
        payload = _data_of(event)
        if payload is None:
            return
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        if isinstance(data, dict):
            self._apply(data)

    def _apply(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        facts = self.facts
        if kind == "message_start":
            message = data.get("message")
            if isinstance(message, Mapping):
                facts.usage = {}
                _merge(facts.usage, message.get("usage"))
                model = message.get("model")
                facts.model = model if isinstance(model, str) else facts.model
                mid = message.get("id")
                facts.message_id = mid if isinstance(mid, str) else facts.message_id
        elif kind == "message_delta":
            if facts.usage is None:
                facts.usage = {}
            _merge(facts.usage, data.get("usage"))
            delta = data.get("delta")
            if isinstance(delta, Mapping) and isinstance(delta.get("stop_reason"), str):
                facts.stop_reason = delta["stop_reason"]
        elif kind == "message_stop":
            self.completed = True
        elif kind == "error":
            _error(facts, data.get("error"))
        elif kind in ("content_block_start", "content_block_delta"):
            self.content_seen = True


def _data_of(event: bytes) -> bytes | None:
    """The ``data:`` of one event (several data lines joined by newlines, as SSE says)."""
    parts = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else b"\n".join(parts)
