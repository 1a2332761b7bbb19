"""One call after it returned: priced and learnt from, its ledger record built on demand.

:class:`Settled` is what :meth:`clawback.client.pipeline.CallPipeline.settle` returns. Building the
record — the shape's JSON, the cost breakdown and its JSON, the baseline
(:mod:`clawback.ledger.baseline`) — changes nothing the next call does, so the client does it off
the calling thread. (Settling prices only the input side, which the cache history books; the
breakdown is made here from the same usage, model and day, so it is the one settling would have made.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from clawback.errors import ClawbackError
from clawback.ledger.baseline import baseline_text, baseline_usd, caller_reach
from clawback.ledger.record import CallError, CallRecord
from clawback.pricing.cost import CostBreakdown, Usage, price_usage

if TYPE_CHECKING:
    from clawback.client.pipeline import CallPipeline, Outcome, Prepared
    from clawback.pricing.catalogue import ModelInfo

__all__ = ["Settled", "day_of", "plain_usage", "usage_json"]


@dataclass(frozen=True, slots=True)
class Settled:
    """One attempt after the call: priced and learnt from; :meth:`record` builds its ledger record.

    Building the record (the shape's JSON, the cost breakdown and its JSON, the baseline) is the
    part the client moves off the calling thread: nothing in it changes what the next call does.
    """

    pipeline: CallPipeline
    prepared: Prepared
    outcome: Outcome
    parsed: Usage | None
    breakdown: CostBreakdown | None
    reason: str | None
    served: str
    latency_ms: float
    fallback_from: str | None = None
    extra: Mapping[str, Any] | None = None
    deferred: ModelInfo | None = None
    """The model the usage is still to be priced on (the breakdown is made by :meth:`cost`)."""

    @property
    def total(self) -> Decimal | None:
        """What the attempt cost (None when unpriced or failed)."""
        breakdown = self.cost()[0]
        return None if breakdown is None else breakdown.total

    def cost(self) -> tuple[CostBreakdown | None, str | None]:
        """The cost breakdown, or why there is none: priced at settling, or now from the same usage,
        model and day (what settling would have made)."""
        if self.deferred is None or self.parsed is None:
            return self.breakdown, self.reason
        try:
            return price_usage(self.parsed, self.deferred, at=day_of(self.prepared.started_at)), None
        except (ClawbackError, ArithmeticError) as exc:  # as settling would have said
            return None, str(exc)

    def baseline(self) -> Decimal | None:
        """What the call would have cost sent as the caller wrote it (see :mod:`clawback.ledger.baseline`)."""
        p = self.prepared
        if self.parsed is None:
            return None
        requested = self.pipeline.catalogue.get(p.requested_model)
        if requested is None:
            return None
        keep = caller_reach(p.shape, p.plan.added if p.plan is not None else ())
        try:
            return baseline_usd(
                self.parsed, requested, at=day_of(p.started_at), keep=keep, extra_call=p.extra_call
            )
        except (ClawbackError, ArithmeticError):
            return None

    def record(self) -> CallRecord:
        """The ledger record of this attempt."""
        p, outcome, pipe = self.prepared, self.outcome, self.pipeline
        usage = usage_json(outcome.usage)
        breakdown, reason = self.cost()
        return CallRecord.create(
            p.requested_model,
            breakdown=breakdown,
            ts=datetime.fromtimestamp(p.started_at, UTC),
            served_model=self.served,
            task=p.task,
            api_key_id=pipe.workspace,
            shape=p.shape.to_json() if p.shape is not None else None,
            usage=usage,
            unpriced_reason=reason,
            latency_ms=round(self.latency_ms, 3),
            ttft_ms=None if outcome.ttft_s is None else round(outcome.ttft_s * 1000, 3),
            stop_reason=outcome.stop_reason,
            error=CallError.from_exception(outcome.error) if outcome.error is not None else None,
            fallback_from=self.fallback_from,
            routing=p.routing.to_json() if p.routing is not None else None,
            service_tier=(usage or {}).get("service_tier"),
            request_id=outcome.request_id,
            sample=json.dumps({"request": p.body}, default=str) if pipe.options.retain_samples else None,
            source=pipe.source,
            baseline_usd=baseline_text(self.baseline()),
            extra=pipe._extra(p, self.extra),
        )


def plain_usage(usage: Any) -> Any:
    """An SDK usage object as the mapping :func:`parse_usage` reads, without a full ``model_dump``."""
    if type(usage) is dict or isinstance(usage, Mapping) or not hasattr(usage, "model_dump"):
        return usage
    data = dict(usage.__dict__)
    for key in ("cache_creation", "output_tokens_details", "server_tool_use"):
        value = data.get(key)
        if value is not None and not isinstance(value, Mapping) and hasattr(value, "__dict__"):
            data[key] = value.__dict__
    return data


def usage_json(usage: Any) -> dict[str, Any] | None:
    """The usage as plain JSON for the record (the API's own field names, nulls left out)."""
    if usage is None:
        return None
    if hasattr(usage, "model_dump"):
        data: dict[str, Any] = usage.model_dump(mode="json", exclude_none=True)
        return data
    return dict(usage)


_DAY_SECONDS = 86_400
_DAYS: dict[float, date] = {}


def day_of(epoch_seconds: float) -> date:
    """The UTC date of a time in seconds since the epoch (remembered per day: every call asks a few times)."""
    key = epoch_seconds // _DAY_SECONDS  # UTC has no leap seconds in POSIX time: a day is 86,400 s
    if not 0.001 <= epoch_seconds - key * _DAY_SECONDS <= _DAY_SECONDS - 0.001:
        return datetime.fromtimestamp(epoch_seconds, UTC).date()  # near midnight: datetime's own rounding
    found = _DAYS.get(key)
    if found is None:
        found = datetime.fromtimestamp(epoch_seconds, UTC).date()
        if len(_DAYS) >= 64:
            _DAYS.clear()
        _DAYS[key] = found
    return found
