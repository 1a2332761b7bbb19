"""The call record every audit reader produces, and the log of input it could not use (pure).

Each reader turns its own format into :class:`AuditRecord` values: one per API call, or one per
bucket of an aggregated report (``aggregated=True``: many calls whose count is not reported).
Token counts follow the Messages API's usage object: ``input_tokens`` are the uncached tokens
after the last cache breakpoint; cache writes are split into 5-minute and 1-hour writes.

Nothing a reader meets is dropped silently. A line that can't be read is *malformed* and goes to
:class:`IssueLog` with its file and line number; a line that is valid but is not a billed call (a
user turn in a transcript, a repeated streaming update, Claude Code's ``<synthetic>`` messages) is
*skipped* and counted by reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from clawback.shapes import RequestShape

__all__ = [
    "TOKEN_KINDS",
    "AuditRecord",
    "Issue",
    "IssueLog",
    "TokenKind",
]

TokenKind = Literal["uncached_input", "cache_write_5m", "cache_write_1h", "cache_read", "output"]
TOKEN_KINDS: Final[tuple[TokenKind, ...]] = (
    "uncached_input",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "output",
)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One API call (or one aggregated bucket) in the terms every reader shares."""

    ts: datetime
    """When the call was made (timezone-aware, UTC); a bucket's start for aggregated reports."""
    model: str
    """The model that served the call, as logged (resolved against the catalogue later)."""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_5m_input_tokens: int = 0
    cache_write_1h_input_tokens: int = 0
    web_search_requests: int = 0
    service_tier: str | None = None
    inference_geo: str | None = None
    speed: str | None = None
    task: str | None = None
    """The task label the log carries, if any (otherwise the audit groups by prompt template)."""
    latency_tolerant: bool | None = None
    """A label saying the caller can wait for the Batch API (None: not labelled)."""
    workspace: str = ""
    """The cache isolation key: workspace, API key or session (caches are never shared across)."""
    shape: RequestShape | None = None
    """The request's cacheable blocks (hashes and token counts, no text), when the log has them."""
    max_tokens: int | None = None
    stop_reason: str | None = None
    source: int = 0
    """Index of the input file the record came from (the audit keeps the list of files)."""
    line: int = 0
    """1-based line number in that file (0 when the format has no lines)."""
    aggregated: bool = False
    """True for a bucket of an aggregated report (usage or cost report): no per-call data."""
    reported_usd: Decimal | None = None
    """A cost the source already states (the cost report), used instead of pricing tokens."""
    reported_kind: str | None = None
    """The token kind (or ``other``) of ``reported_usd``."""
    until: datetime | None = None
    """The end of an aggregated report's bucket (its ``ending_at``), when the report gives one."""
    call_key: str | None = None
    """The API call a line belongs to when a log repeats a call over several lines (Claude Code's
    ``message.id|requestId``): the store keeps one record per key, the one with the most output."""
    preview: str | None = None
    """The first words of the request's prompt (system prompt, else first message), to name templates."""
    relayed: bool = False
    """A call seen second-hand (a subagent's call relayed in its parent's transcript): counted only
    when no record of the audit holds the same ``call_key`` first-hand."""

    @property
    def cache_write_tokens(self) -> int:
        """All cache writes, 5-minute and 1-hour."""
        return self.cache_write_5m_input_tokens + self.cache_write_1h_input_tokens

    @property
    def prompt_tokens(self) -> int:
        """Every input token: uncached, cache writes and cache reads."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_write_tokens


@dataclass(frozen=True, slots=True)
class Issue:
    """One piece of input that could not be used, and where it is."""

    source: str
    line: int | None
    reason: str
    where: str | None = None

    def describe(self) -> str:
        """``file:line: reason`` (or ``file (where): reason`` for whole-document formats)."""
        place = f"{self.source}:{self.line}" if self.line is not None else self.source
        if self.where:
            place += f" ({self.where})"
        return f"{place}: {self.reason}"

    def to_json(self) -> dict[str, object]:
        """Plain JSON."""
        return {"source": self.source, "line": self.line, "where": self.where, "reason": self.reason}


@dataclass(slots=True)
class IssueLog:
    """Counts malformed input (keeping the first ``keep`` in full) and skipped lines by reason."""

    keep: int = 200
    malformed_count: int = 0
    issues: list[Issue] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lines_read: int = 0
    files_skipped: list[tuple[str, str]] = field(default_factory=list)
    """Files not read, with the reason (a format that can't be told, a device…)."""
    no_timestamp: int = 0
    """Malformed lines that are billed responses logged without any timestamp (see ``--logged-on``)."""

    def malformed(self, source: str, line: int | None, reason: str, *, where: str | None = None) -> None:
        """Count one malformed line or item; keep it in full while under the limit."""
        self.malformed_count += 1
        if len(self.issues) < self.keep:
            self.issues.append(Issue(source, line, reason, where))

    def skip(self, reason: str, count: int = 1) -> None:
        """Count valid input that is not a billed call, by reason."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def skip_file(self, name: str, reason: str) -> None:
        """A whole file not read, and why (it never stops the other inputs)."""
        self.files_skipped.append((name, reason))

    def note(self, text: str) -> None:
        """A format-level remark shown with the results (each once)."""
        if text not in self.notes:
            self.notes.append(text)

    def to_json(self) -> dict[str, object]:
        """Counts, the kept issues, skipped lines by reason and notes."""
        return {
            "lines_read": self.lines_read,
            "malformed": self.malformed_count,
            "no_timestamp": self.no_timestamp,
            "malformed_shown": [i.to_json() for i in self.issues],
            "skipped": dict(sorted(self.skipped.items())),
            "files_skipped": [
                {"path": name, "reason": reason} for name, reason in self.files_skipped[: self.keep]
            ],
            "notes": list(self.notes),
        }
