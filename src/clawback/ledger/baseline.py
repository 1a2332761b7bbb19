"""What a call would have cost sent as the caller wrote it: the ledger's ``baseline_usd`` (pure).

The method (also in ``docs/ledger.md``, "Savings"):

1. Start from the usage the API reported for the call (what was really served).
2. Turn the cached tokens that clawback's own breakpoints caused back into uncached input. With no
   breakpoint of the caller's own, that is every cache read and write; with the caller's top-level
   automatic caching, none; with the caller's own breakpoints, the cached tokens beyond the caller's
   deepest one (its prefix length is the shape's token estimate). Cached tokens are taken in prefix
   order: reads first, then 1-hour writes, then 5-minute writes.
3. Price that usage at the model the caller asked for (before routing or a fallback), at the
   standard tier (never the Batch API's half price), on the call's date.
4. A call the caller would not have made has a baseline of 0: the capped first attempt of an answer
   that was cut and sent again with the caller's ``max_tokens`` (so the re-send counts against the
   saving), keep-alive pings, batch warm-ups, a cascade's extra samples and its escalation.

The saving of a row is ``baseline - spent``. A priced row without a baseline (older rows, a requested
model the catalogue doesn't know) counts its own cost as its baseline: nothing is claimed for it.
Output caps change no token count of an answer that finished, so they need no correction; a routed
call is priced at the requested model with the served model's token counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from clawback.errors import ClawbackError
from clawback.pricing.cost import Usage, format_usd, parse_usage, price_total

if TYPE_CHECKING:
    from clawback.ledger.record import CallRecord
    from clawback.pricing.catalogue import Catalogue, ModelInfo
    from clawback.shapes import RequestShape

__all__ = [
    "EXTRA_CALL",
    "EXTRA_CALL_KINDS",
    "baseline_text",
    "baseline_usd",
    "caller_reach",
    "record_baseline",
    "uncached_beyond",
]

EXTRA_CALL: Final = "extra_call"
"""The ``extra`` key naming why a row is a call the caller would not have made (its baseline is 0)."""
EXTRA_CALL_KINDS: Final = frozenset({"cut_by_cap", "keepalive", "warmup", "cascade_sample", "escalation"})


def uncached_beyond(usage: Usage, keep: int | None) -> Usage:
    """``usage`` at the standard tier with cached tokens past the first ``keep`` counted as uncached input.

    ``keep=None`` keeps every cached token as it was. Cached tokens are kept in prefix order: cache
    reads, then 1-hour writes, then 5-minute writes.
    """
    read, w1h, w5m = (
        usage.cache_read_input_tokens,
        usage.cache_write_1h_input_tokens,
        usage.cache_write_5m_input_tokens,
    )
    if keep is not None:
        left = max(0, keep)
        read, left = min(read, left), left - min(read, left)
        w1h, left = min(w1h, left), left - min(w1h, left)
        w5m = min(w5m, left)
    moved = usage.prompt_tokens - usage.input_tokens - read - w1h - w5m
    return Usage(
        input_tokens=usage.input_tokens + moved,
        output_tokens=usage.output_tokens,
        cache_read_input_tokens=read,
        cache_write_5m_input_tokens=w5m,
        cache_write_1h_input_tokens=w1h,
        thinking_tokens=usage.thinking_tokens,
        web_search_requests=usage.web_search_requests,
        service_tier=None,
        inference_geo=usage.inference_geo,
        speed=usage.speed,
    )


def caller_reach(shape: RequestShape | None, added: Iterable[int]) -> int | None:
    """How many prompt tokens the caller's own breakpoints cache, when clawback ``added`` breakpoints.

    None when clawback added none (everything cached is the caller's doing) or the caller set
    top-level automatic caching; 0 when the caller set no breakpoint of their own.
    """
    added = frozenset(added)
    if not added or shape is None or shape.auto_cache_ttl is not None:
        return None
    own = [b.position for b in shape.blocks if b.cache_ttl is not None and b.position not in added]
    return shape.prefix_tokens(max(own)) if own else 0


def baseline_usd(
    usage: Usage, requested: ModelInfo, *, at: date | None, keep: int | None, extra_call: str | None = None
) -> Decimal:
    """The baseline of one call (see the module docstring); raises :class:`ClawbackError` if unpriceable."""
    if extra_call is not None:
        return Decimal(0)
    return price_total(uncached_beyond(usage, keep), requested, at=at, batch=False)


def _extra_call(record: CallRecord) -> str | None:
    kind = record.extra.get(EXTRA_CALL)
    if isinstance(kind, str):
        return kind
    if "keepalive" in record.extra:
        return "keepalive"
    cap = record.extra.get("max_tokens_cap")
    if isinstance(cap, Mapping) and record.stop_reason == "max_tokens":
        return "cut_by_cap"  # before baselines were stored, a cut capped answer was always sent again
    return None


def _added(record: CallRecord) -> list[int]:
    plan: Any = record.extra.get("cache_plan")
    if not isinstance(plan, Mapping):
        return []
    return [int(p) for p in plan if str(p).isdigit()]


def record_baseline(record: CallRecord, catalogue: Catalogue) -> Decimal | None:
    """A stored row's baseline: ``baseline_usd`` when recorded, else computed from the row (the audit's figure).

    None when the row has no usage or can't be priced (its baseline is then its own cost, if any).
    """
    if record.baseline_usd is not None:
        return Decimal(record.baseline_usd)
    if record.usage is None:
        return None
    from clawback.shapes import RequestShape

    try:
        usage = parse_usage(record.usage)
        shape = RequestShape.from_json(record.shape) if record.shape else None
        keep = caller_reach(shape, _added(record))
        info = catalogue.resolve(record.requested_model)
        return baseline_usd(usage, info, at=record.ts.date(), keep=keep, extra_call=_extra_call(record))
    except (ClawbackError, ArithmeticError, KeyError, IndexError, TypeError, ValueError):
        return None


def baseline_text(amount: Decimal | None) -> str | None:
    """A baseline as the ledger stores it (a decimal string)."""
    return None if amount is None else format_usd(amount)
