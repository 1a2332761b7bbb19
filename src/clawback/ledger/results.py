"""A ledger record from one Messages result as the API returns it (pure).

The batch runner (results and warm-ups), ``clawback eval`` and the drop-in client's batch results
all record calls whose request they did not plan one by one: this builds their records the same
way — priced at the tier the usage reports, with the baseline of :mod:`clawback.ledger.baseline`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from clawback.errors import ClawbackError
from clawback.ledger.baseline import EXTRA_CALL, baseline_text, baseline_usd
from clawback.ledger.record import CallError, CallRecord, price_call
from clawback.pricing.cost import parse_usage

if TYPE_CHECKING:
    from clawback.pricing.catalogue import Catalogue

__all__ = ["result_record"]


def _baseline(
    catalogue: Catalogue,
    model: str,
    usage: Mapping[str, Any] | None,
    *,
    ts: datetime,
    keep: int | None,
    extra_call: str | None,
) -> Decimal | None:
    info = catalogue.get(model)
    if usage is None or info is None:
        return None
    try:
        return baseline_usd(parse_usage(usage), info, at=ts.date(), keep=keep, extra_call=extra_call)
    except (ClawbackError, ArithmeticError):
        return None


def _error(error: Mapping[str, Any] | None) -> CallError | None:
    if error is None:
        return None
    inner = error.get("error") if isinstance(error.get("error"), Mapping) else error
    assert isinstance(inner, Mapping)
    return CallError(str(inner.get("type") or "error"), str(inner.get("message") or "")[:500])


def result_record(
    catalogue: Catalogue,
    *,
    record_id: str,
    ts: datetime,
    requested_model: str,
    message: Mapping[str, Any] | None,
    source: str,
    task: str | None = None,
    error: Mapping[str, Any] | None = None,
    keep: int | None = None,
    extra_call: str | None = None,
    api_key_id: str | None = None,
    latency_ms: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> CallRecord:
    """The record of one call from its ``message`` (a Messages response as JSON) or its ``error``.

    ``keep`` and ``extra_call`` are the baseline's (see :func:`clawback.ledger.baseline.baseline_usd`).
    """
    usage = message.get("usage") if message is not None else None
    usage = dict(usage) if isinstance(usage, Mapping) else None
    served = str(message.get("model") or requested_model) if message is not None else None
    breakdown, reason = price_call(catalogue, served or requested_model, usage, at=ts.date())
    more = dict(extra or {})
    if extra_call is not None:
        more[EXTRA_CALL] = extra_call
    return CallRecord.create(
        requested_model,
        record_id=record_id,
        ts=ts,
        breakdown=breakdown,
        unpriced_reason=reason if usage is not None else None,
        served_model=served,
        task=task,
        api_key_id=api_key_id,
        usage=usage,
        latency_ms=latency_ms,
        stop_reason=message.get("stop_reason") if message is not None else None,
        error=_error(error),
        service_tier=usage.get("service_tier") if usage is not None else None,
        request_id=message.get("id") if message is not None else None,
        source=source,
        baseline_usd=baseline_text(
            _baseline(catalogue, requested_model, usage, ts=ts, keep=keep, extra_call=extra_call)
        ),
        extra=more,
    )
