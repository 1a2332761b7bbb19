"""The cache planner, scenario by scenario, on plain values."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from clawback.cache.history import PrefixHistory
from clawback.cache.plan import CachePlan, ordered_marks
from clawback.cache.planner import plan_breakpoints
from clawback.cache.policies import PlannerPolicy, make_policy
from clawback.cache.replay import TimedShape, replay, summarize
from clawback.cache.rules import MAX_BREAKPOINTS, CacheEngine, breakpoints_of
from clawback.shapes import RequestShape
from tests.cache.support import SONNET_46, SONNET_55, Driver, body, shape_of, text, user

SYSTEM = [text(2000, "s")]
DOCS = text(3000, "d")


def codes(plan: CachePlan) -> set[str]:
    return {d.code for d in plan.decisions}


def _stable_system(d: Driver) -> tuple[dict[str, Any], int]:
    for i in range(5):
        d.call(body(SYSTEM, [user(f"question {i}?")]), 10.0 * i)
    return body(SYSTEM, [user("question 5?")]), 0


def _rag(d: Driver) -> tuple[dict[str, Any], int]:
    for i in range(5):
        d.call(body(SYSTEM, [user(DOCS, f"what about {i}?")]), 10.0 * i)
    return body(SYSTEM, [user(DOCS, "what about 5?")]), 1


@pytest.mark.parametrize(
    ("scenario", "forbidden_last"),
    [(_stable_system, True), (_rag, True)],
    ids=["stable-system", "rag-docs-before-question"],
)
def test_breakpoint_lands_on_the_stable_part_never_on_the_changing_question(
    scenario: Callable[[Driver], tuple[dict[str, Any], int]], forbidden_last: bool
) -> None:
    d = Driver()
    request, stable_position = scenario(d)
    plan = d.plan(request, 60.0)
    last = len(shape_of(request).blocks) - 1
    assert stable_position in plan.marks or plan.expected_read == stable_position
    assert last not in plan.marks
    assert "volatile_slot" in codes(plan)
    # and it pays: the system prompt is read from the second call, a recurring document from the third
    assert all(o.cache_read_input_tokens >= shape_of(request).prefix_tokens(0) for o in d.outcomes[1:])
    assert all(
        o.cache_read_input_tokens >= shape_of(request).prefix_tokens(stable_position) for o in d.outcomes[2:]
    )


def test_cold_start_pays_for_the_system_prompt_but_not_for_a_guess_about_the_tail() -> None:
    plan = Driver().plan(body(SYSTEM, [user(DOCS, "q")]), 0.0)
    assert set(plan.marks) == {0} and "unprofitable" in codes(plan)


def _conversation(turns: int, *, extra_last: int = 0) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        if i:
            messages.append({"role": "assistant", "content": [text(200, f"a{i}")]})
        blocks = [text(200, f"u{i}")] + [
            text(30, f"tool{i}-{j}") for j in range(extra_last if i == turns - 1 else 0)
        ]
        messages.append({"role": "user", "content": blocks})
    return body(SYSTEM, messages)


def _warm(d: Driver, conversations: int = 16, turns: int = 3) -> float:
    """Earlier conversations of ``turns`` turns each: the history learns that tails get continued
    (until the last turn)."""
    for c in range(conversations):
        for turn in range(1, turns + 1):
            messages = [user(text(200, f"c{c}"))]
            for i in range(1, turn):
                messages += [
                    {"role": "assistant", "content": [text(200, f"c{c}a{i}")]},
                    user(text(200, f"c{c}u{i}")),
                ]
            d.call(body(SYSTEM, messages), 20.0 * turns * c + 20.0 * turn)
    return 20.0 * turns * conversations + 400.0  # every sighting's 5-minute window has closed


def test_breakpoint_moves_forward_through_a_conversation() -> None:
    d = Driver()
    start = _warm(d, turns=7)  # conversations as long as this one
    d.plans.clear()
    d.outcomes.clear()
    tails = []
    for turn in range(1, 7):
        request = _conversation(turn)
        d.call(request, start + 20.0 * turn)
        tails.append(max(d.plans[-1].marks))
        assert max(d.plans[-1].marks) == len(shape_of(request).blocks) - 1
    assert tails == sorted(tails) and len(set(tails)) == len(tails)
    reads = [o.cache_read_input_tokens for o in d.outcomes]
    assert reads[0] == 0 and all(b > a for a, b in itertools.pairwise(reads[1:]))
    assert all(o.cache_read_input_tokens > 0 for o in d.outcomes[1:])


def test_a_turn_adding_twenty_blocks_gets_an_earlier_breakpoint_and_still_reads() -> None:
    d = Driver()
    start = _warm(d)
    first = _conversation(2)
    d.call(first, start)
    previous_tail = len(shape_of(first).blocks) - 1
    grown = _conversation(3, extra_last=24)
    assert len(shape_of(grown).blocks) - previous_tail > 20
    out = d.call(grown, start + 30.0)
    plan = d.plans[-1]
    assert previous_tail in plan.marks and "anchor" in codes(plan)
    assert out.cache_read_input_tokens == shape_of(first).prefix_tokens(previous_tail)
    assert max(plan.marks) == len(shape_of(grown).blocks) - 1


def test_volatile_text_in_system_is_never_marked_nor_anything_after_it() -> None:
    d = Driver()
    for i in range(3):
        system = [text(2000, "s"), {"type": "text", "text": f"Current time: 2026-11-25T09:41:{i:02d}Z"}]
        d.call(body(system, [user(DOCS, f"q{i}")]), 10.0 * i)
    plan = d.plans[-1]
    assert set(plan.marks) == {0}
    assert "volatile_text" in codes(plan)
    assert all(
        o.cache_read_input_tokens == shape_of(body(SYSTEM, [])).prefix_tokens(0) for o in d.outcomes[1:]
    )


def test_history_overrides_a_volatile_looking_text_that_does_not_change() -> None:
    system = [text(2000, "s"), {"type": "text", "text": "Our fiscal year started 2025-04-01T00:00Z."}]
    d = Driver()
    for i in range(3):
        d.call(body(system, [user(DOCS, f"q{i}")]), 10.0 * i)
    assert "volatile_text" in codes(d.plans[0])
    assert "volatile_text" not in codes(d.plans[-1]) and max(d.plans[-1].marks) > 1


@pytest.mark.parametrize("model", [SONNET_55, SONNET_46], ids=lambda m: m.id)
def test_nothing_below_the_models_minimum_is_marked(model: Any) -> None:
    d = Driver(model=model)
    small = body([text(300, "s")], [user(text(300, "q"))], model=model)
    for i in range(4):
        d.call(small, 5.0 * i)
    shape = shape_of(small)
    for plan in d.plans:
        assert all(shape.prefix_tokens(p) >= model.min_cacheable_tokens for p in plan.marks)
    if model.min_cacheable_tokens > shape.total_tokens:
        assert all(not plan.marks for plan in d.plans)
        assert "below_minimum" in codes(d.plans[0])


@pytest.mark.parametrize("caller_marks", [1, 2, 3, 4])
def test_callers_cache_control_is_kept_and_the_total_never_exceeds_four(caller_marks: int) -> None:
    system = [text(700, str(i), ttl="5m" if i < caller_marks else None) for i in range(4)]
    d = Driver()
    for i in range(3):
        request = body(system, [user(DOCS, f"q{i}")])
        d.call(request, 10.0 * i)
        plan = d.plans[-1]
        assert all(plan.marks[p] == "5m" for p in range(caller_marks))
        assert len(plan.marks) <= MAX_BREAKPOINTS
        breakpoints_of(plan.apply_to(shape_of(request)))  # valid for the API


def test_callers_automatic_caching_uses_a_slot() -> None:
    system = [text(700, str(i), ttl="5m") for i in range(3)]
    request = body(system, [user(DOCS, "q")], cache_control={"type": "ephemeral"})
    plan = Driver().plan(request, 0.0)
    assert plan.auto == "5m" and set(plan.marks) == {0, 1, 2}
    assert len(breakpoints_of(plan.apply_to(shape_of(request)))) == MAX_BREAKPOINTS


@pytest.mark.parametrize(
    ("gap", "expected"),
    [(30.0, "5m"), (600.0, "1h"), (7200.0, None)],
    ids=["every-30s", "every-10min", "every-2h"],
)
def test_ttl_follows_the_gaps_between_uses(gap: float, expected: str | None) -> None:
    d = Driver()
    for i in range(6):
        d.call(body(SYSTEM, [user(f"question number {i}")]), gap * i)
    plan = d.plan(body(SYSTEM, [user("question number 6")]), gap * 6)
    assert plan.marks.get(0) == expected


def test_a_prefix_written_but_never_read_is_paused_then_retried_once() -> None:
    history = PrefixHistory()
    request = body([text(2000, "s", ttl="5m")], [user("q")])
    shape = shape_of(request)
    engine = CacheEngine()
    t = 0.0
    for _ in range(3):  # the caller's mark writes every 2 hours: never read, not even by a 1-hour entry
        out = engine.process(shape, workspace="default", min_tokens=512, start=t)
        history.observe(shape, out, t, info=SONNET_55)
        t += 7200.0
    rec = history.records("default", SONNET_55.id)[shape.blocks[0].prefix_hash]
    assert rec.unread_streak(t) == 3 and rec.write_paused(t)
    bare = shape_of(body([text(2000, "s")], [user("q")]))
    plan = plan_breakpoints(bare, SONNET_55, history, now=t)
    assert 0 not in plan.marks and "unread_writes" in codes(plan)
    for _ in range(8):  # seen 2**3 more times, uncached: then one retry is allowed
        history.observe(
            bare, engine.process(bare, workspace="default", min_tokens=512, start=t), t, info=SONNET_55
        )
        t += 7200.0
    assert not rec.write_paused(t)


def test_five_minute_writes_that_expire_before_a_use_within_the_hour_switch_to_one_hour() -> None:
    history = PrefixHistory()
    shape = shape_of(body([text(2000, "s", ttl="5m")], [user("q")]))
    engine = CacheEngine()
    t = 0.0
    for _ in range(3):  # every 10 minutes: each 5-minute entry has expired when the next call comes
        history.observe(
            shape, engine.process(shape, workspace="default", min_tokens=512, start=t), t, info=SONNET_55
        )
        t += 600.0
    plan = plan_breakpoints(shape_of(body([text(2000, "s")], [user("q")])), SONNET_55, history, now=t)
    assert plan.marks.get(0) == "1h"
    assert "five_minutes_too_short" in codes(plan)


def test_budget_stops_speculative_writes_when_savings_run_out() -> None:
    history = PrefixHistory(exploration_tokens=0)
    request = body(SYSTEM, [user(DOCS, "q")])
    plan = plan_breakpoints(shape_of(request), SONNET_55, history, now=0.0)
    assert not plan.marks and "budget" in codes(plan)
    free = plan_breakpoints(shape_of(request), SONNET_55, history, now=0.0, budget=False)
    assert free.marks and free.worst_extra_usd > 0


def test_worst_case_extra_is_the_write_premium_when_nothing_is_live() -> None:
    request = body(SYSTEM, [user(DOCS, "q")])
    shape = shape_of(request)
    plan = plan_breakpoints(shape, SONNET_55, PrefixHistory(), now=0.0)
    deepest = max(plan.marks)
    premium = Decimal("2.50") - Decimal("2.00")  # Sonnet 5.5, USD per MTok
    assert plan.worst_extra_usd == shape.prefix_tokens(deepest) * premium / 1_000_000


@pytest.mark.parametrize(
    ("marks", "caller", "expected"),
    [
        ({1: "5m", 3: "1h"}, {}, {1: "1h", 3: "1h"}),
        ({1: "5m", 3: "1h"}, {1: "5m"}, {1: "5m", 3: "5m"}),
        ({0: "1h", 2: "5m"}, {}, {0: "1h", 2: "5m"}),
        ({0: "5m", 2: "1h", 5: "5m"}, {2: "1h"}, {0: "1h", 2: "1h", 5: "5m"}),
    ],
)
def test_one_hour_marks_always_precede_five_minute_ones(
    marks: dict[int, Any], caller: dict[int, Any], expected: dict[int, Any]
) -> None:
    assert ordered_marks(marks, caller) == expected


def test_empty_request_and_full_caller_plans() -> None:
    empty = RequestShape(model=SONNET_55.id, blocks=())
    assert plan_breakpoints(empty, SONNET_55, PrefixHistory(), now=0.0).marks == {}
    full = body([text(700, str(i), ttl="5m") for i in range(4)], [user(DOCS, "q")])
    plan = plan_breakpoints(shape_of(full), SONNET_55, PrefixHistory(), now=0.0)
    assert set(plan.marks) == {0, 1, 2, 3} and plan.added == () and "no_slot" in codes(plan)


def test_a_bet_on_a_conversation_going_on_is_paid_from_savings_not_from_the_allowance() -> None:
    """A never-seen tail whose odds say it pays is written only once the history has saved what it
    risks; a system prompt (static by design) may use the exploration allowance from the start."""
    request = _conversation(2)
    shape = shape_of(request)
    tail = len(shape.blocks) - 1
    fresh = plan_breakpoints(shape, SONNET_55, PrefixHistory(), now=0.0, cautious=False)
    assert tail not in fresh.marks and 0 in fresh.marks
    d = Driver()
    start = _warm(d)  # conversations that went on: the history has saved money on them
    assert d.history.saved("default", SONNET_55.id) > 0
    assert tail in plan_breakpoints(shape, SONNET_55, d.history, now=start, cautious=False).marks


def _two_tasks(tasks: bool) -> list[TimedShape]:
    """Two tasks whose calls look alike but fare differently: ``profile`` calls run under a system
    prompt made for one user, who asks twice more within a minute; ``rag`` calls under one made of
    documents retrieved for that call alone. Only the task label tells them apart."""
    calls = []
    for event in range(240):
        at = 60.0 * event
        if event % 2:
            system = [text(1500, f"p{event}")]
            for k in range(3):
                request = body(system, [user(f"q{event}.{k}" * 40)])
                calls.append(TimedShape(at + 20 * k, shape_of(request), task="profile" if tasks else None))
        else:
            request = body([text(1500, f"r{event}")], [user(f"q{event}" * 40)])
            calls.append(TimedShape(at + 30, shape_of(request), task="rag" if tasks else None))
    return sorted(calls, key=lambda c: c.at)


def test_a_task_label_is_evidence_the_odds_learn_from() -> None:
    with_tasks = summarize(replay(_two_tasks(True), PlannerPolicy(SONNET_55), SONNET_55))
    without = summarize(replay(_two_tasks(False), PlannerPolicy(SONNET_55), SONNET_55))
    none = summarize(replay(_two_tasks(False), make_policy("none", SONNET_55), SONNET_55))
    assert with_tasks.cache_read_tokens >= 0.9 * without.cache_read_tokens
    assert with_tasks.cache_write_5m_tokens + with_tasks.cache_write_1h_tokens < 0.85 * (
        without.cache_write_5m_tokens + without.cache_write_1h_tokens
    )
    assert with_tasks.cost < without.cost <= none.cost
