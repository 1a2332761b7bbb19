"""Anthropic Admin API reports: the Usage report and the Cost report (aggregated, no prompts).

Input: the JSON a report endpoint returns (``{"data": [...], "has_more", "next_page"}``), as one
document, a JSON array of pages, or JSONL with one page per line (what a paging script appends).
Each result of each time bucket becomes one *aggregated* record: the number of calls behind it is
not reported, and there is no prompt data.

* ``GET /v1/organizations/usage_report/messages``: token counts per bucket, priced here at the
  rates in force on the bucket's start date. Pricing needs ``group_by[]=model``; buckets without a
  model are shown unpriced. Haiku 5.5's per-request long-prompt tier can't be told from totals.
* ``GET /v1/organizations/cost_report``: ``amount`` is a decimal string in **cents**
  ("123.45" is $1.2345); it is taken as reported. With ``group_by[]=description`` the rows carry
  ``model`` and ``token_type``, so spend splits by model and token kind.

What these reports can't support is said in the audit: caching (no prompt prefixes or timing per
call), routing by prompt and output caps (no per-call data).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clawback.audit.readers._common import (
    MAX_TOKENS,
    ReadContext,
    describe_validation_error,
    iter_lines,
    load_line,
    parse_timestamp,
)
from clawback.audit.records import AuditRecord
from clawback.errors import InputFileError
from clawback.safe_input import loads, read_input

__all__ = ["COST_TOKEN_KINDS", "AdminCostReader", "AdminUsageReader"]

COST_TOKEN_KINDS = {
    "uncached_input_tokens": "uncached_input",
    "output_tokens": "output",
    "cache_read_input_tokens": "cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write_5m",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h",
}
NO_MODEL = "(report not grouped by model)"
MAX_CENTS = Decimal(10**15)
"""Ten trillion dollars: a larger amount is a corrupt row (and would overflow the audit's decimals)."""
_AGGREGATED_NOTE = (
    "aggregated report: no prompts and no per-call data, so prompt caching, routing by prompt and "
    "output caps can't be evaluated; the call count is not reported"
)


class _Split(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    ephemeral_5m_input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    ephemeral_1h_input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)


class _Server(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    web_search_requests: int = Field(default=0, ge=0, le=MAX_TOKENS)


class _UsageResult(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    uncached_input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    cache_read_input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    cache_creation: _Split | None = None
    output_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    server_tool_use: _Server | None = None
    model: str | None = None
    service_tier: str | None = None
    inference_geo: str | None = None
    speed: str | None = None
    workspace_id: str | None = None
    api_key_id: str | None = None


class _CostResult(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    amount: str
    currency: str = "USD"
    cost_type: str | None = None
    token_type: str | None = None
    model: str | None = None
    service_tier: str | None = None
    workspace_id: str | None = None


def _pages(path: Path, ctx: ReadContext) -> Iterator[tuple[int | None, Any]]:
    """(line number or None, parsed page) for JSONL pages, a JSON array of pages or one page."""
    lines = iter_lines(path, ctx)
    first = next(lines, None)
    if first is None:
        return
    try:
        page = load_line(first[1])
    except ValueError:
        page = None
    if isinstance(page, dict) and "data" in page:
        yield first[0], page
        for number, raw in lines:
            try:
                yield number, load_line(raw)
            except ValueError as exc:
                ctx.malformed(number, str(exc))
        return
    try:
        whole = loads(read_input(path, ctx.source_name or str(path)))
    except InputFileError as exc:
        raise InputFileError(f"{ctx.source_name or path} is not a JSON report: {exc}") from exc
    for page in whole if isinstance(whole, list) else [whole]:
        yield None, page


def _end(bucket: dict[str, Any], start: datetime) -> datetime | None:
    """A bucket's ``ending_at`` (None when absent or not after its start)."""
    try:
        end = parse_timestamp(bucket.get("ending_at"))
    except ValueError:
        return None
    return end if end > start else None


def _buckets(
    path: Path, ctx: ReadContext
) -> Iterator[tuple[int | None, str, datetime, datetime | None, list[Any]]]:
    for number, page in _pages(path, ctx):
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            ctx.malformed(number, "expected a report page with a 'data' list")
            continue
        for i, bucket in enumerate(data):
            where = f"data[{i}]"
            results = bucket.get("results") if isinstance(bucket, dict) else None
            if not isinstance(results, list):
                ctx.malformed(number, "bucket without a 'results' list", where=where)
                continue
            try:
                start = parse_timestamp(bucket.get("starting_at"))
            except ValueError as exc:
                ctx.malformed(number, f"starting_at: {exc}", where=where)
                continue
            yield number, where, start, _end(bucket, start), results


class AdminUsageReader:
    """Reads Usage report JSON (token counts per bucket)."""

    name = "admin-usage"

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """One aggregated record per result of each bucket."""
        ctx.issues.note(_AGGREGATED_NOTE)
        for number, where, start, end, results in _buckets(path, ctx):
            for j, raw in enumerate(results):
                try:
                    row = _UsageResult.model_validate(raw)
                except ValidationError as exc:
                    ctx.malformed(number, describe_validation_error(exc), where=f"{where}.results[{j}]")
                    continue
                split = row.cache_creation or _Split()
                if not row.model:
                    ctx.issues.note(
                        "usage report rows without a model are unpriced: request group_by[]=model"
                    )
                yield AuditRecord(
                    ts=start,
                    model=row.model or NO_MODEL,
                    input_tokens=row.uncached_input_tokens,
                    output_tokens=row.output_tokens,
                    cache_read_input_tokens=row.cache_read_input_tokens,
                    cache_write_5m_input_tokens=split.ephemeral_5m_input_tokens,
                    cache_write_1h_input_tokens=split.ephemeral_1h_input_tokens,
                    web_search_requests=row.server_tool_use.web_search_requests if row.server_tool_use else 0,
                    service_tier=row.service_tier,
                    inference_geo=row.inference_geo,
                    speed=row.speed,
                    workspace=row.workspace_id or row.api_key_id or "",
                    source=ctx.source_index,
                    line=number or 0,
                    aggregated=True,
                    until=end,
                )


class AdminCostReader:
    """Reads Cost report JSON (amounts in cents, taken as reported)."""

    name = "admin-cost"

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """One aggregated record per cost row of each bucket."""
        ctx.issues.note(_AGGREGATED_NOTE)
        ctx.issues.note(
            "cost report amounts are taken as reported (cents → dollars); Priority Tier costs are absent from it"
        )
        for number, where, start, end, results in _buckets(path, ctx):
            for j, raw in enumerate(results):
                place = f"{where}.results[{j}]"
                try:
                    row = _CostResult.model_validate(raw)
                    cents = Decimal(row.amount)
                    if not cents.is_finite():
                        raise InvalidOperation
                except ValidationError as exc:
                    ctx.malformed(number, describe_validation_error(exc), where=place)
                    continue
                except InvalidOperation:
                    ctx.malformed(
                        number, f"amount {raw.get('amount')!r} is not a decimal string", where=place
                    )
                    continue
                if abs(cents) > MAX_CENTS:
                    ctx.malformed(number, f"amount {row.amount!r} is out of range", where=place)
                    continue
                if row.currency != "USD":
                    ctx.malformed(number, f"currency {row.currency!r} is not USD", where=place)
                    continue
                other = row.cost_type not in (None, "tokens")
                yield AuditRecord(
                    ts=start,
                    model=row.model or (f"({row.cost_type})" if other else NO_MODEL),
                    service_tier=row.service_tier,
                    workspace=row.workspace_id or "",
                    source=ctx.source_index,
                    line=number or 0,
                    aggregated=True,
                    reported_usd=cents / 100,
                    reported_kind=COST_TOKEN_KINDS.get(row.token_type or "", "other"),
                    until=end,
                )
