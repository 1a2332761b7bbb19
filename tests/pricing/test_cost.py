from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawback.errors import PricingError, UsageError
from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import Usage, format_usd, parse_usage, price_usage
from clawback.pricing.loader import load_catalogue

CAT = load_catalogue()
TODAY = date(2026, 11, 25)


def test_article_baseline_call() -> None:
    info = CAT.resolve("claude-3-5-sonnet-20241022")
    b = price_usage(Usage(input_tokens=1_800, output_tokens=50), info)
    assert b.total == Decimal("0.00615")  # x 50,000 calls = $307.50 a day
    assert b.total * 50_000 == Decimal("307.50")


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        # Opus 5.5 reads at 0.05x, not 0.1x: 1M reads = $0.20
        ("claude-opus-5-5", Usage(cache_read_input_tokens=1_000_000), "0.20"),
        # Fable 5.1 reads at 0.025x
        ("claude-fable-5-1", Usage(cache_read_input_tokens=1_000_000), "0.25"),
        # a 1-hour write is 2x, not 1.25x
        ("claude-sonnet-4-6", Usage(cache_write_1h_input_tokens=1_000_000), "6.00"),
        ("claude-sonnet-4-6", Usage(cache_write_5m_input_tokens=1_000_000), "3.75"),
        ("claude-haiku-5-5", Usage(input_tokens=100_000, output_tokens=1_000), "0.0105"),
        # 100,001 prompt tokens: whole request at the >100k tier, output included
        ("claude-haiku-5-5", Usage(input_tokens=100_001, output_tokens=1_000), "0.0525005"),
    ],
)
def test_known_prices(model: str, usage: Usage, expected: str) -> None:
    assert price_usage(usage, CAT.resolve(model), at=TODAY).total == Decimal(expected)


def test_haiku_tier_counts_cache_reads_and_writes_in_the_prompt() -> None:
    info = CAT.resolve("claude-haiku-5-5")
    usage = Usage(input_tokens=10, cache_read_input_tokens=90_000, cache_write_5m_input_tokens=10_000)
    b = price_usage(usage, info, at=TODAY)
    assert usage.prompt_tokens == 100_010
    assert [m.name for m in b.modifiers] == ["prompt_tier"]
    assert b.cache_read == Decimal("90000") * Decimal("0.05") / 1_000_000


def test_sonnet_5_5_priced_by_date() -> None:
    info = CAT.resolve("claude-sonnet-5-5")
    reads = Usage(cache_read_input_tokens=1_000_000)
    assert price_usage(reads, info, at=date(2026, 10, 6)).total == Decimal("0.20")
    assert price_usage(reads, info, at=date(2026, 10, 7)).total == Decimal("0.10")


def test_parse_usage_split_and_legacy_writes() -> None:
    split = parse_usage(
        {
            "input_tokens": 3,
            "output_tokens": 5,
            "cache_creation_input_tokens": 700,
            "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 500},
        }
    )
    assert (split.cache_write_5m_input_tokens, split.cache_write_1h_input_tokens) == (200, 500)
    legacy = parse_usage({"input_tokens": 3, "output_tokens": 5, "cache_creation_input_tokens": 700})
    assert (legacy.cache_write_5m_input_tokens, legacy.cache_write_1h_input_tokens) == (700, 0)
    nulls = parse_usage(
        {
            "input_tokens": 3,
            "output_tokens": 5,
            "cache_creation_input_tokens": None,
            "cache_read_input_tokens": None,
            "cache_creation": None,
            "service_tier": "batch",
        }
    )
    assert nulls.cache_creation_input_tokens == 0 and nulls.service_tier == "batch"


def test_batch_service_tier_in_usage_means_batch() -> None:
    info = CAT.resolve("claude-sonnet-5-5")
    std = price_usage(parse_usage({"input_tokens": 1000, "output_tokens": 100}), info, at=TODAY)
    bat = price_usage(
        parse_usage({"input_tokens": 1000, "output_tokens": 100, "service_tier": "batch"}), info, at=TODAY
    )
    assert bat.total * 2 == std.total
    assert [m.name for m in bat.modifiers] == ["batch"]


