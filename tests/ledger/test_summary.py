"""Ledger summaries: grouping and exact Decimal totals (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from clawback.errors import UsageError
from clawback.ledger.summary import SummaryRow, summarize

T = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)


def row(
    minutes: int = 0,
    task: str | None = "a",
    model: str = "m1",
    usd: str | None = "0.1",
    *,
    error: bool = False,
    unpriced: bool = False,
) -> SummaryRow:
    return SummaryRow(
        ts=T + timedelta(minutes=minutes),
        task=task,
        model=model,
        total_usd=None if usd is None else Decimal(usd),
        input_tokens=10,
        output_tokens=2,
        cache_read_tokens=100,
        cache_write_tokens=5,
        error=error,
        unpriced=unpriced,
    )


def test_totals_are_exact_decimals() -> None:
    result = summarize([row(usd="0.1") for _ in range(10)] + [row(usd="0.2")], "task")
    assert result.total_usd == Decimal("1.2")
    assert result.to_json()["total_usd"] == "1.20"
    assert result.calls == 11
    assert result.overall.input_tokens == 110
    assert result.overall.cache_read_tokens == 1100


def test_tiny_amounts_keep_every_digit() -> None:
    result = summarize([row(usd="0.000003"), row(usd="0.0000015")], "model")
    assert result.to_json()["total_usd"] == "0.0000045"


def test_group_by_task_orders_by_cost_then_calls() -> None:
    rows = [row(task="cheap", usd="0.01"), row(task="dear", usd="5"), row(task=None, usd="0.01")]
    rows += [row(task="cheap", usd="0.00")]
    result = summarize(rows, "task")
    assert [g.key for g in result.groups] == ["dear", "cheap", None]
    cheap = result.groups[1]
    assert (cheap.calls, cheap.total_usd) == (2, Decimal("0.01"))


def test_group_by_model() -> None:
    result = summarize([row(model="m1"), row(model="m2", usd="1"), row(model="m1")], "model")
    assert [(g.key, g.calls) for g in result.groups] == [("m2", 1), ("m1", 2)]


def test_group_by_day_uses_utc_dates_in_order() -> None:
    result = summarize([row(minutes=45), row(minutes=0), row(minutes=20)], "day")
    assert [(g.key, g.calls) for g in result.groups] == [("2026-11-24", 2), ("2026-11-25", 1)]


def test_errors_and_unpriced_calls_are_counted_not_priced() -> None:
    rows = [row(), row(usd=None, error=True), row(usd=None, unpriced=True)]
    data = summarize(rows, "task").to_json()
    assert data["calls"] == 3
    assert data["errors"] == 1
    assert data["unpriced_calls"] == 1
    assert data["total_usd"] == "0.10"
    assert data["groups"][0]["unpriced_calls"] == 1


def test_empty_summary() -> None:
    data = summarize([], "day").to_json()
    assert data["calls"] == 0
    assert data["total_usd"] == "0.00"
    assert data["groups"] == []


def test_unknown_grouping_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--by"):
        summarize([], "week")  # type: ignore[arg-type]
