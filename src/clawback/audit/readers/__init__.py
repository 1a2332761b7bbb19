"""Readers, one per input format, each turning its input into :class:`~clawback.audit.records.AuditRecord`.

========== ================================================================
format     input
========== ================================================================
ledger     clawback's own ledger (SQLite file or PostgreSQL URL)
jsonl      JSONL logs of Messages request and response bodies
claude-code Claude Code session transcripts
admin-usage Admin API usage report JSON (aggregated)
admin-cost Admin API cost report JSON (aggregated)
trace      prefix-hash request traces (Mooncake style)
token-csv  token-count request traces in CSV (Azure LLM inference traces, or your own token log)
========== ================================================================
"""

from __future__ import annotations

from clawback.audit.readers._common import ReadContext, Reader
from clawback.audit.readers.detect import FORMATS, detect_format
from clawback.errors import UsageError

__all__ = ["FORMATS", "ReadContext", "Reader", "detect_format", "reader_for"]


def reader_for(name: str) -> Reader:
    """A fresh reader for format ``name`` (readers keep per-audit state such as seen call ids)."""
    if name == "jsonl":
        from clawback.audit.readers.jsonl import JsonlReader

        return JsonlReader()
    if name == "claude-code":
        from clawback.audit.readers.claude_code import ClaudeCodeReader

        return ClaudeCodeReader()
    if name == "admin-usage":
        from clawback.audit.readers.admin import AdminUsageReader

        return AdminUsageReader()
    if name == "admin-cost":
        from clawback.audit.readers.admin import AdminCostReader

        return AdminCostReader()
    if name == "trace":
        from clawback.audit.readers.trace import TraceReader

        return TraceReader()
    if name == "token-csv":
        from clawback.audit.readers.token_csv import TokenCsvReader

        return TokenCsvReader()
    if name == "ledger":
        from clawback.audit.readers.ledger import LedgerReader

        return LedgerReader()
    raise UsageError(f"unknown format {name!r}; expected one of: auto, {', '.join(FORMATS)}")
