"""PrefixHistory: sightings, gaps, class odds, entries, savings, usage inference, seeding and bounds."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from clawback.cache.history import PrefixHistory, SeedRecord
from clawback.cache.odds import evidence_keys
from clawback.cache.prefixes import MAX_DEPTH
from clawback.cache.rules import CacheEngine
from clawback.cache.view import origins_of, tail_offsets
from clawback.pricing import Usage
from clawback.shapes import RequestShape
from tests.cache.support import SONNET_55, body, shape_of, text, user

SYSTEM = [text(2000, "s")]


def test_origins_name_level_ends_turn_ends_and_the_tail() -> None:
    request = body(
        SYSTEM, [user("first"), {"role": "assistant", "content": "answer"}, user(text(900, "d"), "q")]
    )
    shape = shape_of(request)
    assert tail_offsets(shape) == {4: 0, 3: 1, 2: 2}
    origins = origins_of(shape)
    assert origins[0] == "system" and origins[4] == "tail0" and origins[3] == "tail1"
    assert origins[2] == "tail2"  # the previous turn's end is also a tail here
    assert origins_of(shape_of(body(SYSTEM, [user("q")])))[0] == "system"  # a level end stays one


def test_gaps_and_odds_are_learned_from_sightings_without_any_cache() -> None:
    h = PrefixHistory()
    tail = shape_of(body(SYSTEM, [user("q0")]))
    before = h.odds("default", SONNET_55.id).predict(_tail_keys(h, tail, 0.0), 0.0)[0]
    for i in range(4):
        h.observe(
            shape_of(body(SYSTEM, [user(f"q{i}")])), Usage(input_tokens=2100), 100.0 * i, info=SONNET_55
        )
    rec = h.records("default", SONNET_55.id)[tail.blocks[0].prefix_hash]
    assert rec.sightings == 4 and rec.gaps == 3 and rec.within_5m == 3 and rec.recent_gaps == [100.0] * 3
    assert rec.children == 4 and rec.child_changes == 3 and rec.slot_volatile()
    # after five minutes the first questions (tails) were never seen again: the odds learn it
    h.observe(shape_of(body(SYSTEM, [user("q9")])), Usage(input_tokens=2100), 700.0, info=SONNET_55)
    after = h.odds("default", SONNET_55.id).predict(_tail_keys(h, tail, 700.0), 700.0)[0]
    assert rec.root == shape_of(body(SYSTEM, [user("x")])).level_hash("system")
    assert after < before


def _tail_keys(h: PrefixHistory, shape: RequestShape, at: float) -> tuple[tuple[object, ...], ...]:
    view = h.view(shape, at)
    last = len(shape.blocks) - 1
    return evidence_keys(view.evidence, view.origins[last], 1, view.evidence.parent_gap)


def test_entries_follow_the_engine_and_savings_are_booked_exactly() -> None:
    h = PrefixHistory()
    engine = CacheEngine()
    shape = shape_of(body([text(2000, "s", ttl="5m")], [user("q")]))
    for t in (0.0, 60.0):
        out = engine.process(shape, workspace="default", min_tokens=512, start=t)
        h.observe(shape, out, t, info=SONNET_55)
    rec = h.records("default", SONNET_55.id)[shape.blocks[0].prefix_hash]
    assert rec.writes == 1 and rec.reads == 1 and rec.expires_at == 360.0 and rec.live_at(359.0)
    prefix = shape.prefix_tokens(0)
    # write premium 0.50/MTok once, read saving 1.90/MTok once
    assert (
        h.saved("default", SONNET_55.id) == Decimal(prefix) * (Decimal("1.90") - Decimal("0.50")) / 1_000_000
    )


def test_usage_from_the_api_is_matched_to_positions_by_token_count() -> None:
    h = PrefixHistory()
    shape = shape_of(body([text(2000, "s", ttl="5m")], [user("q")]))
    prefix = shape.prefix_tokens(0)
    h.observe(shape, Usage(cache_write_5m_input_tokens=prefix + 20, input_tokens=10), 0.0, info=SONNET_55)
    h.observe(shape, Usage(cache_read_input_tokens=prefix - 15, input_tokens=10), 30.0, info=SONNET_55)
    rec = h.records("default", SONNET_55.id)[shape.blocks[0].prefix_hash]
    assert rec.writes == 1 and rec.reads == 1 and rec.live_at(320.0)


def test_seeding_from_ledger_rows_equals_observing() -> None:
    shape = shape_of(body(SYSTEM, [user("q")]))
    usage = {"input_tokens": 2100, "output_tokens": 5}
    rows = [SeedRecord.from_ledger(shape.to_json(), usage, float(t)) for t in (0, 30, 60)]
    h = PrefixHistory()
    assert h.seed(rows, lambda model: SONNET_55) == 3
    assert h.records("default", SONNET_55.id)[shape.blocks[0].prefix_hash].sightings == 3


def test_memory_is_bounded() -> None:
    h = PrefixHistory(max_prefixes=50, max_contexts=2)
    for i in range(200):
        h.observe(
            shape_of(body([text(600, f"s{i}")], [user(f"q{i}")])),
            Usage(input_tokens=1),
            float(i),
            info=SONNET_55,
        )
    assert len(h) <= 50
    for workspace in ("a", "b", "c"):
        h.observe(
            shape_of(body(SYSTEM, [user("q")])),
            Usage(input_tokens=1),
            1.0,
            info=SONNET_55,
            workspace=workspace,
        )
    assert h.records("a", SONNET_55.id) == {} and h.records("c", SONNET_55.id)


def test_pings_refresh_entries_but_are_not_sightings_and_cost_the_savings() -> None:
    h = PrefixHistory()
    engine = CacheEngine()
    shape = shape_of(body([text(2000, "s", ttl="5m")], [user("q")]))
    h.observe(
        shape, engine.process(shape, workspace="default", min_tokens=512, start=0.0), 0.0, info=SONNET_55
    )
    before = h.saved("default", SONNET_55.id)
    ping = engine.process(shape, workspace="default", min_tokens=512, start=290.0)
    h.observe(shape, ping, 290.0, info=SONNET_55, ping=True)
    rec = h.records("default", SONNET_55.id)[shape.blocks[0].prefix_hash]
    assert rec.sightings == 1 and rec.expires_at == 590.0
    assert h.saved("default", SONNET_55.id) < before


@given(st.lists(st.sampled_from([30.0, 200.0, 400.0, 2000.0]), min_size=1, max_size=8))
def test_a_conversation_carries_its_pace_from_turn_to_turn(gaps: list[float]) -> None:
    """Each turn's evidence counts the earlier turns that came within 5 minutes of the one before."""
    h = PrefixHistory()
    messages: list[dict[str, object]] = [user("q0" * 300)]
    at = 0.0
    h.observe(shape_of(body(SYSTEM, messages)), Usage(input_tokens=2700), at, info=SONNET_55)
    for n, gap in enumerate(gaps, start=1):
        at += gap
        messages = [*messages, {"role": "assistant", "content": [text(200, f"a{n}")]}, user(f"q{n}" * 300)]
        shape = shape_of(body(SYSTEM, messages))
        evidence = h.view(shape, at).evidence
        assert evidence.continues and evidence.depth == min(n, MAX_DEPTH)
        assert evidence.quick == min(sum(g < 300 for g in gaps[:n]), evidence.depth)
        h.observe(shape, Usage(input_tokens=shape.total_tokens), at, info=SONNET_55)
