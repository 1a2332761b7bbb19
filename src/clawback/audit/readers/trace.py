"""Prefix-hash request traces (Mooncake FAST'25 style), one request per line.

Each line: ``timestamp`` (milliseconds from the start of the trace), ``input_length``,
``output_length`` and ``hash_ids`` (one id per 512-token prefix block; equal ids mean equal
prefixes). A trace names no model and bills nothing, so the audit serves it on the model given
with ``--model`` (default ``claude-sonnet-5-5``), starting at ``--trace-start`` (default: today,
00:00 UTC), and prices "today" as uncached input — the cost with no caching. Shapes are built
with :func:`clawback.shapes.shape_from_hash_blocks`, so the caching replay sees the real
prefix sharing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clawback.audit.readers._common import MAX_TOKENS, ReadContext, describe_validation_error, iter_lines
from clawback.audit.records import AuditRecord
from clawback.shapes import shape_from_hash_blocks

__all__ = ["DEFAULT_TRACE_MODEL", "TraceReader"]

DEFAULT_TRACE_MODEL = "claude-sonnet-5-5"
BLOCK_TOKENS = 512
MAX_OFFSET_MS = 10**13
"""About 317 years: a later offset is a corrupt line (and would overflow the date)."""


class _TraceLine(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    timestamp: int | float = Field(ge=0, le=MAX_OFFSET_MS)
    input_length: int = Field(ge=0, le=MAX_TOKENS)
    output_length: int = Field(ge=0, le=MAX_TOKENS)
    hash_ids: list[int | str]


class TraceReader:
    """Reads prefix-hash traces into records with shapes and no caching today."""

    name = "trace"

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """One record per request line."""
        model = str(ctx.options.get("model") or DEFAULT_TRACE_MODEL)
        start = ctx.options.get("trace_start")
        if not isinstance(start, datetime):
            start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        namespace = f"trace{ctx.source_index}"
        ctx.issues.note(
            f"trace: requests served on {model} from {start.isoformat()}; 'today' is the cost with no "
            "prompt caching (a trace reports no billing)"
        )
        for number, raw in iter_lines(path, ctx):
            try:
                row = _TraceLine.model_validate_json(raw)
            except ValidationError as exc:
                ctx.malformed(number, describe_validation_error(exc))
                continue
            try:
                ts = start + timedelta(milliseconds=row.timestamp)
            except OverflowError:
                ctx.malformed(number, "timestamp: past the end of the calendar from --trace-start")
                continue
            yield AuditRecord(
                ts=ts,
                model=model,
                input_tokens=row.input_length,
                output_tokens=row.output_length,
                workspace=namespace,
                shape=shape_from_hash_blocks(
                    model, row.hash_ids, row.input_length, block_tokens=BLOCK_TOKENS, namespace=namespace
                ),
                source=ctx.source_index,
                line=number,
            )
