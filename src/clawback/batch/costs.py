"""What a batch job costs, what it would have cost, and what it is expected to cost (pure; Decimal).

Every priced result contributes four figures:

* ``cost`` — batch prices with its real cache reads and writes: what is billed;
* ``standard`` — the same usage (cache reads and writes included) at standard (non-batch) prices;
* ``no_cache`` — the same tokens at batch prices with every cache read and write counted as plain
  input;
* ``standard_no_cache`` — the same tokens at standard prices without caching: the same work sent
  one request at a time with no cache, the baseline of the headline saving.

The headline saving (``standard_no_cache`` minus everything billed) splits into two parts that add
up to it exactly: the **batch discount** ``standard_no_cache - no_cache`` (half of the baseline) and
**caching** ``no_cache - total_cost`` (what cache reads and writes, net of the warm-ups, saved at
batch prices — negative when writes were never read).

Warm-up requests are standard-price calls that only the job makes: they add to what is billed and
to no baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar

from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import Usage, format_usd, price_usage
from clawback.shapes import Ttl

__all__ = [
    "CacheRole",
    "CostTotals",
    "EstimateTotals",
    "estimate_request",
    "estimate_warmup",
    "price_result",
    "typical_output_tokens",
    "warmup_totals",
]

CacheRole = Literal["write", "read"] | None
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CostTotals:
    """Tokens and money summed over priced results (and warm-ups)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cost: Decimal = _ZERO
    standard: Decimal = _ZERO
    no_cache: Decimal = _ZERO
    standard_no_cache: Decimal = _ZERO
    warmups: int = 0
    warmup_cost: Decimal = _ZERO

    def __add__(self, other: CostTotals) -> CostTotals:
        return _add(self, other)

    @property
    def total_cost(self) -> Decimal:
        """Batch results plus warm-ups: everything billed."""
        return self.cost + self.warmup_cost

    @property
    def saving_vs_standard(self) -> Decimal:
        """The same work at standard prices without caching, minus everything billed."""
        return self.standard_no_cache - self.total_cost

    @property
    def batch_saving(self) -> Decimal:
        """The batch discount on the work without caching; with :attr:`cache_saving` it makes the saving."""
        return self.standard_no_cache - self.no_cache

    @property
    def cache_saving(self) -> Decimal:
        """What cache reads and writes (and the warm-ups) saved against no caching at batch prices."""
        return self.no_cache - self.total_cost

    def to_json(self) -> dict[str, Any]:
        """Integers as numbers, money as decimal strings."""
        return _to_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> CostTotals:
        """Inverse of :meth:`to_json`; missing fields are zero."""
        return cls(**_values(cls, data))


def _no_cache(usage: Usage) -> Usage:
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        thinking_tokens=usage.thinking_tokens,
        web_search_requests=usage.web_search_requests,
        inference_geo=usage.inference_geo,
    )


def price_result(usage: Usage, info: ModelInfo, at: date | None) -> CostTotals:
    """The three figures of one succeeded batch result."""
    batch = price_usage(usage, info, at=at, batch=True, fast=False).total
    standard = price_usage(usage, info, at=at, batch=False, fast=False).total
    flat = _no_cache(usage)
    no_cache = price_usage(flat, info, at=at, batch=True, fast=False).total
    standard_no_cache = price_usage(flat, info, at=at, batch=False, fast=False).total
    return CostTotals(
        requests=1,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_input_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_input_tokens,
        cost=batch,
        standard=standard,
        no_cache=no_cache,
        standard_no_cache=standard_no_cache,
    )


def warmup_totals(usage: Usage, info: ModelInfo, at: date | None) -> CostTotals:
    """A warm-up request's cost: standard prices, counted apart from both baselines."""
    cost = price_usage(usage, info, at=at, batch=False, fast=False).total
    return CostTotals(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_input_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_input_tokens,
        warmups=1,
        warmup_cost=cost,
    )


def typical_output_tokens(max_tokens: int, expected: int | None = None) -> int:
    """The output a request is expected to produce: ``expected`` if given, else half of ``max_tokens``."""
    if expected is not None:
        return min(max_tokens, max(0, expected))
    return max(1, math.ceil(max_tokens / 2))


