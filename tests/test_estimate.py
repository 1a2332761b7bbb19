from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clawback.errors import UsageError
from clawback.estimate import Workload, estimate_workload
from clawback.pricing.loader import load_catalogue

CAT = load_catalogue()


def _article(**changes: object) -> Workload:
    base: dict[str, object] = {
        "calls_per_day": 50_000,
        "static_tokens": 1_500,
        "dynamic_tokens": 300,
        "output_tokens": 50,
        "model": CAT.resolve("claude-3-5-sonnet-20241022"),
        "target_model": CAT.resolve("claude-3-5-haiku-20241022"),
        "batch_share": Decimal(1),
        "cache_hit_rate": Decimal("0.85"),
        "target_output_tokens": 30,
        "at": date(2025, 6, 1),
    }
    base.update(changes)
    return Workload(**base)  # type: ignore[arg-type]


def test_seed_article_worked_example_is_39_dollars_not_10() -> None:
    result = estimate_workload(_article())
    assert result.baseline == Decimal("307.50")
    assert result.final == Decimal("39.00")
    steps = {s.name: s for s in result.steps}
    assert steps["route"].stacked == Decimal("82.00")
    assert steps["batch"].stacked == Decimal("41.00")
    assert not steps["cache"].applied and steps["cache"].stacked == Decimal("41.00")
    assert any("2,048-token minimum" in w for w in steps["cache"].warnings)
    assert steps["output"].stacked == Decimal("39.00")
    data = result.to_json()
    assert data["baseline_usd"] == "307.50" and data["final_usd"] == "39.00"
    assert [s["name"] for s in data["steps"]] == ["route", "batch", "cache", "output"]


def test_caching_alone_works_on_sonnet_because_1500_is_above_its_minimum() -> None:
    cache = next(s for s in estimate_workload(_article()).steps if s.name == "cache")
    # 85% reads at $0.30, 15% writes at $3.75 on the 1,500-token prefix, plus the rest uncached
    expected = (
        50_000
        * (
            Decimal("0.85") * (1500 * Decimal("0.30") + 300 * 3)
            + Decimal("0.15") * (1500 * Decimal("3.75") + 300 * 3)
            + 50 * 15
        )
        / 1_000_000
    )
    assert cache.alone == expected


def test_gap_beyond_an_hour_means_caching_cannot_work() -> None:
    w = _article(
        cache_hit_rate=None,
        gap_seconds=7200.0,
        target_model=None,
        model=CAT.resolve("claude-sonnet-5-5"),
        at=date(2026, 11, 25),
    )
    cache = next(s for s in estimate_workload(w).steps if s.name == "cache")
    assert not cache.applied
    assert any("1-hour TTL" in x for x in cache.warnings)


def test_gap_between_5_minutes_and_an_hour_uses_a_1_hour_entry() -> None:
    w = _article(
        cache_hit_rate=None,
        gap_seconds=600.0,
        target_model=None,
        model=CAT.resolve("claude-sonnet-5-5"),
        batch_share=Decimal(0),
        target_output_tokens=None,
        at=date(2026, 11, 25),
    )
    cache = estimate_workload(w).steps[0]
    assert cache.applied and "1-hour" in cache.warnings[0]


def test_low_hit_rate_that_loses_money_is_left_out_of_the_stack() -> None:
    w = _article(
        cache_hit_rate=Decimal("0.05"), target_model=None, batch_share=Decimal(0), target_output_tokens=None
    )
    result = estimate_workload(w)
    assert not result.steps[0].applied and result.final == result.baseline


def test_routing_across_tokenizers_counts_more_tokens() -> None:
    w = _article(
        model=CAT.resolve("claude-sonnet-4-6"),
        target_model=CAT.resolve("claude-sonnet-5-5"),
        batch_share=Decimal(0),
        cache_hit_rate=Decimal(0),
        target_output_tokens=None,
        at=date(2026, 11, 25),
    )
    route = estimate_workload(w).steps[0]
    # 1,800 tokens become 2,340 on the 4.7+ tokenizer; 50 output become 65
    assert route.alone == 50_000 * (Decimal(1950 + 390) * 2 + 65 * 10) / 1_000_000
    assert any("30%" in x for x in route.warnings)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"calls_per_day": 0}, "calls per day"),
        ({"static_tokens": -5}, "static tokens"),
        ({"batch_share": Decimal("1.5")}, "batch share"),
        ({"cache_hit_rate": Decimal(2)}, "cache hit rate"),
        ({"gap_seconds": 60.0}, "either a cache hit rate or the gap"),
    ],
)
def test_bad_workloads_are_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _article(**changes)


def test_gap_path_prices_one_write_a_day_and_reads_at_the_ttl_rates() -> None:
    """1,000 calls 600 s apart on Sonnet 5.5: a 1-hour entry, written once, read by the other 999."""
    sonnet = CAT.resolve("claude-sonnet-5-5")
    w = Workload(
        calls_per_day=1_000,
        static_tokens=4_000,
        dynamic_tokens=200,
        output_tokens=300,
        model=sonnet,
        gap_seconds=600.0,
        at=date(2026, 11, 25),
    )
    (cache,) = estimate_workload(w).steps
    hit = 4_000 * Decimal("0.10") + 200 * 2 + 300 * 10  # read at $0.10 (0.05x), since 2026-10-07
    miss = 4_000 * Decimal("4.00") + 200 * 2 + 300 * 10  # 1-hour write at 2x
    assert cache.applied and cache.alone == (999 * hit + miss) / 1_000_000
    short = estimate_workload(Workload(**{**_fields(w), "gap_seconds": 30.0})).steps[0]
    miss_5m = 4_000 * Decimal("2.50") + 200 * 2 + 300 * 10
    assert short.alone == (999 * hit + miss_5m) / 1_000_000 and "5-minute" in short.warnings[0]
    derived = estimate_workload(Workload(**{**_fields(w), "gap_seconds": None})).steps[0]
    assert derived.alone == short.alone and "86.4 s apart" in derived.warnings[0]  # 86,400 s / 1,000 calls


def _fields(w: Workload) -> dict[str, object]:
    return {name: getattr(w, name) for name in Workload.__dataclass_fields__}


def test_batch_with_caching_warns_that_hits_are_best_effort() -> None:
    w = _article(
        model=CAT.resolve("claude-sonnet-5-5"), target_model=None, cache_hit_rate=Decimal("0.9"), at=None
    )
    cache = next(s for s in estimate_workload(w).steps if s.name == "cache")
    assert cache.applied and any("best-effort" in n for n in cache.warnings)


def test_retirement_is_judged_on_the_date() -> None:
    def warnings(at: date) -> tuple[str, ...]:
        return estimate_workload(
            _article(model=CAT.resolve("claude-sonnet-4-5"), target_model=None, at=at)
        ).warnings

    assert "deprecated and retires on 2026-11-30" in warnings(date(2026, 11, 25))[0]
    assert "was retired on 2026-11-30" in warnings(date(2026, 12, 1))[0]
    assert warnings(date(2026, 1, 15)) == ()
