"""The per-token prices that decide whether caching pays, and what a call saved (pure).

A cache write costs more than plain input (1.25x for 5 minutes, 2x for an hour) and a read costs
less (0.1x on most models, 0.05x on Sonnet 5.5 and Opus 5.5, 0.025x on Fable 5.1). Every decision
the planner, the keep-alive arithmetic and the history's savings account make comes down to three
numbers per model and date: the write *premium* over plain input for each TTL and the read
*saving* under plain input. They are taken from the catalogue (``ModelInfo.rates_at``), never
hard-coded, and Haiku 5.5's long-prompt tier is honoured: over 100,000 prompt tokens the whole
request moves to the tier's rates.

Money stays in :class:`~decimal.Decimal`; :meth:`CacheRates.ratios` gives float ratios for the
planner's expected-value comparisons, which decide but never account.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import Usage, price_usage
from clawback.shapes import Ttl

__all__ = ["CacheRates", "Ratios", "realized_saving"]

_MILLION = Decimal(1_000_000)
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)  # as the cost engine


@dataclass(frozen=True, slots=True)
class Ratios:
    """Write premiums and read saving as fractions of the plain input price (floats, for decisions)."""

    premium_5m: float
    premium_1h: float
    read_saving: float
    read: float

    def premium(self, ttl: Ttl) -> float:
        """Extra cost of writing one token at ``ttl``, per token of plain input."""
        return self.premium_1h if ttl == "1h" else self.premium_5m


@dataclass(frozen=True, slots=True)
class CacheRates:
    """USD per token of plain input, both cache writes and a cache read, on one model and date."""

    input: Decimal
    write_5m: Decimal
    write_1h: Decimal
    read: Decimal
    output: Decimal

    @classmethod
    def of(cls, info: ModelInfo, *, at: date | None = None, prompt_tokens: int = 0) -> CacheRates:
        """The rates in force on ``at``, the long-prompt tier's when ``prompt_tokens`` passes it.

        Remembered per model, date and tier (every planned call asks for the same few).
        """
        tier = info.prompt_tier_at(at)
        tiered = tier is not None and prompt_tokens > tier.threshold_prompt_tokens
        key = (id(info), at, tiered)
        found = _RATES_MEMO.get(key)
        if found is not None and found[0] is info:
            return found[1]
        rates = tier.rates if tier is not None and tiered else info.rates_at(at)
        made = cls(
            input=rates.input / _MILLION,
            write_5m=rates.cache_write_5m / _MILLION,
            write_1h=rates.cache_write_1h / _MILLION,
            read=rates.cache_read / _MILLION,
            output=rates.output / _MILLION,
        )
        if len(_RATES_MEMO) >= _MEMO_LIMIT:
            _RATES_MEMO.clear()
        _RATES_MEMO[key] = (info, made)
        return made

    def write(self, ttl: Ttl) -> Decimal:
        """Price of writing one token at ``ttl``."""
        return self.write_1h if ttl == "1h" else self.write_5m

    def premium(self, ttl: Ttl) -> Decimal:
        """What writing one token at ``ttl`` costs beyond sending it as plain input."""
        return self.write(ttl) - self.input

    @property
    def read_saving(self) -> Decimal:
        """What reading one token from the cache saves against plain input."""
        return self.input - self.read

    def extra(self, *, read: int = 0, write_5m: int = 0, write_1h: int = 0) -> Decimal:
        """Cost of these cache token counts beyond sending the same tokens uncached (may be negative)."""
        return write_5m * self.premium("5m") + write_1h * self.premium("1h") - read * self.read_saving

    def ratios(self) -> Ratios:
        """Premiums and read saving relative to plain input, as floats."""
        found = _RATIOS_MEMO.get(self)
        if found is not None:
            return found
        base = self.input or Decimal(1)
        made = Ratios(
            premium_5m=float(self.premium("5m") / base),
            premium_1h=float(self.premium("1h") / base),
            read_saving=float(self.read_saving / base),
            read=float(self.read / base),
        )
        if len(_RATIOS_MEMO) >= _MEMO_LIMIT:
            _RATIOS_MEMO.clear()
        _RATIOS_MEMO[self] = made
        return made


_MEMO_LIMIT = 1024
_RATES_MEMO: dict[tuple[int, date | None, bool], tuple[ModelInfo, CacheRates]] = {}
_RATIOS_MEMO: dict[CacheRates, Ratios] = {}


def realized_saving(
    usage: Usage, info: ModelInfo, *, at: date | None = None, actual_input: Decimal | None = None
) -> Decimal:
    """What ``usage`` cost less than the same call with nothing cached (negative when it cost more).

    Both sides go through :func:`~clawback.pricing.cost.price_usage`, so batch, ``inference_geo``,
    fast mode and long-prompt tiers apply exactly as on the bill. ``actual_input`` is the input side
    of ``usage`` already priced that way on ``info`` and ``at`` (the caller's bill), if at hand.
    """
    plain = usage.service_tier != "batch" and usage.speed != "fast" and usage.inference_geo != "us"
    if plain and actual_input is None:
        # both sides at the same (tier's) rates: the saving is the cache tokens' extra, negated
        cache_rates = CacheRates.of(info, at=at, prompt_tokens=usage.prompt_tokens)
        with decimal.localcontext(_EXACT):
            return -cache_rates.extra(
                read=usage.cache_read_input_tokens,
                write_5m=usage.cache_write_5m_input_tokens,
                write_1h=usage.cache_write_1h_input_tokens,
            )
    actual = price_usage(usage, info, at=at).input_total if actual_input is None else actual_input
    if plain:
        # no modifier applies: the uncached side is the prompt at the (tier's) plain input rate
        tier = info.prompt_tier_at(at)
        tokens = usage.prompt_tokens
        rates = (
            tier.rates if tier is not None and tokens > tier.threshold_prompt_tokens else info.rates_at(at)
        )
        with decimal.localcontext(_EXACT):
            return tokens * rates.input / _MILLION - actual
    uncached = Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        thinking_tokens=usage.thinking_tokens,
        service_tier=usage.service_tier,
        inference_geo=usage.inference_geo,
        speed=usage.speed,
    )
    return price_usage(uncached, info, at=at).input_total - actual