@dataclass(frozen=True, slots=True)
class EstimateTotals:
    """A job's expected cost before anything is sent: an upper bound and a typical figure."""

    requests: int = 0
    input_tokens: int = 0
    max_output_tokens: int = 0
    typical_output_tokens: int = 0
    upper: Decimal = _ZERO
    typical: Decimal = _ZERO
    standard_typical: Decimal = _ZERO
    """The typical work at standard prices without caching (the baseline)."""
    no_cache_typical: Decimal = _ZERO
    warmups: int = 0
    warmup_cost: Decimal = _ZERO

    def __add__(self, other: EstimateTotals) -> EstimateTotals:
        return _add(self, other)

    @property
    def upper_total(self) -> Decimal:
        """The spend cap is checked against this: every request writing ``max_tokens``, plus warm-ups."""
        return self.upper + self.warmup_cost

    @property
    def typical_total(self) -> Decimal:
        """Typical output, plus warm-ups."""
        return self.typical + self.warmup_cost

    def to_json(self) -> dict[str, Any]:
        """Integers as numbers, money as decimal strings."""
        return _to_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EstimateTotals:
        """Inverse of :meth:`to_json`; missing fields are zero."""
        return cls(**_values(cls, data))


def _usage(input_tokens: int, output: int, role: CacheRole, prefix: int, *, ttl: Ttl) -> Usage:
    prefix = min(prefix, input_tokens) if role else 0
    return Usage(
        input_tokens=input_tokens - prefix,
        output_tokens=output,
        cache_read_input_tokens=prefix if role == "read" else 0,
        cache_write_5m_input_tokens=prefix if role == "write" and ttl == "5m" else 0,
        cache_write_1h_input_tokens=prefix if role == "write" and ttl == "1h" else 0,
    )


def estimate_request(
    info: ModelInfo,
    input_tokens: int,
    max_tokens: int,
    *,
    expected_output: int | None = None,
    role: CacheRole = None,
    prefix_tokens: int = 0,
    ttl: Ttl = "1h",
    at: date | None = None,
) -> EstimateTotals:
    """The estimate of one request at batch prices, given its cache role in its group.

    The typical figure assumes the role holds (one write per group, reads after it); the upper
    bound assumes every grouped request writes its prefix and uses all of ``max_tokens``.
    """
    typical_out = typical_output_tokens(max_tokens, expected_output)
    typical = _usage(input_tokens, typical_out, role, prefix_tokens, ttl=ttl)
    upper = _usage(input_tokens, max_tokens, "write" if role else None, prefix_tokens, ttl=ttl)
    return EstimateTotals(
        requests=1,
        input_tokens=input_tokens,
        max_output_tokens=max_tokens,
        typical_output_tokens=typical_out,
        upper=price_usage(upper, info, at=at, batch=True).total,
        typical=price_usage(typical, info, at=at, batch=True).total,
        standard_typical=price_usage(_no_cache(typical), info, at=at, batch=False).total,
        no_cache_typical=price_usage(_no_cache(typical), info, at=at, batch=True).total,
    )


def estimate_warmup(
    info: ModelInfo, input_tokens: int, prefix_tokens: int, at: date | None = None
) -> EstimateTotals:
    """The estimate of one warm-up: the group's first request with ``max_tokens: 0`` at standard prices."""
    usage = _usage(input_tokens, 0, "write", prefix_tokens, ttl="1h")
    return EstimateTotals(warmups=1, warmup_cost=price_usage(usage, info, at=at, batch=False).total)


_T = TypeVar("_T", "CostTotals", "EstimateTotals")


def _add(a: _T, b: _T) -> _T:
    return type(a)(*(getattr(a, f.name) + getattr(b, f.name) for f in fields(a)))


def _to_json(totals: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(totals):
        value = getattr(totals, f.name)
        out[f.name] = format_usd(value) if isinstance(value, Decimal) else value
    return out


def _values(cls: type, data: Mapping[str, Any] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields(cls):
        raw = (data or {}).get(f.name)
        if raw is not None:
            values[f.name] = Decimal(str(raw)) if f.type in ("Decimal", Decimal) else int(raw)
    return values
