"""Replay under each policy: exact costs, the planner's never-dearer bound, the oracle, the clairvoyant
bound no policy beats, and Mooncake."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawback.cache.history import PrefixHistory
from clawback.cache.keepalive import KeepAliveSettings
from clawback.cache.policies import PlannerPolicy, make_policy
from clawback.cache.replay import ReplayTotals, TimedShape, replay, summarize, trace_calls
from clawback.errors import UsageError
from clawback.pricing import ModelInfo
from clawback.shapes import shape_from_hash_blocks
from tests.cache.support import CATALOGUE, SONNET_46, SONNET_55
from tests.conftest import shared_file

HAIKU_55 = CATALOGUE.resolve("claude-haiku-5-5")


def calls_of(
    rows: Sequence[tuple[float, list[int]]], model: ModelInfo = SONNET_55, block: int = 512
) -> list[TimedShape]:
    return [
        TimedShape(at, shape_from_hash_blocks(model.id, ids, len(ids) * block, block_tokens=block), 10)
        for at, ids in rows
    ]


def run(name: str, calls: list[TimedShape], model: ModelInfo = SONNET_55, **kwargs: object) -> ReplayTotals:
    policy = make_policy(name, model, calls=calls, ttft=float(kwargs.get("ttft", 0.0)))  # type: ignore[arg-type]
    return summarize(replay(calls, policy, model, **kwargs), name)  # type: ignore[arg-type]


def test_no_caching_costs_exactly_the_uncached_price() -> None:
    totals = run("none", calls_of([(0.0, [1, 2, 3]), (1.0, [1, 2, 3])]))
    assert totals.cost == totals.uncached_cost and totals.saving == 0
    assert totals.cache_read_tokens == totals.cache_write_5m_tokens == 0 and totals.hit_rate == 0.0
    # 2 calls x (1,536 input x $2 + 10 output x $10) per MTok
    assert totals.cost == 2 * (Decimal(1536) * 2 + 10 * 10) / 1_000_000


def test_automatic_caching_reads_a_repeated_request_and_pays_for_writes_that_are_never_read() -> None:
    repeated = run("auto", calls_of([(0.0, [1, 2, 3]), (5.0, [1, 2, 3])]))
    assert repeated.cache_read_tokens == 1536 and repeated.saving > 0
    one_offs = run("auto", calls_of([(float(i), [100 + i, 200 + i]) for i in range(5)]))
    assert one_offs.cache_read_tokens == 0 and one_offs.saving < 0


def test_time_to_first_token_hides_entries_from_calls_that_start_before_it() -> None:
    calls = calls_of([(0.0, [1, 2, 3]), (0.5, [1, 2, 3])])
    assert run("auto", calls, ttft=1.0).cache_read_tokens == 0
    assert run("auto", calls, ttft=0.0).cache_read_tokens == 1536


@pytest.mark.parametrize(
    ("rows", "written_5m", "written_1h", "read"),
    [
        ([(0.0, [1, 2]), (10.0, [1, 2])], 1024, 0, 1024),  # reused within 5 minutes: 5m write
        ([(0.0, [1, 2]), (7200.0, [1, 2])], 0, 0, 0),  # reused after 2 hours: never written
        (
            [(0.0, [1, 2]), (600.0, [1, 2]), (1200.0, [1, 2])],
            0,
            1024,
            2048,
        ),  # used twice more within hours: 1h
        ([(0.0, [1, 2, 3]), (10.0, [1, 2, 9])], 1024, 0, 1024),  # only the shared part is written
    ],
)
def test_the_oracle_writes_only_what_will_be_read(
    rows: list[tuple[float, list[int]]], written_5m: int, written_1h: int, read: int
) -> None:
    totals = run("oracle", calls_of(rows))
    assert (totals.cache_write_5m_tokens, totals.cache_write_1h_tokens, totals.cache_read_tokens) == (
        written_5m,
        written_1h,
        read,
    )


def test_policies_by_name() -> None:
    with pytest.raises(UsageError, match="needs the whole sequence"):
        make_policy("oracle", SONNET_55)
    assert make_policy("clairvoyant", SONNET_55).name == "clairvoyant"
    with pytest.raises(UsageError, match="unknown caching policy 'lru'"):
        make_policy("lru", SONNET_55)


def test_trace_rows_become_calls_in_seconds() -> None:
    rows = [{"timestamp": 1500, "input_length": 700, "output_length": 9, "hash_ids": [4, 5]}]
    (call,) = trace_calls(rows, SONNET_55.id)
    assert call.at == 1.5 and call.output_tokens == 9 and [b.tokens for b in call.shape.blocks] == [512, 188]
    assert list(trace_calls(rows * 3, SONNET_55.id, limit=2)).__len__() == 2


def test_totals_serialise() -> None:
    data = run("auto", calls_of([(0.0, [1, 2, 3]), (5.0, [1, 2, 3])])).to_json()
    assert data["policy"] == "auto" and data["calls"] == 2 and data["hit_rate"] == 0.5
    assert Decimal(data["saving_usd"]) == Decimal(data["uncached_cost_usd"]) - Decimal(data["cost_usd"])


@st.composite
def traces(draw: st.DrawFn) -> tuple[list[tuple[float, list[int]]], int]:
    """Conversations over a few shared roots, growing by 1-30 blocks a turn, at gaps from 0 s to 3 h."""
    roots = draw(st.integers(1, 3))
    block = draw(st.sampled_from([256, 512, 4096]))
    rows: list[tuple[float, list[int]]] = []
    t = 0.0
    fresh = 10_000
    live: list[list[int]] = []
    for _ in range(draw(st.integers(1, 40))):
        t += draw(st.sampled_from([0.0, 1.0, 30.0, 200.0, 299.0, 301.0, 900.0, 3000.0, 10_000.0]))
        if live and draw(st.booleans()):
            convo = live[draw(st.integers(0, len(live) - 1))]
        else:
            root = draw(st.integers(0, roots - 1))
            convo = [root * 7 + k for k in range(draw(st.integers(0, 3)))]
            live.append(convo)
        grow = draw(st.integers(1, 30))
        convo.extend(range(fresh, fresh + grow))
        fresh += grow
        rows.append((t, list(convo)))
    return rows, block


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), st.sampled_from([SONNET_55, SONNET_46, HAIKU_55]), st.booleans())
def test_the_planner_never_costs_more_than_no_caching_plus_its_exploration_allowance(
    trace: tuple[list[tuple[float, list[int]]], int], model: ModelInfo, keepalive: bool
) -> None:
    rows, block = trace
    calls = calls_of(rows, model, block)
    history = PrefixHistory(exploration_tokens=20_000)
    ka = KeepAliveSettings(spend_cap=Decimal("0.05")) if keepalive else None
    planner = summarize(replay(calls, PlannerPolicy(model, history=history, keepalive=ka), model))
    none = run("none", calls, model)
    assert planner.cost <= none.cost + history.allowance(model)
    assert planner.uncached_cost == none.cost


def _mooncake(name: str, model: ModelInfo, limit: int) -> list[TimedShape]:
    path = shared_file("data", "mooncake", f"{name}.jsonl")
    with path.open() as handle:
        rows = [json.loads(line) for _, line in zip(range(limit), handle, strict=False)]
    return list(trace_calls(rows, model.id))


@pytest.mark.shared_data
@pytest.mark.parametrize("model", [SONNET_55, SONNET_46], ids=lambda m: m.id)
def test_mooncake_conversation_planner_beats_no_caching_where_automatic_caching_loses(
    model: ModelInfo,
) -> None:
    calls = _mooncake("conversation_trace", model, 2000)
    none, auto, planner = (run(name, calls, model) for name in ("none", "auto", "planner"))
    assert auto.cost > none.cost  # every prompt written at 1.25x, almost none read back
    assert planner.cost < none.cost


@pytest.mark.shared_data
def test_mooncake_synthetic_planner_beats_no_caching_and_trails_the_oracle() -> None:
    calls = _mooncake("synthetic_trace", SONNET_55, 1500)
    none, planner, oracle, bound = (run(name, calls) for name in ("none", "planner", "oracle", "clairvoyant"))
    assert bound.cost < oracle.cost < planner.cost < none.cost


@pytest.mark.shared_data
@pytest.mark.parametrize("model", [SONNET_55, SONNET_46, HAIKU_55], ids=lambda m: m.id)
@pytest.mark.parametrize("trace", ["conversation_trace", "synthetic_trace"])
def test_no_policy_beats_the_clairvoyant_bound_on_mooncake(trace: str, model: ModelInfo) -> None:
    calls = _mooncake(trace, model, 600)
    bound = run("clairvoyant", calls, model)
    for name in ("none", "auto", "planner", "oracle"):
        assert bound.cost <= run(name, calls, model).cost, name


def test_the_clairvoyant_bound_reads_every_prefix_sent_before_and_writes_nothing() -> None:
    # 3 blocks; the second call repeats the first two 2 hours later (past any TTL), the third adds
    # a fresh one; a 300-token prefix (below Sonnet 4.6's 1,024 minimum) is never read
    rows = [(0.0, [1, 2, 3]), (7200.0, [1, 2, 9]), (7300.0, [1, 2, 9, 10]), (7400.0, [4])]
    totals = run("clairvoyant", calls_of(rows, SONNET_46, 512), SONNET_46)
    assert (totals.cache_read_tokens, totals.cache_write_5m_tokens, totals.cache_write_1h_tokens) == (
        1024 + 1536,
        0,
        0,
    )
    short = run("clairvoyant", calls_of([(0.0, [1]), (1.0, [1, 2])], SONNET_46, 300), SONNET_46)
    assert short.cache_read_tokens == 0
    seen_late = run("clairvoyant", calls_of([(0.0, [1, 2]), (0.5, [1, 2])]), ttft=1.0)
    assert seen_late.cache_read_tokens == 0  # not readable before the first call began responding


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), st.sampled_from([SONNET_55, SONNET_46, HAIKU_55]), st.sampled_from([0.0, 2.0]))
def test_no_policy_beats_the_clairvoyant_bound(
    trace: tuple[list[tuple[float, list[int]]], int], model: ModelInfo, ttft: float
) -> None:
    rows, block = trace
    calls = calls_of(rows, model, block)
    bound = run("clairvoyant", calls, model, ttft=ttft)
    assert bound.cost <= bound.uncached_cost
    for name in ("none", "auto", "oracle"):
        policy = make_policy(name, model, calls=calls, ttft=ttft)
        assert bound.cost <= summarize(replay(calls, policy, model, ttft=ttft)).cost, name
    for keepalive in (None, KeepAliveSettings(spend_cap=Decimal("0.05"))):
        planner = PlannerPolicy(model, keepalive=keepalive, ttft=ttft)
        assert bound.cost <= summarize(replay(calls, planner, model, ttft=ttft)).cost  # pings included


def test_the_first_sighting_oracle_writes_only_prefixes_sent_before() -> None:
    # a prefix sent three times: the oracle writes it on its first sighting and reads it twice; the
    # first-sighting oracle may write it only at the second sighting and reads it once
    rows = [(0.0, [1, 2, 3]), (10.0, [1, 2, 8]), (20.0, [1, 2, 9])]
    oracle = run("oracle", calls_of(rows))
    fair = run("first-sighting oracle", calls_of(rows))
    written = [t.cache_write_5m_tokens + t.cache_write_1h_tokens for t in (oracle, fair)]
    assert written == [1024, 1024] and (oracle.cache_read_tokens, fair.cache_read_tokens) == (2048, 1024)
    assert oracle.cost < fair.cost < run("none", calls_of(rows)).cost
    assert make_policy("first-sighting oracle", SONNET_55, calls=[]).name == "first-sighting oracle"