def test_thinking_is_part_of_output() -> None:
    usage = parse_usage(
        {"input_tokens": 10, "output_tokens": 1000, "output_tokens_details": {"thinking_tokens": 800}}
    )
    b = price_usage(usage, CAT.resolve("claude-opus-5-5"), at=TODAY)
    assert b.output == Decimal("0.02")
    with pytest.raises(UsageError, match="thinking"):
        parse_usage(
            {"input_tokens": 1, "output_tokens": 10, "output_tokens_details": {"thinking_tokens": 11}}
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"input_tokens": -1}, "input_tokens must be a non-negative integer"),
        ({"input_tokens": 1.5}, "input_tokens must be a non-negative integer"),
        ({"input_tokens": "12"}, "input_tokens must be a non-negative integer"),
        ({"input_tokens": True}, "input_tokens must be a non-negative integer"),
        ([1, 2], "usage must be a JSON object"),
        (
            {"cache_creation_input_tokens": 5, "cache_creation": {"ephemeral_1h_input_tokens": 9}},
            "splits 9 tokens",
        ),
    ],
)
def test_malformed_usage_is_rejected(raw: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_usage(raw)


def test_modifier_errors() -> None:
    with pytest.raises(PricingError, match="fast mode cannot be combined"):
        price_usage(Usage(input_tokens=1), CAT.resolve("claude-opus-5-5"), batch=True, fast=True)
    with pytest.raises(PricingError, match="not offered"):
        price_usage(Usage(input_tokens=1), CAT.resolve("claude-sonnet-5-5"), fast=True)
    with pytest.raises(PricingError, match="4.6 and later"):
        price_usage(Usage(input_tokens=1), CAT.resolve("claude-sonnet-4-5"), inference_geo="us")


def test_fast_mode_uses_fast_rates_and_model_multipliers() -> None:
    b = price_usage(
        Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_input_tokens=1_000_000),
        CAT.resolve("claude-opus-5-5"),
        fast=True,
    )
    assert b.uncached_input == Decimal(8) and b.output == Decimal(40)
    assert b.cache_read == Decimal("0.40")  # 0.05 x $8


def test_web_search_is_billed_per_request() -> None:
    usage = parse_usage(
        {"input_tokens": 0, "output_tokens": 0, "server_tool_use": {"web_search_requests": 3}}
    )
    assert price_usage(usage, CAT.resolve("claude-sonnet-5-5")).total == Decimal("0.03")


def test_format_usd_is_plain_and_at_least_cents() -> None:
    assert format_usd(Decimal("307.5")) == "307.50"
    assert format_usd(Decimal("0.000123")) == "0.000123"
    assert format_usd(Decimal("1E+2")) == "100.00"
    assert format_usd(Decimal("-2")) == "-2.00"


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=-(10**9), max_value=10**9),
    st.integers(min_value=0, max_value=12),
)
def test_format_usd_is_the_same_for_equal_amounts_whatever_was_formatted_before(
    amount: Decimal, extra_zeros: int
) -> None:
    """format_usd remembers the strings of amounts it formatted: equal amounts must share one (1.5, 1.50)."""
    from clawback.pricing import cost

    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    padded = Decimal((sign, (*digits, *(0,) * extra_zeros), exponent - extra_zeros))
    cost._USD_MEMO.clear()
    fresh = format_usd(amount)
    assert format_usd(amount) == fresh  # remembered
    assert format_usd(padded) == fresh  # an equal amount written with more zeros
    cost._USD_MEMO.clear()
    assert format_usd(padded) == fresh
    assert Decimal(fresh) == amount


def test_format_usd_memo_is_bounded_and_zero_keeps_its_sign() -> None:
    from clawback.pricing import cost

    for i in range(1, cost._USD_MEMO_LIMIT + 10):
        format_usd(Decimal(i) / 1000)
    assert len(cost._USD_MEMO) <= cost._USD_MEMO_LIMIT
    assert format_usd(Decimal("0")) == "0.00"
    assert format_usd(Decimal("-0")) == "-0.00"
    assert format_usd(Decimal("0E-9")) == "0.00"


