"""The exact cost engine: a usage object, a model and a date in; a Decimal breakdown out (pure).

Rules, per https://platform.claude.com/docs/en/about-claude/pricing (see docs/prices.md):

* ``input_tokens`` are the uncached tokens after the last cache breakpoint; cache writes are split
  into 5-minute and 1-hour writes by ``cache_creation``; writes reported without that split are
  5-minute writes. ``output_tokens`` already include thinking tokens, which are billed as output.
* Long-prompt tiers: when uncached input + cache reads + cache writes exceed the model's threshold
  (Haiku 5.5: 100,000 tokens; Sonnet 4 and 4.5 during their 1M-context beta, until 2026-04-30:
  200,000), every token of the request (output included) is priced at the tier's rates.
* Fast mode uses the model's fast input/output rates, with the model's cache multipliers applied
  to the fast input rate. It cannot be combined with the Batch API.
* Batch (``service_tier: "batch"``) is 50% of the standard price on every token kind.
* ``inference_geo: "us"`` multiplies every token kind by 1.1 on Claude 4.6 and later models.
* Web search requests cost $10 per 1,000, outside the token discounts.

Amounts are exact: nothing is rounded until it is displayed.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from clawback.errors import PricingError, UsageError
from clawback.pricing.catalogue import ModelInfo, Rates

__all__ = [
    "CostBreakdown",
    "Modifier",
    "Usage",
    "format_usd",
    "parse_usage",
    "price_input",
    "price_total",
    "price_usage",
]

MILLION = Decimal(1_000_000)
GEO_US_MULTIPLIER = Decimal("1.1")
BATCH_MULTIPLIER = Decimal("0.5")
WEB_SEARCH_PER_REQUEST = Decimal("0.01")
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_5m_input_tokens",
    "cache_write_1h_input_tokens",
    "thinking_tokens",
    "web_search_requests",
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call, in the API's own terms."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_5m_input_tokens: int = 0
    cache_write_1h_input_tokens: int = 0
    thinking_tokens: int = 0
    web_search_requests: int = 0
    service_tier: str | None = None
    inference_geo: str | None = None
    speed: str | None = None

    def __post_init__(self) -> None:
        counts = (
            self.input_tokens,
            self.output_tokens,
            self.cache_read_input_tokens,
            self.cache_write_5m_input_tokens,
            self.cache_write_1h_input_tokens,
            self.thinking_tokens,
            self.web_search_requests,
        )
        for value in counts:
            if type(value) is not int or value < 0:  # plain ints pass here; anything else is looked at below
                break
        else:
            return
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UsageError(f"{name} must be a non-negative integer, got {value!r}")

    @property
    def cache_creation_input_tokens(self) -> int:
        """All cache writes, 5-minute and 1-hour."""
        return self.cache_write_5m_input_tokens + self.cache_write_1h_input_tokens

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the request: uncached, cache reads and cache writes."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    def to_api(self) -> dict[str, Any]:
        """The usage object as the Messages API returns it."""
        out: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.cache_write_1h_input_tokens,
            },
        }
        if self.thinking_tokens:
            out["output_tokens_details"] = {"thinking_tokens": self.thinking_tokens}
        if self.web_search_requests:
            out["server_tool_use"] = {"web_search_requests": self.web_search_requests}
        for name in ("service_tier", "inference_geo", "speed"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def _count(obj: Mapping[str, Any], key: str, where: str = "usage") -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{where}.{key} must be a non-negative integer, got {value!r}")
    return value


def parse_usage(obj: Any) -> Usage:
    """A :class:`Usage` from a usage object exactly as the Messages API returns it.

    Accepts a mapping (parsed JSON) or any object with ``model_dump`` (the SDK's ``Usage``).
    Absent or null counts are zero. When ``cache_creation`` splits the writes, the split is
    used; any remainder of ``cache_creation_input_tokens`` not covered by it is a 5-minute write.
    """
    if type(obj) is not dict and hasattr(obj, "model_dump"):  # a dict first: no attribute or ABC check
        obj = obj.model_dump()
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise UsageError(f"usage must be a JSON object, got {type(obj).__name__}")
    total_writes = _count(obj, "cache_creation_input_tokens")
    split = obj.get("cache_creation") or {}
    if type(split) is not dict and not isinstance(split, Mapping):
        raise UsageError("usage.cache_creation must be an object")
    write_5m = _count(split, "ephemeral_5m_input_tokens", "usage.cache_creation")
    write_1h = _count(split, "ephemeral_1h_input_tokens", "usage.cache_creation")
    if write_5m + write_1h > total_writes:
        if "cache_creation_input_tokens" in obj and obj["cache_creation_input_tokens"] is not None:
            raise UsageError(
                f"usage.cache_creation splits {write_5m + write_1h} tokens but "
                f"cache_creation_input_tokens is {total_writes}"
            )
    else:
        write_5m += total_writes - write_5m - write_1h
    details = obj.get("output_tokens_details") or {}
    server = obj.get("server_tool_use") or {}
    usage = Usage(
        input_tokens=_count(obj, "input_tokens"),
        output_tokens=_count(obj, "output_tokens"),
        cache_read_input_tokens=_count(obj, "cache_read_input_tokens"),
        cache_write_5m_input_tokens=write_5m,
        cache_write_1h_input_tokens=write_1h,
        thinking_tokens=_count(details, "thinking_tokens", "usage.output_tokens_details")
        if type(details) is dict or isinstance(details, Mapping)
        else 0,
        web_search_requests=_count(server, "web_search_requests", "usage.server_tool_use")
        if type(server) is dict or isinstance(server, Mapping)
        else 0,
        service_tier=_text(obj, "service_tier"),
        inference_geo=_text(obj, "inference_geo"),
        speed=_text(obj, "speed"),
    )
    if usage.thinking_tokens > usage.output_tokens:
        raise UsageError(
            f"usage.output_tokens_details.thinking_tokens ({usage.thinking_tokens}) exceeds "
            f"output_tokens ({usage.output_tokens}); output_tokens must include thinking"
        )
    return usage


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"usage.{key} must be a string, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Modifier:
    """A price modifier that applied to a call, and what it changed the total by."""

    name: str
    detail: str
    delta: Decimal

    def to_json(self) -> dict[str, str]:
        """Decimal strings, for JSON output."""
        return {"name": self.name, "detail": self.detail, "delta_usd": format_usd(self.delta)}


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The exact cost of one call, by token kind, with the modifiers that applied."""

    model: str
    usage: Usage
    rates_effective_from: date
    uncached_input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal
    web_search: Decimal
    base_total: Decimal
    modifiers: tuple[Modifier, ...] = field(default=())

    @property
    def total(self) -> Decimal:
        """Sum of every line; equals ``base_total`` plus every modifier's delta."""
        return (
            self.uncached_input
            + self.cache_write_5m
            + self.cache_write_1h
            + self.cache_read
            + self.output
            + self.web_search
        )

    @property
    def input_total(self) -> Decimal:
        """Every input-side line: uncached, writes and reads."""
        return self.uncached_input + self.cache_write_5m + self.cache_write_1h + self.cache_read

    def to_json(self) -> dict[str, Any]:
        """Decimal strings keyed by token kind, for JSON output and the ledger."""
        return {
            "uncached_input_usd": format_usd(self.uncached_input),
            "cache_write_5m_usd": format_usd(self.cache_write_5m),
            "cache_write_1h_usd": format_usd(self.cache_write_1h),
            "cache_read_usd": format_usd(self.cache_read),
            "output_usd": format_usd(self.output),
            "web_search_usd": format_usd(self.web_search),
            "base_total_usd": format_usd(self.base_total),
            "modifiers": [m.to_json() for m in self.modifiers],
            "total_usd": format_usd(self.total),
            "rates_effective_from": self.rates_effective_from.isoformat(),
        }


_USD_MEMO: dict[Decimal, str] = {}
_USD_MEMO_LIMIT = 4096


def format_usd(amount: Decimal) -> str:
    """A Decimal as a plain string with at least cent precision and no exponent."""
    if not amount and not amount.is_signed():  # most lines of a bill are zero
        return "0.00"
    # Equal finite, non-zero Decimals (``1.5``, ``1.50``) normalise alike, so they share a string;
    # the same rates and counts recur on every call, so most amounts were formatted before.
    memo = type(amount) is Decimal and amount and amount.is_finite()
    if memo and (found := _USD_MEMO.get(amount)) is not None:
        return found
    text = format(amount.normalize(_CONTEXT), "f")
    whole, _, frac = text.partition(".")
    out = f"{whole}.{frac.ljust(2, '0')}"
    if memo:
        if len(_USD_MEMO) >= _USD_MEMO_LIMIT:
            _USD_MEMO.clear()
        _USD_MEMO[amount] = out
    return out


@dataclass(frozen=True, slots=True)
class _Lines:
    uncached_input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal

    @property
    def total(self) -> Decimal:
        return self.uncached_input + self.cache_write_5m + self.cache_write_1h + self.cache_read + self.output

    def scaled(self, factor: Decimal) -> _Lines:
        return _Lines(
            self.uncached_input * factor,
            self.cache_write_5m * factor,
            self.cache_write_1h * factor,
            self.cache_read * factor,
            self.output * factor,
        )


def _lines(usage: Usage, inp: Decimal, out: Decimal, w5: Decimal, w1: Decimal, rd: Decimal) -> _Lines:
    return _Lines(
        uncached_input=usage.input_tokens * inp / MILLION,
        cache_write_5m=usage.cache_write_5m_input_tokens * w5 / MILLION,
        cache_write_1h=usage.cache_write_1h_input_tokens * w1 / MILLION,
        cache_read=usage.cache_read_input_tokens * rd / MILLION,
        output=usage.output_tokens * out / MILLION,
    )


def _standard_lines(usage: Usage, rates: Rates) -> _Lines:
    return _lines(
        usage, rates.input, rates.output, rates.cache_write_5m, rates.cache_write_1h, rates.cache_read
    )


def price_usage(
    usage: Usage,
    model: ModelInfo,
    *,
    at: date | None = None,
    batch: bool | None = None,
    inference_geo: str | None = None,
    fast: bool | None = None,
) -> CostBreakdown:
    """The exact cost of ``usage`` on ``model`` at the rates in force on ``at``.

    ``batch``, ``inference_geo`` and ``fast`` default to what the usage object reports
    (``service_tier``, ``inference_geo``, ``speed``); passing them overrides it.
    """
    if not isinstance(model, ModelInfo):
        raise PricingError(
            f"price_usage needs a catalogue entry, not {model!r}: "
            f"pass load_catalogue().resolve({str(model)!r})"
        )
    if not isinstance(usage, Usage):
        raise PricingError("price_usage needs a Usage: pass parse_usage(<the API's usage object>)")
    with decimal.localcontext(_CONTEXT):
        return _price(usage, model, at, batch, inference_geo, fast)


def price_total(
    usage: Usage, model: ModelInfo, *, at: date | None = None, batch: bool | None = None
) -> Decimal:
    """``price_usage(usage, model, at=at, batch=batch).total``, without the breakdown when no modifier applies.

    The same sums in the same order and context, so the same Decimal; a call at the long-prompt
    rates, in fast mode, at batch prices or with US-only inference goes through :func:`price_usage`.
    """
    if (
        type(usage) is not Usage
        or type(model) is not ModelInfo
        or (usage.service_tier == "batch" if batch is None else batch)
        or usage.speed == "fast"
        or usage.inference_geo == "us"
    ):
        return price_usage(usage, model, at=at, batch=batch).total
    tier = model.prompt_tier_at(at)
    if tier is not None and usage.prompt_tokens > tier.threshold_prompt_tokens:
        return price_usage(usage, model, at=at, batch=batch).total
    rates = model.rates_at(at)
    with decimal.localcontext(_CONTEXT):  # the lines as _price makes them ...
        uncached = usage.input_tokens * rates.input / MILLION
        write_5m = usage.cache_write_5m_input_tokens * rates.cache_write_5m / MILLION
        write_1h = usage.cache_write_1h_input_tokens * rates.cache_write_1h / MILLION
        read = usage.cache_read_input_tokens * rates.cache_read / MILLION
        output = usage.output_tokens * rates.output / MILLION
        web_search = usage.web_search_requests * WEB_SEARCH_PER_REQUEST
    return uncached + write_5m + write_1h + read + output + web_search  # ... summed as CostBreakdown.total


def price_input(usage: Usage, model: ModelInfo, *, at: date | None = None) -> Decimal | None:
    """``price_usage(usage, model, at=at).input_total`` when no modifier applies, else None.

    The same lines in the same context, summed in the same order, so the same Decimal, without
    building the breakdown (the client prices the input side on the calling thread, the rest later).
    """
    if (
        type(usage) is not Usage
        or type(model) is not ModelInfo
        or usage.service_tier == "batch"
        or usage.speed == "fast"
        or usage.inference_geo == "us"
    ):
        return None
    tier = model.prompt_tier_at(at)
    if tier is not None and usage.prompt_tokens > tier.threshold_prompt_tokens:
        return None
    with decimal.localcontext(_CONTEXT):  # the lines _price makes, ...
        lines = _standard_lines(usage, model.rates_at(at))
    return (
        lines.uncached_input + lines.cache_write_5m + lines.cache_write_1h + lines.cache_read
    )  # ... as input_total


def _price(
    usage: Usage,
    model: ModelInfo,
    at: date | None,
    batch: bool | None,
    inference_geo: str | None,
    fast: bool | None,
) -> CostBreakdown:
    is_batch = usage.service_tier == "batch" if batch is None else batch
    geo = usage.inference_geo if inference_geo is None else inference_geo
    is_fast = usage.speed == "fast" if fast is None else fast
    rates = model.rates_at(at)
    base = _standard_lines(usage, rates)
    current = base
    modifiers: list[Modifier] = []

    tier = model.prompt_tier_at(at)
    active = rates
    if tier is not None and usage.prompt_tokens > tier.threshold_prompt_tokens:
        active = tier.rates
        tiered = _standard_lines(usage, active)
        modifiers.append(
            Modifier(
                "prompt_tier",
                f"prompt of {usage.prompt_tokens:,} tokens is over {tier.threshold_prompt_tokens:,}: "
                "whole request at the long-prompt rates",
                tiered.total - current.total,
            )
        )
        current = tiered

    if is_fast:
        if is_batch:
            raise PricingError("fast mode cannot be combined with the Batch API")
        if model.fast_mode is None:
            raise PricingError(f"fast mode is not offered on {model.id}")
        fin = model.fast_mode.input
        fast_lines = _lines(
            usage,
            fin,
            model.fast_mode.output,
            fin * active.cache_write_5m / active.input,
            fin * active.cache_write_1h / active.input,
            fin * active.cache_read / active.input,
        )
        modifiers.append(
            Modifier(
                "fast_mode",
                f"fast mode at ${fin}/${model.fast_mode.output} per MTok",
                fast_lines.total - current.total,
            )
        )
        current = fast_lines

    if is_batch:
        batch_lines = _Lines(
            uncached_input=usage.input_tokens * active.batch_input / MILLION,
            cache_write_5m=current.cache_write_5m * BATCH_MULTIPLIER,
            cache_write_1h=current.cache_write_1h * BATCH_MULTIPLIER,
            cache_read=current.cache_read * BATCH_MULTIPLIER,
            output=usage.output_tokens * active.batch_output / MILLION,
        )
        modifiers.append(
            Modifier("batch", "Message Batches API: 50% of standard", batch_lines.total - current.total)
        )
        current = batch_lines

    if geo == "us":
        if not model.inference_geo_us:
            raise PricingError(
                f"inference_geo 'us' is only available on Claude 4.6 and later models, not {model.id}"
            )
        geo_lines = current.scaled(GEO_US_MULTIPLIER)
        modifiers.append(
            Modifier("inference_geo", "US-only inference: 1.1x", geo_lines.total - current.total)
        )
        current = geo_lines

    web_search = usage.web_search_requests * WEB_SEARCH_PER_REQUEST
    return CostBreakdown(
        model=model.id,
        usage=usage,
        rates_effective_from=rates.effective_from,
        uncached_input=current.uncached_input,
        cache_write_5m=current.cache_write_5m,
        cache_write_1h=current.cache_write_1h,
        cache_read=current.cache_read,
        output=current.output,
        web_search=web_search,
        base_total=base.total + web_search,
        modifiers=tuple(modifiers),
    )
