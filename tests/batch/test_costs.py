"""Batch prices with cache reads and writes, the baselines, and estimates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from clawback.batch.costs import (
    CostTotals,
    EstimateTotals,
    estimate_request,
    estimate_warmup,
    price_result,
    typical_output_tokens,
)
from clawback.pricing.cost import Usage
from clawback.pricing.loader import load_catalogue

SONNET = load_catalogue().resolve("claude-sonnet-5-5")
AT = date(2026, 11, 25)


def test_batch_prices_cover_cache_tokens() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
        cache_write_1h_input_tokens=1_000_000,
    )
    t = price_result(usage, SONNET, AT)
    # Sonnet 5.5: in 2, out 10, read 0.10, 1h write 4 — all halved in batch
    assert t.cost == Decimal("1") + Decimal("5") + Decimal("0.05") + Decimal("2")
    assert t.standard == 2 * t.cost
    assert t.no_cache == Decimal("3") * 1 + Decimal("5")  # 3M input at $1 + output
    assert t.standard_no_cache == 2 * t.no_cache
    assert t.batch_saving == t.no_cache
    assert t.batch_saving + t.cache_saving == t.saving_vs_standard


def test_totals_add_and_round_trip() -> None:
    a = price_result(Usage(input_tokens=10, output_tokens=5), SONNET, AT)
    b = a + a
    assert b.requests == 2 and b.cost == 2 * a.cost
    assert CostTotals.from_json(b.to_json()) == b
    assert CostTotals.from_json(None) == CostTotals()


def test_warmups_count_as_cost_only() -> None:
    t = CostTotals(
        cost=Decimal(1), standard_no_cache=Decimal(4), no_cache=Decimal(2), warmup_cost=Decimal("0.5")
    )
    assert (
        t.total_cost == Decimal("1.5")
        and t.saving_vs_standard == Decimal("2.5")
        and t.cache_saving == Decimal("0.5")
        and t.batch_saving == Decimal("2")
        and t.batch_saving + t.cache_saving == t.saving_vs_standard
    )


def test_typical_output() -> None:
    assert typical_output_tokens(100) == 50
    assert typical_output_tokens(1) == 1
    assert typical_output_tokens(100, 500) == 100
    assert typical_output_tokens(100, 7) == 7


def test_estimate_roles() -> None:
    plain = estimate_request(SONNET, 10_000, 100, at=AT)
    reader = estimate_request(SONNET, 10_000, 100, role="read", prefix_tokens=9_000, at=AT)
    writer = estimate_request(SONNET, 10_000, 100, role="write", prefix_tokens=9_000, ttl="1h", at=AT)
    assert reader.typical < plain.typical < writer.typical
    assert reader.upper == writer.upper  # the upper bound assumes every grouped request writes
    assert plain.standard_typical == reader.standard_typical
    warm = estimate_warmup(SONNET, 10_000, 9_000, AT)
    assert (
        warm.warmups == 1
        and warm.warmup_cost > 0
        and (plain + warm).upper_total == plain.upper + warm.warmup_cost
    )
    assert EstimateTotals.from_json((plain + warm).to_json()) == plain + warm


@given(st.integers(0, 10**7), st.integers(0, 10**6), st.integers(0, 10**7), st.integers(0, 10**7))
def test_batch_is_exactly_half_of_standard(inp: int, out: int, read: int, write: int) -> None:
    usage = Usage(
        input_tokens=inp, output_tokens=out, cache_read_input_tokens=read, cache_write_5m_input_tokens=write
    )
    t = price_result(usage, SONNET, AT)
    assert t.standard == 2 * t.cost and t.standard_no_cache == 2 * t.no_cache
    warmed = t + CostTotals(warmups=1, warmup_cost=Decimal(read) / 10**9)
    assert warmed.batch_saving + warmed.cache_saving == warmed.saving_vs_standard
