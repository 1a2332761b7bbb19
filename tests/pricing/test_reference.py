"""Every model in ../shared/docs/prices-reference.yaml prices exactly as the reference says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml

from clawback.pricing.cost import Usage, price_usage
from clawback.pricing.loader import load_catalogue
from tests.conftest import shared_file

M = Decimal(1_000_000)
USAGE = Usage(
    input_tokens=1_234_567,
    output_tokens=234_567,
    cache_read_input_tokens=345_678,
    cache_write_5m_input_tokens=45_678,
    cache_write_1h_input_tokens=5_678,
)
SMALL = Usage(
    input_tokens=10_000,
    output_tokens=2_000,
    cache_read_input_tokens=30_000,
    cache_write_5m_input_tokens=4_000,
    cache_write_1h_input_tokens=5_000,
)


def _reference() -> list[dict[str, Any]]:
    path = shared_file("docs", "prices-reference.yaml")
    return list(yaml.safe_load(path.read_text())["models"])


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _expected(usage: Usage, row: dict[str, Any], *, cache_read: Any = None, batch: bool = False) -> Decimal:
    half = Decimal("0.5") if batch else Decimal(1)
    inp = _d(row["batch_input"]) if batch else _d(row["input"])
    out = _d(row["batch_output"]) if batch else _d(row["output"])
    read = _d(row["cache_read"] if cache_read is None else cache_read)
    return (
        usage.input_tokens * inp
        + usage.output_tokens * out
        + usage.cache_read_input_tokens * read * half
        + usage.cache_write_5m_input_tokens * _d(row["cache_write_5m"]) * half
        + usage.cache_write_1h_input_tokens * _d(row["cache_write_1h"]) * half
    ) / M


def _ids() -> list[tuple[str, str]]:
    try:
        rows = _reference()
    except pytest.skip.Exception:
        return [("absent", "absent")]
    return [(row["display_name"], api_id) for row in rows for api_id in row["api_ids"]]


@pytest.mark.parametrize(("name", "api_id"), _ids())
def test_model_prices_exactly_as_the_reference(name: str, api_id: str) -> None:
    rows = {i: r for r in _reference() for i in r["api_ids"]}
    row = rows[api_id]
    catalogue = load_catalogue()
    info = catalogue.resolve(api_id)
    for alias in row.get("aliases") or []:
        assert catalogue.resolve(alias.split(" ")[0]).id in row["api_ids"]
    latest = info.rates_at(date(2026, 11, 25))
    for field in (
        "input",
        "output",
        "cache_write_5m",
        "cache_write_1h",
        "cache_read",
        "batch_input",
        "batch_output",
    ):
        assert getattr(latest, field) == _d(row[field]), field
    if row["min_cacheable_tokens"] is not None:
        assert info.min_cacheable_tokens == row["min_cacheable_tokens"]
    if row["max_output"] is not None:
        assert info.max_output == row["max_output"]
    assert info.context_window == row["context_window"]
    status = row["status"]
    for key in ("released", "deprecated", "retired"):
        if status.get(key):
            assert getattr(info, key) == date.fromisoformat(status[key]), key
    if status["state"] == "deprecated":
        assert info.status == "deprecated" and info.retires == date.fromisoformat(status["retirement"])
    assert (info.status == "retired") == ("retired" in status["state"])
    assert (info.status == "legacy") == (status["state"] == "legacy")

    at = date(2026, 11, 25)
    tier = row.get("long_context")
    live_tier = tier if tier and not tier.get("historical") else None
    big = live_tier or row  # USAGE's 2.3M-token prompt is over any prompt-tier threshold
    assert price_usage(USAGE, info, at=at).total == _expected(USAGE, big)
    assert price_usage(USAGE, info, at=at, batch=True).total == _expected(USAGE, big, batch=True)
    if info.inference_geo_us:
        assert price_usage(USAGE, info, at=at, inference_geo="us").total == _expected(USAGE, big) * Decimal(
            "1.1"
        )
        assert price_usage(USAGE, info, at=at, batch=True, inference_geo="us").total == _expected(
            USAGE, big, batch=True
        ) * Decimal("1.1")
        assert price_usage(SMALL, info, at=at, inference_geo="us").total == _expected(SMALL, row) * Decimal(
            "1.1"
        )
    for period in row.get("cache_read_history") or []:
        when = date.fromisoformat(period["from"])
        assert price_usage(SMALL, info, at=when).total == _expected(SMALL, row, cache_read=period["value"])

    assert price_usage(SMALL, info, at=at).total == _expected(SMALL, row)
    assert price_usage(SMALL, info, at=at, batch=True).total == _expected(SMALL, row, batch=True)
    if live_tier:
        threshold = live_tier["threshold_prompt_tokens"]
        at_edge = Usage(input_tokens=threshold, output_tokens=1000)
        over = Usage(input_tokens=threshold + 1, output_tokens=1000)
        assert price_usage(at_edge, info, at=at).total == _expected(at_edge, row)
        assert price_usage(over, info, at=at).total == _expected(over, live_tier)

    if tier and tier.get("historical"):
        # Sonnet 4/4.5's 1M beta: over 200K prompt tokens every token paid the tier's rates, until
        # the beta ended on 2026-04-30; the reference quotes input and output only.
        threshold = tier["threshold_input_tokens"]
        tier_row = {**row, "input": tier["input"], "output": tier["output"]}
        at_edge = Usage(input_tokens=threshold, output_tokens=1000)
        over = Usage(input_tokens=threshold + 1, output_tokens=1000)
        during, after = date(2026, 1, 15), date(2026, 4, 30)
        assert price_usage(at_edge, info, at=during).total == _expected(at_edge, row)
        assert price_usage(over, info, at=during).total == _expected(over, tier_row)
        assert price_usage(over, info, at=after).total == _expected(over, row)

    fast = row.get("fast_mode")
    if fast:
        ratio = {k: _d(row[k]) / _d(row["input"]) for k in ("cache_write_5m", "cache_write_1h", "cache_read")}
        fin = _d(fast["input"])
        fast_row = {
            "input": fin,
            "output": fast["output"],
            "cache_read": fin * ratio["cache_read"],
            "cache_write_5m": fin * ratio["cache_write_5m"],
            "cache_write_1h": fin * ratio["cache_write_1h"],
        }
        assert price_usage(SMALL, info, at=at, fast=True).total == _expected(SMALL, fast_row)