def test_breakdown_json_has_decimal_strings() -> None:
    b = price_usage(Usage(input_tokens=1000, output_tokens=10), CAT.resolve("claude-haiku-5-5"), batch=True)
    data = b.to_json()
    assert Decimal(data["total_usd"]) == b.total == Decimal("0.0000525")
    assert (
        Decimal(data["base_total_usd"]) + sum(Decimal(m["delta_usd"]) for m in data["modifiers"]) == b.total
    )


# ---- invariants --------------------------------------------------------------------------------
# Counts mix small values with large ones so that prompts fall on both sides of the long-prompt
# thresholds (Haiku 5.5 over 100,000; Sonnet 4/4.5 over 200,000 until 2026-04-30), and every
# invariant is checked under every valid combination of batch, US-only inference and fast mode.

counts = st.one_of(st.integers(min_value=0, max_value=60_000), st.integers(min_value=0, max_value=2_000_000))
usages = st.builds(
    Usage,
    input_tokens=counts,
    output_tokens=counts,
    cache_read_input_tokens=counts,
    cache_write_5m_input_tokens=counts,
    cache_write_1h_input_tokens=counts,
)
models = st.sampled_from(list(CAT.models))
dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
FIELDS = [
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_5m_input_tokens",
    "cache_write_1h_input_tokens",
    "web_search_requests",
]
Call = tuple[Usage, ModelInfo, date, dict[str, Any]]


@st.composite
def priced_calls(draw: st.DrawFn) -> Call:
    """A usage, a model, a date and a valid combination of batch / US geo / fast mode for it."""
    model = draw(models)
    batch = draw(st.booleans())
    mode: dict[str, Any] = {
        "batch": batch,
        "inference_geo": draw(st.sampled_from(["us", None])) if model.inference_geo_us else None,
        "fast": draw(st.booleans()) if model.fast_mode is not None and not batch else False,
    }
    return draw(usages), model, draw(dates), mode


def _total(usage: Usage, call: Call) -> Decimal:
    _, model, when, mode = call
    return price_usage(usage, model, at=when, **mode).total


@settings(max_examples=400, deadline=None)
@given(priced_calls(), st.sampled_from(FIELDS), st.integers(min_value=1, max_value=150_000))
def test_cost_is_monotone_in_every_count_under_every_modifier(call: Call, field: str, extra: int) -> None:
    usage = call[0]
    more = replace(usage, **{field: getattr(usage, field) + extra})
    assert _total(more, call) > _total(usage, call)  # every rate is positive


@settings(max_examples=300, deadline=None)
@given(priced_calls())
def test_batch_is_exactly_half_on_every_line(call: Call) -> None:
    usage, model, when, mode = call
    if mode["fast"]:
        return  # fast mode is not offered through the Batch API (an error, tested above)
    geo = mode["inference_geo"]
    standard = price_usage(usage, model, at=when, batch=False, inference_geo=geo)
    batch = price_usage(usage, model, at=when, batch=True, inference_geo=geo)
    assert batch.total * 2 == standard.total
    for line in ("uncached_input", "cache_write_5m", "cache_write_1h", "cache_read", "output"):
        assert getattr(batch, line) * 2 == getattr(standard, line), line
    reported = price_usage(replace(usage, service_tier="batch"), model, at=when, inference_geo=geo)
    assert reported.total == batch.total  # service_tier "batch" in a usage object means batch


@settings(max_examples=200, deadline=None)
@given(priced_calls())
def test_us_geo_is_exactly_ten_percent_more_and_only_where_offered(call: Call) -> None:
    usage, model, when, mode = call
    if not model.inference_geo_us:
        with pytest.raises(PricingError, match="4.6 and later"):
            price_usage(usage, model, at=when, inference_geo="us")
        return
    kw = {"at": when, "batch": mode["batch"], "fast": mode["fast"]}
    us = price_usage(usage, model, inference_geo="us", **kw).total
    assert us == price_usage(usage, model, inference_geo="global", **kw).total * Decimal("1.1")


