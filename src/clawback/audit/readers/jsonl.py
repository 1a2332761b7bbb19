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
``metadata``) marks calls that can wait for the Batch API. When the request body is present its
shape (block hashes and token estimates, never text) is kept for the caching simulation.

Error responses and batch results that did not succeed are not billed: they are skipped and
counted. A line that is not JSON, has no timestamp, no model or no usage is malformed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from clawback.audit.readers._common import (
    ReadContext,
    UsageIn,
    describe_validation_error,
    iter_lines,
    parse_timestamp,
    usage_counts,
)
from clawback.audit.readers._shapes import ShapeMaker
from clawback.audit.records import AuditRecord

__all__ = ["JsonlReader"]


class _MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    type: str | None = None
    model: str | None = None
    usage: UsageIn | None = None
    stop_reason: str | None = None
    error: Any = None


class _ResultIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    message: _MessageIn | None = None


class _LineIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    timestamp: Any = Field(
        default=None,
        validation_alias=AliasChoices("timestamp", "ts", "time", "created_at", "start_time"),
    )
    task: str | None = Field(default=None, validation_alias=AliasChoices("task", "task_label", "label"))
    workspace: str | None = Field(
        default=None, validation_alias=AliasChoices("workspace", "workspace_id", "api_key_id")
    )
    latency_tolerant: bool | None = None
    metadata: dict[str, Any] | None = None
    request: dict[str, Any] | None = Field(
        default=None, validation_alias=AliasChoices("request", "request_body", "params")
    )
    response: _MessageIn | None = Field(
        default=None, validation_alias=AliasChoices("response", "response_body")
    )
    result: _ResultIn | None = None
    # a bare response object on the line
    type: str | None = None
    model: str | None = None
    usage: UsageIn | None = None
    stop_reason: str | None = None
    error: Any = None


class JsonlReader:
    """Reads JSONL logs of Messages request/response bodies."""

    name = "jsonl"

    def __init__(self) -> None:
        self._shapes = ShapeMaker()

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every billed call in ``path``."""
        for number, raw in iter_lines(path, ctx):
            try:
                line = _LineIn.model_validate_json(raw)
            except ValidationError as exc:
                ctx.malformed(number, describe_validation_error(exc))
                continue
            try:
                record = self._record(line, number, ctx)
            except ValueError as exc:
                ctx.malformed(number, str(exc))
                continue
            if record is not None:
                yield record

    def _response(self, line: _LineIn, ctx: ReadContext) -> _MessageIn | None:
        if line.result is not None:
            if line.result.type != "succeeded":
                ctx.issues.skip(f"batch result {line.result.type} (not billed)")
                return None
            if line.result.message is None:
                raise ValueError("result.message: missing on a succeeded batch result")
            return line.result.message
        if line.response is not None:
            return line.response
        return _MessageIn(type=line.type, model=line.model, usage=line.usage, stop_reason=line.stop_reason)

    def _record(self, line: _LineIn, number: int, ctx: ReadContext) -> AuditRecord | None:
        response = self._response(line, ctx)
        if response is None:
            return None
        if response.type == "error" or line.error is not None or response.error is not None:
            ctx.issues.skip("error response (not billed)")
            return None
        request = line.request or {}
        model = response.model or _text(request.get("model"))
        if not model:
            raise ValueError("no model (response.model or request.model)")
        if response.usage is None:
            raise ValueError("no usage object")
        meta: Mapping[str, Any] = line.metadata or {}
        ts = parse_timestamp(line.timestamp)
        shape = None
        if isinstance(request.get("messages"), list):
            shape = self._shapes.shape({**request, "model": model}, ctx.tokenizer_of(model))
        tolerant = line.latency_tolerant
        if tolerant is None and isinstance(meta.get("latency_tolerant"), bool):
            tolerant = meta["latency_tolerant"]
        max_tokens = request.get("max_tokens")
        return AuditRecord(
            ts=ts,
            model=model,
            **usage_counts(response.usage),
            task=line.task or _text(meta.get("task")),
            latency_tolerant=tolerant,
            workspace=line.workspace or _text(meta.get("workspace")) or "",
            shape=shape,
            max_tokens=max_tokens
            if isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
            else None,
            stop_reason=response.stop_reason,
            source=ctx.source_index,
            line=number,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
