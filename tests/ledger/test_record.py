"""CallRecord: ids, key ids, token counts, JSON round trip, pricing (pure)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawback.errors import UsageError
from clawback.ledger.record import (
    CallError,
    CallRecord,
    TokenCounts,
    api_key_id,
    format_ts,
    new_record_id,
    price_call,
)
from clawback.pricing import load_catalogue
from tests.ledger.factories import USAGE, make_record

KEY = "sk-ant-api03-" + "x" * 80 + "AbCd"


def test_record_ids_are_uuid7_unique_and_time_ordered() -> None:
    ids = [new_record_id(now_ns=1_800_000_000_000_000_000 + i * 1_000_000) for i in range(200)]
    assert len(set(ids)) == 200
    assert ids == sorted(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "fork"), reason="needs fork()")
def test_record_ids_stay_unique_across_forked_processes() -> None:
    """The random bits are fetched from the OS in blocks: a forked child must not reuse the parent's block."""
    same_ms = 1_800_000_000_000_000_000
    new_record_id(now_ns=same_ms)  # the parent now holds a block of random bytes a child would inherit
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_fd)
            ids = [new_record_id(now_ns=same_ms) for _ in range(50)]
            os.write(write_fd, "\n".join(ids).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    parent = {new_record_id(now_ns=same_ms) for _ in range(50)}
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    child = set(b"".join(chunks).decode().split("\n"))
    assert len(child) == 50
    assert not parent & child


def test_api_key_id_is_stable_masked_and_never_the_key() -> None:
    kid = api_key_id(KEY)
    assert kid == api_key_id(KEY)
    assert kid is not None
    assert KEY not in kid
    assert "x" * 10 not in kid
    assert kid.endswith("sk-ant-…AbCd")
    assert kid != api_key_id(KEY[:-1] + "e")
    assert api_key_id(None) is None
    assert api_key_id("") is None


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, TokenCounts()),
        ({}, TokenCounts()),
        ({"input_tokens": 5, "output_tokens": 7}, TokenCounts(5, 7)),
        (USAGE, TokenCounts(1000, 200, 5000, 100, 200)),
        # writes without a split are 5-minute writes
        ({"cache_creation_input_tokens": 40}, TokenCounts(cache_write_5m=40)),
        # a partial split: the remainder is 5-minute
        (
            {"cache_creation_input_tokens": 50, "cache_creation": {"ephemeral_1h_input_tokens": 20}},
            TokenCounts(cache_write_5m=30, cache_write_1h=20),
        ),
        # tolerant: bad values count as 0, never raise
        ({"input_tokens": -3, "output_tokens": "9", "cache_read_input_tokens": True}, TokenCounts()),
        ({"cache_creation": "nonsense", "input_tokens": None}, TokenCounts()),
    ],
)
def test_token_counts_from_usage(usage: dict[str, object] | None, expected: TokenCounts) -> None:
    assert TokenCounts.from_usage(usage) == expected


def test_json_round_trip_keeps_every_field() -> None:
    rec = make_record(
        3,
        api_key_id=api_key_id(KEY),
        error=CallError("RateLimitError", "slow down", 429),
        routing={"policy": "cheap-first", "confidence": 0.9},
        fallback_from="claude-opus-5-5",
        service_tier="standard",
        request_id="req_123",
        ttft_ms=42.5,
        unpriced_reason=None,
        sample="opted-in text",
        extra={"custom": [1, 2]},
    )
    data = rec.to_json()
    assert data["v"] == 1
    assert data["ts"].endswith("Z")
    back = CallRecord.from_json(json.dumps(data))
    assert back == rec
    assert CallRecord.from_json(data) == rec


def test_from_json_accepts_unknown_keys_into_extra() -> None:
    data = make_record().to_json()
    data["v"] = 2
    data["new_field"] = {"a": 1}
    back = CallRecord.from_json(data)
    assert back.extra["new_field"] == {"a": 1}


@pytest.mark.parametrize(
    "change",
    [
        {"total_usd": "12abc"},
        {"total_usd": "NaN"},
        {"ts": "yesterday"},
        {"requested_model": None},
        {"id": None},
    ],
)
def test_from_json_rejects_malformed_records(change: dict[str, object]) -> None:
    data = {**make_record().to_json(), **change}
    with pytest.raises(UsageError, match="malformed ledger record"):
        CallRecord.from_json(data)


def test_from_json_rejects_bad_json_text() -> None:
    with pytest.raises(UsageError):
        CallRecord.from_json("{not json")


def test_timestamps_must_be_aware_and_are_stored_in_utc() -> None:
    with pytest.raises(UsageError, match="timezone-aware"):
        CallRecord.create("m", ts=datetime(2026, 1, 1))
    paris = timezone(timedelta(hours=1))
    rec = CallRecord.create("m", ts=datetime(2026, 1, 1, 1, 30, tzinfo=paris))
    assert rec.ts == datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    assert rec.ts.utcoffset() == timedelta(0)
    assert format_ts(rec.ts) == "2026-01-01T00:30:00.000000Z"


def test_create_takes_cost_from_a_breakdown() -> None:
    catalogue = load_catalogue()
    breakdown, reason = price_call(catalogue, "claude-sonnet-5-5", USAGE, at=date(2026, 11, 20))
    assert reason is None and breakdown is not None
    rec = CallRecord.create("claude-sonnet-5-5", breakdown=breakdown, usage=USAGE)
    assert rec.total == breakdown.total
    assert rec.cost is not None and rec.cost["total_usd"] == rec.total_usd
    assert not rec.unpriced
    assert rec.model == "claude-sonnet-5-5"


@pytest.mark.parametrize(
    ("model", "usage", "fragment"),
    [
        ("claude-nonexistent-9", USAGE, "unknown model"),
        ("claude-sonnet-5-5", None, "no usage"),
        ("claude-sonnet-5-5", {"input_tokens": -1}, "non-negative"),
        ("claude-sonnet-5-5", {"input_tokens": 1, "service_tier": "batch", "speed": "fast"}, "fast mode"),
    ],
)
def test_price_call_never_raises(model: str, usage: dict[str, object] | None, fragment: str) -> None:
    breakdown, reason = price_call(load_catalogue(), model, usage)
    assert breakdown is None
    assert reason is not None and fragment in reason


def test_call_error_masks_keys_and_cuts_long_messages() -> None:
    class Boom(Exception):
        status_code = 401

    err = CallError.from_exception(Boom(f"bad key {KEY} " + "y" * 2000))
    assert err.type == "Boom"
    assert err.status == 401
    assert KEY not in err.message
    assert "sk-ant-…AbCd" in err.message
    assert len(err.message) <= 500


@given(
    cents=st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False, allow_infinity=False),
    task=st.none() | st.text(max_size=20),
)
def test_round_trip_property(cents: Decimal, task: str | None) -> None:
    rec = CallRecord.create("m", total_usd=str(cents), task=task)
    back = CallRecord.from_json(json.dumps(rec.to_json()))
    assert back.total == cents
    assert back.task == task
