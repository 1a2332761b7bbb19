"""Validation of records read back from a store or a pending file (pydantic; untrusted JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from clawback.errors import UsageError

if TYPE_CHECKING:
    from clawback.ledger.record import CallRecord

__all__ = ["parse_record"]


class _ErrorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    message: str = ""
    status: int | None = None


class _RecordIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    v: int = 1
    id: str
    ts: datetime
    requested_model: str
    served_model: str | None = None
    task: str | None = None
    api_key_id: str | None = None
    shape: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    total_usd: str | None = None
    unpriced_reason: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    stop_reason: str | None = None
    error: _ErrorIn | None = None
    fallback_from: str | None = None
    routing: dict[str, Any] | None = None
    service_tier: str | None = None
    request_id: str | None = None
    sample: str | None = None
    source: str | None = None
    baseline_usd: str | None = None
    extra: dict[str, Any] = {}

    @field_validator("total_usd", "baseline_usd")
    @classmethod
    def _decimal_string(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal string: {value!r}") from None
        if not amount.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        return value

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_record(cls: type[CallRecord], data: Mapping[str, Any] | str | bytes) -> CallRecord:
    """A :class:`CallRecord` from JSON text or a parsed mapping."""
    from clawback.ledger.record import CallError

    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
        model = _RecordIn.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()
        raise UsageError(f"malformed ledger record: {' '.join(first[:3])}") from exc
    extra = dict(model.extra)
    extra.update(model.model_extra or {})
    error = model.error
    return cls(
        id=model.id,
        ts=model.ts,
        requested_model=model.requested_model,
        served_model=model.served_model,
        task=model.task,
        api_key_id=model.api_key_id,
        shape=model.shape,
        usage=model.usage,
        cost=model.cost,
        total_usd=model.total_usd,
        unpriced_reason=model.unpriced_reason,
        latency_ms=model.latency_ms,
        ttft_ms=model.ttft_ms,
        stop_reason=model.stop_reason,
        error=None if error is None else CallError(error.type, error.message, error.status),
        fallback_from=model.fallback_from,
        routing=model.routing,
        service_tier=model.service_tier,
        request_id=model.request_id,
        sample=model.sample,
        source=model.source,
        baseline_usd=model.baseline_usd,
        extra=extra,
    )