@settings(max_examples=300, deadline=None)
@given(priced_calls(), st.integers(min_value=1, max_value=3_000_000))
def test_token_kinds_are_ordered_read_uncached_5m_1h(call: Call, n: int) -> None:
    def one(**kw: int) -> Decimal:
        return _total(Usage(**kw), call)

    read, uncached = one(cache_read_input_tokens=n), one(input_tokens=n)
    w5, w1 = one(cache_write_5m_input_tokens=n), one(cache_write_1h_input_tokens=n)
    assert read < uncached <= w5 <= w1


@settings(max_examples=200, deadline=None)
@given(priced_calls())
def test_reading_a_token_from_cache_never_costs_more_than_sending_it(call: Call) -> None:
    usage = call[0]
    uncached = replace(
        usage, input_tokens=usage.input_tokens + usage.cache_read_input_tokens, cache_read_input_tokens=0
    )
    assert _total(usage, call) <= _total(uncached, call)


@settings(max_examples=200, deadline=None)
@given(priced_calls(), st.data())
def test_thinking_tokens_are_part_of_output_not_extra(call: Call, data: st.DataObject) -> None:
    usage = call[0]
    thinking = data.draw(st.integers(min_value=0, max_value=usage.output_tokens))
    assert _total(replace(usage, thinking_tokens=thinking), call) == _total(usage, call)


@settings(max_examples=200, deadline=None)
@given(priced_calls())
def test_lines_sum_to_total_and_base_plus_deltas(call: Call) -> None:
    usage, model, when, mode = call
    b = price_usage(usage, model, at=when, **mode)
    assert (
        b.total
        == b.uncached_input + b.cache_write_5m + b.cache_write_1h + b.cache_read + b.output + b.web_search
    )
    assert b.total == b.base_total + sum((m.delta for m in b.modifiers), Decimal(0))
    tier = model.prompt_tier_at(when)
    expected = [
        ("prompt_tier", tier is not None and usage.prompt_tokens > tier.threshold_prompt_tokens),
        ("fast_mode", mode["fast"]),
        ("batch", mode["batch"]),
        ("inference_geo", mode["inference_geo"] == "us"),
    ]
    assert [m.name for m in b.modifiers] == [name for name, on in expected if on]


@settings(max_examples=200, deadline=None)
@given(usages, dates)
def test_long_prompt_tier_reprices_the_whole_request(usage: Usage, when: date) -> None:
    for model in ("claude-haiku-5-5", "claude-sonnet-4-5", "claude-sonnet-4-0"):
        info = CAT.resolve(model)
        b = price_usage(usage, info, at=when)
        tier = info.prompt_tier_at(when)
        over = tier is not None and usage.prompt_tokens > tier.threshold_prompt_tokens
        rates = tier.rates if tier is not None and over else info.rates_at(when)
        for line, tokens, rate in (
            (b.uncached_input, usage.input_tokens, rates.input),
            (b.cache_write_5m, usage.cache_write_5m_input_tokens, rates.cache_write_5m),
            (b.cache_write_1h, usage.cache_write_1h_input_tokens, rates.cache_write_1h),
            (b.cache_read, usage.cache_read_input_tokens, rates.cache_read),
            (b.output, usage.output_tokens, rates.output),
        ):
            assert line == tokens * rate / 1_000_000, model


def test_a_model_id_or_a_raw_usage_dict_is_a_clear_error() -> None:
    """The natural first try, price_usage(usage, "claude-sonnet-5-5"), names the right call."""
    usage = parse_usage({"input_tokens": 1000, "output_tokens": 10})
    with pytest.raises(PricingError, match=r"load_catalogue\(\)\.resolve\('claude-sonnet-5-5'\)"):
        price_usage(usage, "claude-sonnet-5-5")  # type: ignore[arg-type]
    model = load_catalogue().resolve("claude-sonnet-5-5")
    with pytest.raises(PricingError, match="parse_usage"):
        price_usage({"input_tokens": 1000, "output_tokens": 10}, model)  # type: ignore[arg-type]
    assert price_usage(usage, model, at=date(2026, 10, 1)).total == Decimal("0.0021")


