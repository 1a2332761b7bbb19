"""Keep-alive's one code path (clawback.cache.keeper): what a ping may do, and what it may cost."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clawback.cache.history import PrefixHistory
from clawback.cache.keepalive import KeepAliveSettings
from clawback.cache.keeper import Keeper
from clawback.cache.policies import PlannerPolicy
from clawback.cache.replay import replay
from clawback.cache.workloads import agent_loop
from tests.cache.support import SONNET_55, Driver, body, shape_of, text, user

SYSTEM = [text(3000, "s")]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), cap=st.sampled_from(["0.002", "0.02", "5"]))
def test_a_ping_only_reads_a_live_entry_and_the_pings_stay_under_the_cap(seed: int, cap: str) -> None:
    calls = agent_loop(seed=seed, sessions=12, hours=1.0)
    policy = PlannerPolicy(SONNET_55, keepalive=KeepAliveSettings(spend_cap=Decimal(cap)))
    pings = [r for r in replay(calls, policy, SONNET_55) if r.ping]
    assert all(r.usage.cache_read_input_tokens > 0 for r in pings)  # it keeps an entry alive...
    assert all(r.usage.cache_creation_input_tokens == 0 for r in pings)  # ...and never writes one
    assert policy.keeper is not None and policy.keeper.pings_sent == len(pings)
    assert policy.ping_spend == sum((r.cost for r in pings), Decimal(0)) <= Decimal(cap)


def test_the_deepest_five_minute_entry_is_watched_renewed_by_use_and_dropped_for_a_deeper_one() -> None:
    d = Driver()
    keeper: Keeper[int] = Keeper(d.history, KeepAliveSettings(spend_cap=Decimal(1)))
    first = body(SYSTEM, [user(text(600, "q"))])
    d.call(first, 0.0)
    d.call(first, 30.0)  # the same request again: its system prompt and question are read
    marks = d.plans[-1].marks
    keeper.observed(shape_of(first).with_breakpoints(marks), marks, 30.0, info=SONNET_55,
                    workspace="default", payload=lambda position: position)  # fmt: skip
    assert [(w.position, w.last_use) for w in keeper.watches()] == [(max(marks), 30.0)]
    due = keeper.next_due()
    assert due is not None and 30.0 < due < 30.0 + 300.0
    longer = body(
        SYSTEM, [user(text(600, "q")), {"role": "assistant", "content": "a" * 400}, user("b" * 400)]
    )
    d.call(longer, 60.0)
    marks = d.plans[-1].marks
    keeper.observed(shape_of(longer).with_breakpoints(marks), marks, 60.0, info=SONNET_55,
                    workspace="default", payload=lambda position: position)  # fmt: skip
    assert [w.position for w in keeper.watches()] == [max(marks)]  # the conversation moved on


def test_a_failed_ping_costs_nothing_and_ends_the_watch() -> None:
    history = PrefixHistory(exploration_tokens=10**9)
    d = Driver(history=history)
    request = body(SYSTEM, [user(text(600, "q"))])
    keeper: Keeper[int] = Keeper(history, KeepAliveSettings(spend_cap=Decimal(1)), budget=False)
    for at in (0.0, 30.0, 60.0):
        d.call(request, at)
        marks = d.plans[-1].marks
        keeper.observed(shape_of(request).with_breakpoints(marks), marks, at, info=SONNET_55,
                        workspace="default", payload=lambda position: position)  # fmt: skip
    ping = keeper.next_ping(10_000.0)
    assert ping is not None and keeper.spent == ping.decision.ping_cost
    keeper.failed(ping)
    assert keeper.spent == 0 and keeper.pings_sent == 0
    assert ping.watch.key not in {w.key for w in keeper.watches()}


def test_what_the_keeper_holds_stays_bounded_when_no_one_asks_for_pings() -> None:
    """With an injected clock nobody may call for pings: watches are capped, and the queue keeps
    little beyond one entry per watch however many conversations come and go."""
    d = Driver()
    keeper: Keeper[int] = Keeper(d.history, KeepAliveSettings(spend_cap=Decimal(1)), max_watches=50)
    for convo in range(400):
        messages = [user(text(700, f"c{convo}"))]
        for turn in range(4):
            request = body(SYSTEM, messages)
            at = 600.0 * convo + 20.0 * turn
            d.call(request, at)
            marks = d.plans[-1].marks
            keeper.observed(shape_of(request).with_breakpoints(marks), marks, at, info=SONNET_55,
                            workspace="default", payload=lambda position: position)  # fmt: skip
            messages = [*messages, {"role": "assistant", "content": "a" * 300}, user(f"u{turn}" * 200)]
    assert 0 < len(keeper) <= 50 and len(keeper) == len(keeper.watches())
    assert len(keeper._due) <= 2 * len(keeper) + 1024
