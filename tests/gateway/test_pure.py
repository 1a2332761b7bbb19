"""The gateway's pure core on plain values: keys, budgets, rate windows, SSE usage, metrics, wire."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawback.gateway.batches import BatchLines, result_record_id
from clawback.gateway.budgets import (
    Budget,
    BudgetBook,
    Refusal,
    Reservation,
    resets_at,
    window_label,
    worst_case_cost,
)
from clawback.gateway.config import GatewayConfig
from clawback.gateway.core import Gateway, _unit_rates
from clawback.gateway.ids import RecordIds
from clawback.gateway.keys import KeyTable, caller_key, key_digest, key_identity
from clawback.gateway.metrics import BudgetGauge, Histogram, Metrics
from clawback.gateway.ratelimit import RateLimit, RateWindows, retry_after
from clawback.gateway.sse_usage import SseUsage, read_message
from clawback.gateway.wire import error_body, forward_headers, response_headers
from clawback.pricing.loader import load_catalogue

CATALOGUE = load_catalogue()
NOW = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)


# -- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-api-key", b"sk-ant-api03-secret-abcd")], ("x-api-key", "sk-ant-api03-secret-abcd")),
        ([(b"authorization", b"Bearer tok-123")], ("authorization", "tok-123")),
        ([(b"authorization", b"bearer  tok-123 ")], ("authorization", "tok-123")),
        ([(b"authorization", b"Basic abc")], None),
        ([(b"x-api-key", b"  ")], None),
        ([(b"authorization", b"Bearer b"), (b"x-api-key", b"k")], ("x-api-key", "k")),
        ([], None),
    ],
)
def test_caller_key(headers: list[tuple[bytes, bytes]], expected: tuple[str, str] | None) -> None:
    key = caller_key(headers)
    assert (None if key is None else (key.header, key.value)) == expected
    if key is not None and len(key.value) > 8:
        assert key.value not in repr(key)


def test_key_identity_is_salted_stable_and_shows_only_the_last_four() -> None:
    key = "sk-ant-api03-abcdefghijklmnop-WXYZ"
    ident = key_identity(key, "salt-1")
    assert re.fullmatch(r"gw:[0-9a-f]{16}:sk-ant-…WXYZ", ident)
    assert ident == key_identity(key, "salt-1") != key_identity(key, "salt-2")
    assert "abcdefgh" not in ident
    table = KeyTable({key_digest(key): "alpha"})
    assert table.lookup(key) == "alpha" and table.lookup(key + "x") is None


# -- budgets -------------------------------------------------------------------------------------


def test_windows_and_resets() -> None:
    assert window_label("day", NOW) == "2026-12-31" and window_label("month", NOW) == "2026-12"
    assert resets_at("day", NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert resets_at("month", datetime(2026, 2, 10, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_reservation_refuses_what_would_exceed_and_names_budget_and_reset() -> None:
    book = BudgetBook()
    daily = Budget("key:alpha", "day", Decimal("1.00"))
    first = book.reserve([daily], Decimal("0.60"), NOW)
    assert isinstance(first, Reservation)
    refused = book.reserve([daily], Decimal("0.50"), NOW)
    assert isinstance(refused, Refusal)
    text = refused.message()
    assert "daily budget of key 'alpha'" in text and "$1.00" in text and "2027-01-01T00:00:00Z" in text
    book.settle(first, Decimal("0.10"))  # the real cost was lower: the room comes back
    assert book.state(("key:alpha", "day", "2026-12-31")) == (Decimal("0.10"), Decimal(0))
    assert isinstance(book.reserve([daily], Decimal("0.50"), NOW), Reservation)


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(st.tuples(st.integers(1, 500), st.integers(0, 150), st.booleans()), min_size=1, max_size=60),
    limit=st.integers(1, 3000),
)
def test_concurrent_spend_overshoots_by_at_most_one_worst_case(
    ops: list[tuple[int, int, bool]], limit: int
) -> None:
    """Requests start and end in any order; each costs up to 1.5 times its worst case (an estimate
    that missed). Spend never passes the limit plus what admitted requests cost beyond their worst
    cases — so never the limit at all when every worst case held."""
    book = BudgetBook()
    budget = Budget("project:p", "day", Decimal(limit))
    open_: list[tuple[Reservation, Decimal]] = []
    excess = Decimal(0)
    for worst, percent, finish_one in ops:
        got = book.reserve([budget], Decimal(worst), NOW)
        if isinstance(got, Reservation):
            actual = Decimal(worst) * percent / 100
            excess += max(Decimal(0), actual - Decimal(worst))
            open_.append((got, actual))
        if finish_one and open_:
            reservation, actual = open_.pop(0)
            book.settle(reservation, actual)
        spent, reserved = book.state(("project:p", "day", "2026-12-31"))
        assert spent <= Decimal(limit) + excess
    for reservation, actual in open_:
        book.settle(reservation, actual)
    spent, reserved = book.state(("project:p", "day", "2026-12-31"))
    assert reserved == 0
    if excess <= 0:
        assert spent <= limit


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(
        ["claude-haiku-5-5", "claude-opus-5-5", "claude-sonnet-5-5", "claude-3-haiku-20240307"]
    ),
    body_bytes=st.integers(0, 400_000),
    max_tokens=st.integers(0, 64_000),
    caching=st.booleans(),
    geo=st.sampled_from([None, "us", "global"]),
)
def test_cached_unit_rates_equal_the_pricing_engine(
    model: str, body_bytes: int, max_tokens: int, caching: bool, geo: str | None
) -> None:
    info = CATALOGUE.resolve(model)
    day = date(2026, 12, 7)
    flags = {"inference_geo": geo} if geo else {}
    full = worst_case_cost(
        info, body_bytes=body_bytes, max_tokens=max_tokens, day=day, cache_writes=caching, flags=flags
    )
    per_in, per_out, threshold = _unit_rates(info, day, caching, flags)
    if threshold is None or body_bytes + 1000 <= threshold:
        assert per_in * (body_bytes + 1000) + per_out * max_tokens == full


def test_gateway_worst_case_uses_the_dearest_candidate_model() -> None:
    gw = Gateway.__new__(Gateway)
    gw.catalogue, gw.clock, gw._rates = CATALOGUE, lambda: NOW.timestamp(), {}  # type: ignore[attr-defined]
    body = {"max_tokens": 100}
    cheap = gw._worst("claude-haiku-5-5", body, 200, False)
    dear = gw._worst("claude-opus-5-5", body, 200, False)
    assert dear > cheap > 0
    assert gw._worst("claude-haiku-5-5", body, 200, True) > cheap  # a cache write costs more than input
    _ = GatewayConfig


# -- rate limits ---------------------------------------------------------------------------------


def test_rate_windows_count_requests_and_tokens_per_minute() -> None:
    windows = RateWindows()
    limit = RateLimit(requests_per_minute=2, tokens_per_minute=100)
    t = 1_000_020.0
    assert windows.check("key:a", limit, t) is None
    windows.count("key:a", t)
    assert windows.check("key:a", limit, t + 1) is None
    windows.count("key:a", t + 1)
    assert windows.check("key:a", limit, t + 2) == "2 requests per minute"
    assert windows.check("key:a", limit, t + 60) is None  # the next minute
    windows.add_tokens("key:a", 150, t + 61)
    assert windows.check("key:a", RateLimit(tokens_per_minute=100), t + 62) == "100 tokens per minute"
    assert 1 <= retry_after(t + 62) <= 60


# -- SSE and JSON usage --------------------------------------------------------------------------

EVENTS = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude-haiku-5-5",
                "usage": {
                    "input_tokens": 12,
                    "output_tokens": 1,
                    "cache_read_input_tokens": 40,
                    "cache_creation_input_tokens": 0,
                },
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "message_delta é"},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
    ),
    ("message_stop", {"type": "message_stop"}),
]


def _stream(crlf: bool = False) -> bytes:
    text = "".join(
        f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n" for name, data in EVENTS
    )
    return (text.replace("\n", "\r\n") if crlf else text).encode()


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(0, 2000), max_size=12), crlf=st.booleans())
def test_sse_usage_is_the_same_however_the_stream_is_split(cuts: list[int], crlf: bool) -> None:
    data = _stream(crlf)
    points = sorted({min(c, len(data)) for c in cuts})
    tracker = SseUsage()
    last = 0
    for p in [*points, len(data)]:
        tracker.feed(data[last:p])
        last = p
    facts = tracker.facts
    assert facts.usage == {
        "input_tokens": 12,
        "output_tokens": 9,
        "cache_read_input_tokens": 40,
        "cache_creation_input_tokens": 0,
    }
    assert (facts.model, facts.stop_reason, facts.message_id) == ("claude-haiku-5-5", "end_turn", "msg_1")
    assert tracker.completed and tracker.content_seen and facts.error_type is None


def test_sse_usage_of_a_cut_stream_and_an_error_event() -> None:
    data = _stream()
    cut = SseUsage()
    cut.feed(data[: data.index(b"event: content_block_delta")])
    assert cut.facts.usage is not None and cut.facts.usage["input_tokens"] == 12 and not cut.completed
    err = SseUsage()
    err.feed(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n')
    assert (err.facts.error_type, err.facts.error_message) == ("overloaded_error", "busy")
    junk = SseUsage()
    junk.feed(b"\xff\xfe garbage\n\ndata: {not json\n\n")
    assert junk.facts.usage is None


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b'{"usage": 5}', b"\xff", b"null"])
def test_read_message_tolerates_junk(body: bytes) -> None:
    assert read_message(body).usage is None


# -- wire, metrics, batches, ids -----------------------------------------------------------------


def test_forward_headers_drop_hop_by_hop_and_swap_credentials() -> None:
    raw = [
        (b"host", b"gw"),
        (b"x-api-key", b"caller"),
        (b"authorization", b"Bearer c"),
        (b"anthropic-beta", b"a"),
        (b"anthropic-beta", b"b"),
        (b"content-length", b"9"),
        (b"connection", b"keep-alive"),
        (b"clawback-task", b"t"),
    ]
    passed = forward_headers(raw, auth=None)
    assert passed == {
        "x-api-key": "caller",
        "authorization": "Bearer c",
        "anthropic-beta": "a, b",
        "accept-encoding": "identity",
    }
    managed = forward_headers(raw, auth=("x-api-key", "upstream"))
    assert managed["x-api-key"] == "upstream" and "authorization" not in managed
    kept = response_headers([(b"Content-Length", b"1"), (b"Request-Id", b"r"), (b"Date", b"x")])
    assert kept == [(b"request-id", b"r")]


def test_error_body_is_the_apis_shape() -> None:
    body = json.loads(error_body(429, "slow down", "req_01x"))
    assert body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
        "request_id": "req_01x",
    }


def test_metrics_render_prometheus_text() -> None:
    m = Metrics()
    m.request("messages", 200)
    m.error("upstream_529")
    m.usage({"input": 10, "output": 5, "cache_read": 30, "cache_write": 0}, Decimal("0.25"), Decimal("0.5"))
    m.upstream_latency.observe(0.003)
    text = m.render([BudgetGauge("key:a", "day", Decimal(5), Decimal(1), Decimal("0.5"))])
    assert 'clawback_gateway_requests_total{route="messages",status="200"} 1' in text
    assert 'clawback_gateway_tokens_total{kind="cache_read"} 30' in text
    assert (
        "clawback_gateway_cost_usd_total 0.25" in text and "clawback_gateway_baseline_usd_total 0.5" in text
    )
    assert "clawback_gateway_cache_hit_ratio 0.75" in text
    assert 'clawback_gateway_upstream_latency_seconds_bucket{le="0.005"} 1' in text
    assert 'clawback_gateway_budget_spent_usd{scope="key:a",period="day"} 1' in text
    for line in text.splitlines():
        assert line.startswith("#") or re.fullmatch(
            r"[a-z_]+(\{[^}]*\})? [0-9.e+-]+|[a-z_]+(\{[^}]*\})? \+?Inf", line
        ), line


def test_histogram_quantile() -> None:
    h = Histogram()
    for v in (0.0002, 0.0002, 0.0002, 0.02):
        h.observe(v)
    assert h.quantile(0.5) == 0.00025 and h.quantile(1.0) == 0.025


def test_batch_lines_split_anywhere_and_keep_succeeded_usage() -> None:
    lines = [
        {
            "custom_id": "a",
            "result": {"type": "succeeded", "message": {"model": "m", "usage": {"input_tokens": 1}}},
        },
        {"custom_id": "b", "result": {"type": "errored", "error": {"type": "api_error"}}},
        "not json",
        {
            "custom_id": "c",
            "result": {"type": "succeeded", "message": {"model": "m", "usage": {"output_tokens": 2}}},
        },
    ]
    data = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()
    for step in (1, 7, len(data)):
        parser = BatchLines()
        for i in range(0, len(data), step):
            parser.feed(data[i : i + step])
        parser.feed(b"", final=True)
        assert [c for c, _, _ in parser.results] == ["a", "c"]
    assert result_record_id("b1", "a") == result_record_id("b1", "a") != result_record_id("b1", "c")


def test_record_ids_are_unique_and_time_ordered() -> None:
    ids = RecordIds()
    made = [ids.next(now_ns=1_700_000_000_000_000_000 + i * 1_000_000) for i in range(500)]
    assert len(set(made)) == 500 and made == sorted(made)
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i) for i in made
    )


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": 12, "output_tokens": 3},
        {
            "input_tokens": 5,
            "output_tokens": 9,
            "cache_creation": {"ephemeral_1h_input_tokens": 700},
            "cache_creation_input_tokens": 700,
            "service_tier": "batch",
        },
        {"input_tokens": 5, "output_tokens": 1, "iterations": [{"input_tokens": 5}]},  # unhashable: no memo
        {"input_tokens": -1},  # unpriceable
    ],
)
def test_remembered_prices_equal_the_pricing_engine(usage: dict[str, object]) -> None:
    from clawback.gateway.config import Policy
    from clawback.gateway.core import Caller
    from clawback.ledger.record import price_call

    gw = Gateway.__new__(Gateway)
    gw.catalogue, gw._priced, gw.ids = CATALOGUE, {}, RecordIds()  # type: ignore[attr-defined]
    caller = Caller("gw:x:y", None, Policy(), None, "w")
    for _ in range(2):  # the second time from the memo
        record = gw.fast_record(
            caller,
            requested_model="claude-haiku-5-5",
            served_model="claude-haiku-5-5",
            started=NOW.timestamp(),
            latency_ms=1.0,
            usage=usage,
        )
        breakdown, reason = price_call(CATALOGUE, "claude-haiku-5-5", usage, at=NOW.date())
        assert record.cost == (None if breakdown is None else breakdown.to_json())
        assert (
            record.total_usd
            == record.baseline_usd
            == (None if breakdown is None else breakdown.to_json()["total_usd"])
        )
        assert (record.unpriced_reason is None) == (reason is None)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=30, allow_nan=False), min_size=1, max_size=120),
)
def test_rate_buckets_never_pass_a_burst_over_the_limit_nor_limit_times_one_plus_s_over_60(
    limit: int, gaps: list[float]
) -> None:
    windows, rate = RateWindows(), RateLimit(requests_per_minute=limit)
    now, admitted = 1_000_000.0, []
    for gap in gaps:
        now += gap
        if windows.check("key:a", rate, now) is None:
            windows.count("key:a", now)
            admitted.append(now)
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            assert j - i + 1 <= limit * (1 + span / 60) + 1e-6


def test_rate_buckets_refuse_the_second_burst_across_a_minute_boundary() -> None:
    windows, rate = RateWindows(), RateLimit(requests_per_minute=10, tokens_per_minute=1000)
    t = 1_000_000 * 60 - 0.1  # just before a UTC minute turns over
    for _ in range(10):
        assert windows.check("key:a", rate, t) is None
        windows.count("key:a", t)
    refused = windows.refusal("key:a", rate, t + 0.2)  # fixed windows let 10 more through here
    assert refused is not None and refused[0] == "10 requests per minute" and 5.5 < refused[1] < 6.0
    assert windows.check("key:a", rate, t + 6) is None  # one request's worth refilled (6 s)
    assert windows.usage("key:a", t) == (10, 0)
    windows.add_tokens("key:a", 1500, t + 6)  # in debt: 1,500 tokens of a 1,000 bucket
    refused = windows.refusal("key:a", rate, t + 7)
    assert refused is not None and refused[0] == "1000 tokens per minute" and 28 < refused[1] < 30
    assert windows.refusal("key:a", rate, t + 36 + 1e-3) is None


def test_metrics_of_several_workers_sum_through_their_snapshots() -> None:
    a, b = Metrics(), Metrics()
    for m, n in ((a, 2), (b, 3)):
        for _ in range(n):
            m.request("messages", 200)
            m.usage({"input": 10, "output": 5}, Decimal("0.01"), Decimal("0.02"))
            m.added_latency.observe(0.0004)
    b.error("upstream_529")
    merged = a.merged([json.loads(json.dumps(b.snapshot())), {"not": "a snapshot"}])
    assert merged.requests[("messages", 200)] == 5 and merged.errors["upstream_529"] == 1
    assert merged.tokens["input"] == 50 and merged.cost_usd == Decimal("0.05")
    assert merged.baseline_usd == Decimal("0.10") and merged.added_latency.n == 5
    assert 'clawback_gateway_requests_total{route="messages",status="200"} 5' in merged.render()
    assert a.requests[("messages", 200)] == 2  # the live counters are left alone
