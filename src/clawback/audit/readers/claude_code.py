"""Claude Code session transcripts (``~/.claude/projects/<project>/<session>.jsonl`` and subagents).

Assistant lines carry ``message.usage``, ``message.model``, ``message.id`` and ``requestId``.
Claude Code writes one line per content block of a response, each repeating the usage, and the
last one carries the final ``output_tokens`` of the stream; so one API call is the set of lines
sharing ``(message.id, requestId)``, and its usage is the line with the most output tokens. The
reader emits every usage line with that key (``call_key``); the audit's store keeps one record
per key (the most output tokens, the time and place of the first line) and counts the rest as
repeated lines, across all the files of an audit.

A subagent's calls are in its own transcript (``<session>/subagents/agent-<id>.jsonl``) and are
also relayed, while it runs, in ``progress`` lines of the parent transcript
(``data.message.message.usage``). Those are emitted as *relayed* records: the store counts one
only when no transcript of the audit holds the same call itself, so a call is never counted
twice and a subagent whose transcript is missing is not lost.

``<synthetic>`` messages (errors and notices Claude Code writes itself) are not API calls: they
are counted and skipped. User turns, tool results, progress and snapshot lines are counted as
lines without usage. Tasks are ``claude-code/main``, ``claude-code/subagent`` (sidechains and
relayed calls) and ``claude-code/compaction`` (the compaction agent); the session id is the cache
isolation key. Transcripts hold no system prompt or tool definitions, so there are no request shapes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
from clawback.audit.records import AuditRecord

__all__ = [
    "MAIN",
    "NO_USAGE",
    "SUBAGENT",
    "SYNTHETIC",
    "SYNTHETIC_MODEL",
    "ClaudeCodeReader",
    "call_key",
    "task_of",
]

SYNTHETIC_MODEL: Final = "<synthetic>"
MAIN: Final = "claude-code/main"
SUBAGENT: Final = "claude-code/subagent"
COMPACTION: Final = "claude-code/compaction"
NO_USAGE: Final = "transcript line without usage (user turn, tool result, progress, …)"
SYNTHETIC: Final = "<synthetic> message written by Claude Code (not an API call)"


def call_key(message_id: str | None, request_id: str | None) -> str | None:
    """The key one API call's lines share (None when a line names neither id)."""
    if not message_id and not request_id:
        return None
    return f"{message_id or ''}|{request_id or ''}"


def task_of(agent_id: str | None, sidechain: bool | None) -> str:
    """The task of a transcript line: compaction agent, subagent (sidechain) or the main agent."""
    if agent_id and agent_id.startswith("acompact"):
        return COMPACTION
    return SUBAGENT if sidechain else MAIN


def _relayed(line: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(the relayed line, its message) of a progress line relaying a subagent's API call."""
    if line.get("type") != "progress":
        return None
    data = line.get("data")
    inner = data.get("message") if isinstance(data, dict) else None
    message = inner.get("message") if isinstance(inner, dict) else None
    if isinstance(message, dict) and message.get("usage") is not None:
        return inner, message  # type: ignore[return-value]
    return None


class ClaudeCodeReader:
    """Reads Claude Code transcripts: one record per usage line, keyed by its API call."""

    name = "claude-code"

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every usage line of ``path`` (direct or relayed), in file order."""
        return read_lines(self, path, ctx)

    def read_line(self, number: int, raw: bytes, ctx: ReadContext) -> AuditRecord | None:
        """The usage record on line ``number`` (None: no usage, skipped or malformed, logged in ``ctx``)."""
        try:
            line = load_line(raw)
            if not isinstance(line, dict):
                raise ValueError("expected a JSON object")
            return self._record(line, number, ctx)
        except ValueError as exc:
            ctx.malformed(number, str(exc))
            return None

    def _record(self, line: Mapping[str, Any], number: int, ctx: ReadContext) -> AuditRecord | None:
        message = line.get("message")
        relayed = False
        outer: Mapping[str, Any] = line
        if not isinstance(message, dict) or message.get("usage") is None:
            found = _relayed(line)
            if found is None:
                ctx.issues.skip(NO_USAGE)
                return None
            (outer, message), relayed = found, True
        model = text_field(message, "model", "message.")
        if model == SYNTHETIC_MODEL:
            ctx.issues.skip(SYNTHETIC)
            return None
        if not model:
            raise ValueError("message.model: missing on a line with usage")
        counts = usage_counts(message["usage"], "message.usage")
        session = text_field(line, "sessionId") or ""
        if relayed:
            stamp = outer.get("timestamp") if outer.get("timestamp") is not None else line.get("timestamp")
            task = SUBAGENT
        else:
            stamp = line.get("timestamp")
            task = task_of(text_field(line, "agentId"), bool_field(line, "isSidechain"))
        return AuditRecord(
            ts=parse_timestamp(stamp),
            model=model,
            **counts,
            task=task,
            workspace=session,
            stop_reason=text_field(message, "stop_reason", "message."),
            source=ctx.source_index,
            line=number,
            call_key=call_key(text_field(message, "id", "message."), text_field(outer, "requestId")),
            relayed=relayed,
        )
