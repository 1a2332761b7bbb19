"""JSONL logs of Messages API calls: the common 'log everything' format, one call per line.

Accepted line layouts (keys in any order; unknown keys ignored)::

    {"timestamp": "2026-11-10T09:00:01Z", "task": "triage", "workspace": "prod",
     "request": {...Messages request body...}, "response": {...Messages response...}}
    {"timestamp": 1762765201.5, "id": "msg_...", "type": "message", "model": "...", "usage": {...}}
    {"timestamp": "...", "custom_id": "...", "result": {"type": "succeeded", "message": {...}}}

Aliases: ``ts``/``time``/``created_at``/``start_time`` for the timestamp (ISO 8601 or epoch
seconds/milliseconds); ``request_body``/``params`` and ``response_body`` for the bodies;
``label``/``task_label`` or ``metadata.task`` for the task; ``workspace_id``/``api_key_id`` or
``metadata.workspace`` for the cache isolation key; ``latency_tolerant`` (top level or in
``metadata``) marks calls that can wait for the Batch API. When a line has several aliases of one
field, the first in that order is used. When the request body is present its shape (block hashes
and token estimates, never text) is kept for the caching simulation.

Error responses and batch results that did not succeed are not billed: they are skipped and
counted. A line that is not JSON, has no timestamp, no model or no usage is malformed. A response
logged without a timestamp can be dated with ``--logged-on`` (the date it was logged).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from clawback.audit.readers._common import (
    ReadContext,
    bool_field,
    load_line,
    parse_timestamp,
    read_lines,
    text_field,
    usage_counts,
)
from clawback.audit.readers._shapes import ShapeMaker, prompt_preview
from clawback.audit.records import AuditRecord

__all__ = ["RESPONSE_KEYS", "TIMESTAMP_KEYS", "JsonlReader", "NoTimestampError"]

TIMESTAMP_KEYS: Final = ("timestamp", "ts", "time", "created_at", "start_time")
TASK_KEYS: Final = ("task", "task_label", "label")
WORKSPACE_KEYS: Final = ("workspace", "workspace_id", "api_key_id")
REQUEST_KEYS: Final = ("request", "request_body", "params")
RESPONSE_KEYS: Final = ("response", "response_body")
ERROR_SKIP: Final = "error response (not billed)"


class NoTimestampError(ValueError):
    """A billed response logged without any timestamp field."""


def first_of(line: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    """The first of ``keys`` present in ``line`` and its value (even null), or ``(None, None)``."""
    for key in keys:
        if key in line:
            return key, line[key]
    return None, None


def _object(value: Any, name: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise ValueError(f"{name}: should be an object")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _alias_text(line: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The text of the first of ``keys`` present (None when it is null); ValueError when not a string."""
    key, _ = first_of(line, keys)
    return None if key is None else text_field(line, key)


class JsonlReader:
    """Reads JSONL logs of Messages request/response bodies."""

    name = "jsonl"

    def __init__(self) -> None:
        self._shapes = ShapeMaker()

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every billed call in ``path``."""
        return read_lines(self, path, ctx)

    def read_line(self, number: int, raw: bytes, ctx: ReadContext) -> AuditRecord | None:
        """The call on line ``number`` (None: skipped or malformed, logged in ``ctx``)."""
        try:
            line = load_line(raw)
            if not isinstance(line, dict):
                raise ValueError("expected a JSON object")
            return self._record(line, number, ctx)
        except NoTimestampError as exc:
            ctx.issues.no_timestamp += 1
            ctx.malformed(number, str(exc))
        except ValueError as exc:
            ctx.malformed(number, str(exc))
        return None

    def _response(self, line: Mapping[str, Any], ctx: ReadContext) -> tuple[Mapping[str, Any], str] | None:
        """The response object of a line and where it sits (None: a batch result not billed)."""
        result = _object(line.get("result"), "result")
        if result is not None:
            kind = text_field(result, "type", "result.")
            if kind is None:
                raise ValueError("result.type: missing")
            if kind != "succeeded":
                ctx.issues.skip(f"batch result {kind} (not billed)")
                return None
            message = _object(result.get("message"), "result.message")
            if message is None:
                raise ValueError("result.message: missing on a succeeded batch result")
            return message, "result.message."
        key, response = first_of(line, RESPONSE_KEYS)
        if response is not None:
            return _object(response, str(key)) or {}, f"{key}."
        return line, ""

    def _record(self, line: Mapping[str, Any], number: int, ctx: ReadContext) -> AuditRecord | None:
        found = self._response(line, ctx)
        if found is None:
            return None
        response, where = found
        if (
            response.get("type") == "error"
            or line.get("error") is not None
            or response.get("error") is not None
        ):
            ctx.issues.skip(ERROR_SKIP)
            return None
        key, raw_request = first_of(line, REQUEST_KEYS)
        request = _object(raw_request, str(key)) or {}
        model = text_field(response, "model", where) or _text(request.get("model"))
        if not model:
            raise ValueError("no model (response.model or request.model)")
        if response.get("usage") is None:
            raise ValueError("no usage object")
        counts = usage_counts(response["usage"], f"{where}usage")
        meta = _object(line.get("metadata"), "metadata") or {}
        ts = self._timestamp(line, ctx)
        task = _alias_text(line, TASK_KEYS)
        workspace = _alias_text(line, WORKSPACE_KEYS)
        tolerant = bool_field(line, "latency_tolerant")
        if tolerant is None and isinstance(meta.get("latency_tolerant"), bool):
            tolerant = meta["latency_tolerant"]
        max_tokens = request.get("max_tokens")
        shape = self._shape(request, model, ctx)
        return AuditRecord(
            ts=ts,
            model=model,
            **counts,
            task=task or _text(meta.get("task")),
            latency_tolerant=tolerant,
            workspace=workspace or _text(meta.get("workspace")) or "",
            shape=shape,
            preview=prompt_preview(request) if shape is not None else None,
            max_tokens=max_tokens
            if isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
            else None,
            stop_reason=text_field(response, "stop_reason", where),
            source=ctx.source_index,
            line=number,
        )

    def _timestamp(self, line: Mapping[str, Any], ctx: ReadContext) -> datetime:
        key, value = first_of(line, TIMESTAMP_KEYS)
        if key is None:
            logged_on = ctx.options.get("logged_on")
            if isinstance(logged_on, datetime):
                return logged_on
            raise NoTimestampError("no timestamp")
        return parse_timestamp(value)

    def _shape(self, request: Mapping[str, Any], model: str, ctx: ReadContext) -> Any:
        if not isinstance(request.get("messages"), list):
            return None
        try:
            return self._shapes.shape({**request, "model": model}, ctx.tokenizer_of(model))
        except (TypeError, KeyError, AttributeError, IndexError, UnicodeError) as exc:
            raise ValueError(f"request: its blocks can't be read ({type(exc).__name__})") from None