_CATALOGUE_MODELS = None


def _models() -> tuple[ModelInfo, ...]:
    global _CATALOGUE_MODELS
    if _CATALOGUE_MODELS is None:
        from clawback.pricing.loader import load_catalogue

        _CATALOGUE_MODELS = load_catalogue([]).models
    return _CATALOGUE_MODELS


_USAGES = (
    st.integers(0, 2_000_000),
    st.integers(0, 200_000),
    st.integers(0, 2_000_000),
    st.integers(0, 500_000),
    st.integers(0, 500_000),
    st.integers(0, 20),
    st.sampled_from([None, "standard", "batch", "priority"]),
    st.sampled_from([None, "us", "global"]),
    st.sampled_from([None, "fast", "standard"]),
)
"""Counts (input, output, read, 5m and 1h writes, web searches), service tier, region and speed."""


@settings(max_examples=300, deadline=None)
@given(*_USAGES, st.sampled_from([None, False, True]), st.data())
def test_price_total_is_price_usage_total(
    inp: int,
    out: int,
    read: int,
    w5: int,
    w1: int,
    web: int,
    tier: Any,
    geo: Any,
    speed: Any,
    batch: Any,
    data: Any,
) -> None:
    from clawback.pricing.cost import price_total

    model = data.draw(st.sampled_from(_models()))
    at = data.draw(
        st.sampled_from([None, date(2024, 1, 1), date(2026, 6, 1), date(2027, 1, 15), date(2030, 1, 1)])
    )
    usage = Usage(inp, out, read, w5, w1, 0, web, tier, geo, speed)
    try:
        expected = price_usage(usage, model, at=at, batch=batch).total
    except PricingError as exc:
        with pytest.raises(PricingError, match=str(exc)[:20]):
            price_total(usage, model, at=at, batch=batch)
        return
    got = price_total(usage, model, at=at, batch=batch)
    assert got == expected and str(got) == str(expected)


@settings(max_examples=300, deadline=None)
@given(*_USAGES, st.data())
def test_price_input_is_price_usage_input_total(
    inp: int, out: int, read: int, w5: int, w1: int, web: int, tier: Any, geo: Any, speed: Any, data: Any
) -> None:
    """The client's calling-thread pricing: the same Decimal as the breakdown's, or None (price it in full)."""
    from clawback.pricing.cost import price_input

    model = data.draw(st.sampled_from(_models()))
    at = data.draw(st.sampled_from([None, date(2024, 1, 1), date(2026, 6, 1), date(2030, 1, 1)]))
    usage = Usage(inp, out, read, w5, w1, 0, web, tier, geo, speed)
    got = price_input(usage, model, at=at)
    if got is None:  # a modifier applies: only the full breakdown knows
        modified = tier == "batch" or speed == "fast" or geo == "us"
        tiered = model.prompt_tier_at(at)
        assert modified or (tiered is not None and usage.prompt_tokens > tiered.threshold_prompt_tokens)
        return
    expected = price_usage(usage, model, at=at)
    assert not expected.modifiers
    assert got == expected.input_total and str(got) == str(expected.input_total)


def _reference_check(values: list[Any]) -> str | None:
    """The validation Usage did before its plain-int shortcut: the first bad count's message."""
    names = [field.name for field in fields(Usage)][:7]  # the counts come first
    for name, value in zip(names, values, strict=True):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name} must be a non-negative integer, got {value!r}"
    return None


@given(
    st.lists(
        st.one_of(st.integers(-3, 10**12), st.booleans(), st.floats(0, 5), st.none(), st.just("7")),
        min_size=7,
        max_size=7,
    )
)
def test_usage_validation_is_unchanged(values: list[Any]) -> None:
    expected = _reference_check(values)
    if expected is None:
        assert Usage(*values).input_tokens == values[0]
    else:
        with pytest.raises(UsageError) as caught:
            Usage(*values)
        assert str(caught.value) == expected
