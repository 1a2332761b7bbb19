"""Claude Code session transcripts (``~/.claude/projects/**/*.jsonl``).

Assistant lines carry ``message.usage``, ``message.model``, ``message.id`` and ``requestId``.
Claude Code writes one line per content block of a response, each repeating the usage, and the
last one carries the final ``output_tokens`` of the stream; so one API call is the set of lines
sharing ``(message.id, requestId)``, and its usage is the line with the most output tokens.
Repeated lines are counted as skipped, not as calls.

``<synthetic>`` messages (errors and notices Claude Code writes itself) are not API calls: they
are counted and skipped. User turns, tool results, progress and snapshot lines are counted as
lines without usage. Tasks are ``claude-code/main``, ``claude-code/subagent`` (sidechains) and
``claude-code/compaction`` (the compaction agent); the session id is the cache isolation key.
Transcripts hold no system prompt or tool definitions, so there are no request shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clawback.audit.readers._common import (
    ReadContext,
    UsageIn,
    describe_validation_error,
    iter_lines,
    parse_timestamp,
    usage_counts,
)
from clawback.audit.records import AuditRecord

__all__ = ["ClaudeCodeReader"]

SYNTHETIC_MODEL = "<synthetic>"


class _MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    model: str | None = None
    usage: UsageIn | None = None
    stop_reason: str | None = None


class _LineIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    timestamp: Any = None
    request_id: str | None = Field(default=None, alias="requestId")
    session_id: str | None = Field(default=None, alias="sessionId")
    is_sidechain: bool | None = Field(default=None, alias="isSidechain")
    agent_id: str | None = Field(default=None, alias="agentId")
    message: _MessageIn | dict[str, Any] | str | None = None


def _task(line: _LineIn) -> str:
    if line.agent_id and line.agent_id.startswith("acompact"):
        return "claude-code/compaction"
    if line.is_sidechain:
        return "claude-code/subagent"
    return "claude-code/main"


class ClaudeCodeReader:
    """Reads Claude Code transcripts, one record per API call."""

    name = "claude-code"

    def __init__(self) -> None:
        self._emitted: set[tuple[str, str]] = set()

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every deduplicated API call in ``path``, in order of first appearance."""
        pending: dict[tuple[str, str] | int, AuditRecord] = {}
        for number, raw in iter_lines(path, ctx):
            try:
                line = _LineIn.model_validate_json(raw)
            except ValidationError as exc:
                ctx.malformed(number, describe_validation_error(exc))
                continue
            message = line.message
            if not isinstance(message, _MessageIn) or message.usage is None:
                ctx.issues.skip("transcript line without usage (user turn, tool result, progress, …)")
                continue
            if message.model == SYNTHETIC_MODEL:
                ctx.issues.skip("<synthetic> message written by Claude Code (not an API call)")
                continue
            try:
                record = self._record(line, message, number, ctx)
            except ValueError as exc:
                ctx.malformed(number, str(exc))
                continue
            key: tuple[str, str] | int = (
                (message.id or "", line.request_id or "") if (message.id or line.request_id) else number
            )
            if key in self._emitted:
                ctx.issues.skip("repeated line of an API call already counted")
                continue
            if key in pending:
                ctx.issues.skip("repeated line of an API call already counted")
                kept = pending[key]
                if record.output_tokens > kept.output_tokens:
                    pending[key] = replace(record, ts=kept.ts, line=kept.line)
                continue
            pending[key] = record
        for key, record in pending.items():
            if isinstance(key, tuple):
                self._emitted.add(key)
            yield record

    def _record(self, line: _LineIn, message: _MessageIn, number: int, ctx: ReadContext) -> AuditRecord:
        if not message.model:
            raise ValueError("message.model: missing on a line with usage")
        assert message.usage is not None
        return AuditRecord(
            ts=parse_timestamp(line.timestamp),
            model=message.model,
            **usage_counts(message.usage),
            task=_task(line),
            workspace=line.session_id or "",
            stop_reason=message.stop_reason,
            source=ctx.source_index,
            line=number,
        )
