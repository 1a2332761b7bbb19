"""The planner's promises on whole workloads, read from the running totals of each replay.

At no call of any benchmark workload is the planner (with or without keep-alive) more than its
exploration allowance behind sending every call so far uncached, and at the end of each it is not
dearer; the generated workloads check this without the shared data. ``clawback audit TRACE --model M
--json`` prices the planner exactly as the benchmark's planner+keepalive row does.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.audit.caching import DEFAULT_KEEPALIVE_CAP
from clawback.audit.sample import generate
from clawback.cache.keepalive import KeepAliveSettings
from clawback.cache.policies import PlannerPolicy, make_policy
from clawback.cache.replay import ReplayTotals, TimedShape, replay, summarize, trace_calls
from clawback.cache.workloads import agent_loop, calls_from_requests, midpoint
from clawback.pricing import ModelInfo
from tests.cache.support import OPUS_46, SONNET_46, SONNET_55
from tests.cli.helpers import clawback
from tests.conftest import shared_file

DAY = date(2026, 11, 25)
MODELS = [SONNET_55, SONNET_46, OPUS_46]


def planner(info: ModelInfo, *, keepalive: bool) -> PlannerPolicy:
    """The benchmark's planner rows: plain, or with keep-alive under the audit's cap."""
    settings = KeepAliveSettings(spend_cap=DEFAULT_KEEPALIVE_CAP) if keepalive else None
    return PlannerPolicy(info, day=DAY, keepalive=settings)


def assert_kept(
    calls: list[TimedShape], info: ModelInfo, *, keepalive: bool, whole: bool = True
) -> ReplayTotals:
    policy = planner(info, keepalive=keepalive)
    totals = summarize(replay(calls, policy, info, day=DAY))
    none = summarize(replay(calls, make_policy("none", info), info, day=DAY))
    assert totals.uncached_cost == none.cost
    assert totals.peak_excess <= policy.history.allowance(info, at=DAY)
    if whole:
        assert totals.cost <= none.cost
    return totals


def mooncake(name: str, model: ModelInfo, limit: int | None = None) -> list[TimedShape]:
    with shared_file("data", "mooncake", f"{name}.jsonl").open() as handle:
        return list(trace_calls((json.loads(line) for line in handle), model.id, limit=limit))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
@pytest.mark.parametrize("keepalive", [False, True], ids=["planner", "planner+keepalive"])
def test_never_dearer_on_the_generated_agent_loop_and_the_demo_sample(
    model: ModelInfo, keepalive: bool
) -> None:
    loop = agent_loop(sessions=50, hours=1.0, model=model.id)
    demo = calls_from_requests(
        ((c.at.timestamp(), c.body, c.output_tokens, c.workspace, c.task) for c in generate(7, scale=0.3)),
        model,
    )
    for calls in (loop, demo):
        assert_kept(calls, model, keepalive=keepalive)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("trace", "model", "keepalive"),
    [
        ("conversation_trace", SONNET_55, True),
        ("synthetic_trace", SONNET_55, False),
        ("synthetic_trace", SONNET_55, True),
        ("synthetic_trace", SONNET_46, True),
        ("synthetic_trace", OPUS_46, True),
    ],
    ids=[
        "conversation",
        "synthetic",
        "synthetic+keepalive",
        "synthetic-4-6+keepalive",
        "synthetic-opus+keepalive",
    ],
)
def test_never_dearer_on_the_mooncake_traces(trace: str, model: ModelInfo, keepalive: bool) -> None:
    """The whole traces (the benchmark checks every model and both planner rows at every run)."""
    calls = mooncake(trace, model)
    totals = assert_kept(calls, model, keepalive=keepalive)
    assert totals.saving > 0


def test_the_second_half_starts_at_the_midpoint_in_time() -> None:
    calls = agent_loop(sessions=8, hours=0.5)
    mid = midpoint(calls)
    assert calls[0].at < mid < calls[-1].at
    assert midpoint([]) == 0.0


def test_the_agent_loop_is_reproducible_and_grows_by_many_blocks_a_turn() -> None:
    a, b = agent_loop(sessions=20, hours=0.5), agent_loop(sessions=20, hours=0.5)
    assert [(c.at, c.shape) for c in a] == [(c.at, c.shape) for c in b]
    assert agent_loop(sessions=20, hours=0.5, seed=1)[0].shape != a[0].shape
    grown = max(len(y.shape.blocks) - len(x.shape.blocks) for x, y in itertools.pairwise(a))
    assert grown >= 20  # some turns add more blocks than the cache looks back over


def _trace_rows(seed: int = 3, n: int = 400) -> list[dict[str, object]]:
    """Conversations over one shared first block, in the Mooncake format (milliseconds, 512-token blocks)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    t, fresh = 0, 1
    live: list[list[int]] = []
    for _ in range(n):
        t += rng.choice([0, 2_000, 30_000, 90_000, 250_000, 420_000])
        if live and rng.random() < 0.5:
            convo = live[rng.randrange(len(live))]
        else:
            convo = [0]
            live.append(convo)
        convo.extend(range(fresh, fresh + rng.randint(1, 25)))
        fresh += 100
        rows.append({"timestamp": t, "input_length": 512 * len(convo) - rng.randint(0, 400),
                     "output_length": rng.randint(5, 300), "hash_ids": list(convo)})  # fmt: skip
    return rows


def _audit_planner_cost(path: Path, model: ModelInfo) -> Decimal:
    result = clawback(
        "audit", str(path), "--model", model.id, "--trace-start", "2026-11-25", "--json", timeout=300
    )
    assert result.code == 0, result.err
    return Decimal(json.loads(result.out)["policies"]["planner"]["cost_usd"])


def _benchmark_planner_cost(rows: list[dict[str, object]], model: ModelInfo) -> Decimal:
    calls = list(trace_calls(rows, model.id))
    return summarize(replay(calls, planner(model, keepalive=True), model, day=DAY)).cost


def test_the_audit_prices_the_planner_as_the_benchmark_does(tmp_path: Path) -> None:
    rows = _trace_rows()
    path = tmp_path / "trace.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _audit_planner_cost(path, SONNET_46) == _benchmark_planner_cost(rows, SONNET_46)


@pytest.mark.shared_data
def test_the_audit_of_a_mooncake_trace_matches_the_benchmark_row(tmp_path: Path) -> None:
    lines = shared_file("data", "mooncake", "conversation_trace.jsonl").read_text().splitlines()[:1500]
    path = tmp_path / "conversation-head.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rows = [json.loads(line) for line in lines]
    assert _audit_planner_cost(path, SONNET_55) == _benchmark_planner_cost(rows, SONNET_55)
