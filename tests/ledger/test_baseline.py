"""The baseline: what a call would have cost sent as the caller wrote it, and the savings it implies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawback.ledger.baseline import baseline_usd, caller_reach, record_baseline, uncached_beyond
from clawback.ledger.record import CallRecord
from clawback.ledger.summary import SummaryRow, summarize
from clawback.pricing import load_catalogue, price_usage
from clawback.pricing.cost import Usage
from clawback.shapes import BlockShape, RequestShape
from tests.ledger.factories import T0, make_record

CATALOGUE = load_catalogue()
SONNET = CATALOGUE.resolve("claude-sonnet-5-5")
HAIKU = CATALOGUE.resolve("claude-haiku-5-5")
DAY = date(2026, 11, 20)
SERVED = Usage(
    input_tokens=50,
    output_tokens=20,
    cache_read_input_tokens=3000,
    cache_write_5m_input_tokens=100,
    cache_write_1h_input_tokens=400,
)


@pytest.mark.parametrize(
    ("keep", "read", "w1h", "w5m", "uncached"),
    [
        (None, 3000, 400, 100, 50),  # clawback added nothing: everything cached is the caller's
        (0, 0, 0, 0, 3550),  # the caller set no breakpoint: every cached token was clawback's
        (2000, 2000, 0, 0, 1550),  # the caller's own prefix: reads first
        (3200, 3000, 200, 0, 350),  # then 1-hour writes
        (3450, 3000, 400, 50, 100),  # then 5-minute writes
        (10_000, 3000, 400, 100, 50),
    ],
)
def test_cached_tokens_beyond_the_callers_reach_become_uncached_input(
    keep: int | None, read: int, w1h: int, w5m: int, uncached: int
) -> None:
    out = uncached_beyond(SERVED, keep)
    assert (out.cache_read_input_tokens, out.cache_write_1h_input_tokens) == (read, w1h)
    assert (out.cache_write_5m_input_tokens, out.input_tokens) == (w5m, uncached)
    assert out.prompt_tokens == SERVED.prompt_tokens and out.output_tokens == SERVED.output_tokens


counts = st.integers(min_value=0, max_value=200_000)


@given(counts, counts, counts, counts, counts, st.one_of(st.none(), counts))
def test_baseline_keeps_every_token_and_only_moves_cached_ones(
    inp: int, out: int, read: int, w5: int, w1: int, keep: int | None
) -> None:
    usage = Usage(inp, out, read, w5, w1, service_tier="batch")
    base = uncached_beyond(usage, keep)
    assert base.prompt_tokens == usage.prompt_tokens
    assert base.output_tokens == usage.output_tokens
    assert base.service_tier is None  # the standard tier, whatever served the call
    cached = read + w5 + w1
    kept = base.prompt_tokens - base.input_tokens
    assert kept == (cached if keep is None else min(cached, keep))
    amount = baseline_usd(usage, SONNET, at=DAY, keep=keep)
    assert amount == price_usage(base, SONNET, at=DAY, batch=False).total


def test_the_baseline_is_priced_at_the_requested_model_and_the_standard_tier() -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, service_tier="batch")
    assert (
        baseline_usd(usage, SONNET, at=DAY, keep=None)
        == price_usage(usage, SONNET, at=DAY, batch=False).total
    )
    assert baseline_usd(usage, SONNET, at=DAY, keep=None) == 2 * price_usage(usage, SONNET, at=DAY).total
    assert baseline_usd(usage, HAIKU, at=DAY, keep=None) < baseline_usd(usage, SONNET, at=DAY, keep=None)


def test_calls_the_caller_would_not_have_made_have_a_zero_baseline() -> None:
    for kind in ("cut_by_cap", "keepalive", "warmup", "cascade_sample", "escalation"):
        assert baseline_usd(SERVED, SONNET, at=DAY, keep=0, extra_call=kind) == 0


def _shape(marks: dict[int, str], auto: str | None = None) -> RequestShape:
    blocks = tuple(
        BlockShape("system", i, "text", f"c{i}", f"p{i}", 1000, marks.get(i), True)  # type: ignore[arg-type]
        for i in range(4)
    )
    return RequestShape("claude-sonnet-5-5", blocks, auto, overhead_tokens=7)  # type: ignore[arg-type]


def test_the_callers_reach_is_the_prefix_of_their_own_deepest_breakpoint() -> None:
    assert caller_reach(_shape({2: "5m"}), ()) is None  # clawback added nothing
    assert caller_reach(_shape({2: "5m"}), (2,)) == 0  # the only mark is clawback's
    assert caller_reach(_shape({0: "1h", 2: "5m"}), (2,)) == 1007
    assert caller_reach(_shape({1: "5m", 3: "5m"}), (3,)) == 2007
    assert caller_reach(_shape({3: "5m"}, auto="5m"), (3,)) is None  # automatic caching is the caller's


def test_a_stored_row_without_a_baseline_gets_one_from_its_plan_and_usage() -> None:
    plain = make_record(0, usage=SERVED.to_api(), shape=_shape({2: "5m"}).to_json())
    planned = make_record(
        1, usage=SERVED.to_api(), shape=_shape({2: "5m"}).to_json(), extra={"cache_plan": {"2": "5m"}}
    )
    pinged = make_record(2, usage=SERVED.to_api(), extra={"keepalive": {"position": 2}})
    recorded = make_record(3, baseline_usd="1.25")
    assert (
        record_baseline(plain, CATALOGUE) == price_usage(uncached_beyond(SERVED, None), SONNET, at=DAY).total
    )
    assert (
        record_baseline(planned, CATALOGUE) == price_usage(uncached_beyond(SERVED, 0), SONNET, at=DAY).total
    )
    assert record_baseline(pinged, CATALOGUE) == 0
    assert record_baseline(recorded, CATALOGUE) == Decimal("1.25")
    assert record_baseline(make_record(4, usage=None), CATALOGUE) is None
    unknown = CallRecord.create("no-such-model", ts=T0, usage=SERVED.to_api(), total_usd="0.5")
    assert record_baseline(unknown, CATALOGUE) is None


money = st.decimals(min_value=0, max_value=1000, places=9, allow_nan=False, allow_infinity=False)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["client", "batch", "eval", None]),
            st.one_of(st.none(), money),
            st.one_of(st.none(), money),
        ),
        max_size=30,
    )
)
def test_spent_baseline_and_saved_add_up_exactly_in_every_group(
    rows: list[tuple[str | None, Decimal | None, Decimal | None]],
) -> None:
    summary = summarize(
        [
            SummaryRow(ts=T0, task="t", model="m", total_usd=spent, source=source, baseline_usd=base)
            for source, spent, base in rows
        ],
        by="source",
    )
    for group in (summary.overall, *summary.groups):
        assert group.saved_usd == group.baseline_usd - group.total_usd
    assert sum((g.baseline_usd for g in summary.groups), Decimal(0)) == summary.baseline_usd
    assert sum((g.saved_usd for g in summary.groups), Decimal(0)) == summary.saved_usd
    missing = sum(1 for _, spent, base in rows if base is None and spent is not None)
    assert summary.overall.without_baseline == missing
    data = summary.to_json()
    assert Decimal(data["saved_usd"]) == Decimal(data["baseline_usd"]) - Decimal(data["total_usd"])
