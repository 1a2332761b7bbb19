"""SQL pricing is exact: every call's cost equals price_usage's, by date, tier, batch, fast mode and geo."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from clawback.audit.queries import micro_to_usd
from clawback.audit.records import AuditRecord
from clawback.audit.store import AuditStore
from clawback.errors import ClawbackError
from clawback.pricing import Usage, load_catalogue, price_usage

CATALOGUE = load_catalogue()


def _random_records(n: int, seed: int = 3) -> Iterator[AuditRecord]:
    rng = random.Random(seed)
    models = [m.id for m in CATALOGUE.models]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(n):
        model = rng.choice(models)
        big = rng.random() < 0.2
        yield AuditRecord(
            ts=start + timedelta(days=rng.randrange(0, 720), seconds=rng.randrange(86400)),
            model=model,
            input_tokens=rng.randrange(0, 150_000 if big else 5_000),
            output_tokens=rng.randrange(0, 4_000),
            cache_read_input_tokens=rng.randrange(0, 60_000) if rng.random() < 0.5 else 0,
            cache_write_5m_input_tokens=rng.randrange(0, 9_000) if rng.random() < 0.4 else 0,
            cache_write_1h_input_tokens=rng.randrange(0, 9_000) if rng.random() < 0.2 else 0,
            web_search_requests=rng.randrange(0, 3) if rng.random() < 0.1 else 0,
            service_tier=rng.choice(["standard", "batch", None]),
            inference_geo=rng.choice([None, "global", "us"]),
            speed="fast" if rng.random() < 0.15 else None,
        )


def _expected(r: AuditRecord) -> Decimal | None:
    usage = Usage(
        input_tokens=r.input_tokens,
        output_tokens=r.output_tokens,
        cache_read_input_tokens=r.cache_read_input_tokens,
        cache_write_5m_input_tokens=r.cache_write_5m_input_tokens,
        cache_write_1h_input_tokens=r.cache_write_1h_input_tokens,
        web_search_requests=r.web_search_requests,
        service_tier=r.service_tier,
        inference_geo=r.inference_geo,
        speed=r.speed,
    )
    try:
        return price_usage(usage, CATALOGUE.resolve(r.model), at=r.ts.date()).total
    except ClawbackError:
        return None


def test_sql_prices_match_price_usage_exactly() -> None:
    records = list(_random_records(3000))
    with AuditStore.open(CATALOGUE) as store:
        store.load(records)
        store.prepare()
        rows = store.con.execute(
            "SELECT id, c_in + c_w5 + c_w1 + c_rd + c_out + c_web, unpriced FROM priced ORDER BY id"
        ).fetchall()
    mismatches = []
    priced = unpriced = 0
    for record, (_, micro, reason) in zip(records, rows, strict=True):
        expected = _expected(record)
        if expected is None:
            unpriced += 1
            assert reason is not None, record
            continue
        priced += 1
        got = micro_to_usd(micro)
        if got != expected:
            mismatches.append((record, got, expected))
    assert not mismatches, mismatches[:3]
    assert priced > 2000 and unpriced > 50


@pytest.mark.parametrize(
    ("day", "rate"),
    [(date(2026, 10, 6), Decimal("0.20")), (date(2026, 10, 7), Decimal("0.10"))],
)
def test_prices_in_force_on_the_call_date(day: date, rate: Decimal) -> None:
    record = AuditRecord(
        ts=datetime.combine(day, datetime.min.time(), UTC),
        model="claude-sonnet-5-5",
        cache_read_input_tokens=1_000_000,
    )
    with AuditStore.open(CATALOGUE) as store:
        store.load([record])
        store.prepare()
        (micro,) = store.con.execute("SELECT c_rd FROM priced").fetchall()[0]
    assert micro_to_usd(micro) == rate


def test_unknown_models_are_unpriced_never_zero() -> None:
    ts = datetime(2026, 11, 1, tzinfo=UTC)
    records = [
        AuditRecord(ts=ts, model="acme-llm-2", input_tokens=500, output_tokens=50),
        AuditRecord(ts=ts, model="claude-haiku-5-5", input_tokens=1000, speed="fast", service_tier="batch"),
        AuditRecord(ts=ts, model="claude-3-haiku-20240307", input_tokens=1000, inference_geo="us"),
    ]
    with AuditStore.open(CATALOGUE) as store:
        store.load(records)
        store.prepare()
        rows = store.con.execute("SELECT model, unpriced, c_in FROM priced ORDER BY id").fetchall()
    assert rows[0] == ("acme-llm-2", "unknown model", None)
    assert rows[1][1] == "fast mode cannot be combined with the Batch API"
    assert rows[2][1] == "US-only inference is not offered on this model" and rows[2][2] is None


def test_retired_long_context_tier_only_while_it_lasted() -> None:
    """Sonnet 4/4.5's >200K tier ($6/$22.50) applies before 2026-04-30 and never after, as in price_usage."""
    records = [
        AuditRecord(
            ts=datetime(year, month, 15, tzinfo=UTC),
            model=model,
            input_tokens=150_000,
            cache_read_input_tokens=40_000,
            cache_write_1h_input_tokens=10_001,
            output_tokens=2_000,
            service_tier=tier,
        )
        for model in ("claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514")
        for year, month in ((2026, 1), (2026, 5))
        for tier in ("standard", "batch")
    ]
    with AuditStore.open(CATALOGUE) as store:
        store.load(records)
        store.prepare()
        rows = store.con.execute("SELECT c_in + c_w5 + c_w1 + c_rd + c_out + c_web FROM priced ORDER BY id")
        got = [micro_to_usd(micro) for (micro,) in rows.fetchall()]
    assert got == [_expected(r) for r in records]
    assert got[0] == (150_000 * 6 + 40_000 * Decimal("0.60") + 10_001 * 12 + 2_000 * Decimal("22.50")) / 10**6
    assert got[2] == (150_000 * 3 + 40_000 * Decimal("0.30") + 10_001 * 6 + 2_000 * 15) / Decimal(10**6)
