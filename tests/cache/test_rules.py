"""The prompt-cache rules, scenario by scenario, on plain values."""

from __future__ import annotations

from typing import Any

import pytest

from clawback.cache.rules import CacheEngine, breakpoints_of
from clawback.errors import CacheRuleError
from clawback.shapes import RequestShape, request_shape

MODEL = "claude-sonnet-5-5"
MIN = 512


def count(block: Any) -> int:
    """One token per character of text; 50 for anything else."""
    return len(block["text"]) if "text" in block else 50


def text(n: int, tag: str = "a", ttl: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": (tag * n)[:n]}
    if ttl:
        block["cache_control"] = {"type": "ephemeral", **({"ttl": ttl} if ttl == "1h" else {})}
    return block


def shape(
    system: list[dict[str, Any]], messages: list[dict[str, Any]] | None = None, **extra: Any
) -> RequestShape:
    body = {
        "model": MODEL,
        "max_tokens": 10,
        "system": system,
        "messages": messages or [{"role": "user", "content": "question?"}],
        **extra,
    }
    return request_shape(body, count=count)


def run(engine: CacheEngine, s: RequestShape, t: float, workspace: str = "ws", minimum: int = MIN):  # type: ignore[no-untyped-def]
    return engine.process(s, workspace=workspace, min_tokens=minimum, start=t)


def test_first_call_writes_second_reads() -> None:
    engine = CacheEngine()
    s = shape([text(3000, ttl="5m")])
    first = run(engine, s, 0.0)
    prefix = s.prefix_tokens(0)
    assert (first.cache_write_5m_input_tokens, first.cache_read_input_tokens) == (prefix, 0)
    assert first.input_tokens == s.total_tokens - prefix
    second = run(engine, s, 10.0)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, prefix)
    assert second.total_input_tokens == first.total_input_tokens == s.total_tokens


def test_prefix_below_minimum_is_silently_never_cached() -> None:
    engine = CacheEngine()
    s = shape([text(400, ttl="5m")])
    for t in (0.0, 1.0, 2.0):
        out = run(engine, s, t)
        assert out.cache_creation_input_tokens == out.cache_read_input_tokens == 0
        assert out.input_tokens == s.total_tokens
        assert out.below_minimum and "below" in out.notes[0]


def test_five_minute_entry_expires_one_hour_entry_survives() -> None:
    engine = CacheEngine()
    five, hour = shape([text(2000, "f", ttl="5m")]), shape([text(2000, "h", ttl="1h")])
    run(engine, five, 0.0)
    run(engine, hour, 0.0)
    assert run(engine, five, 301.0).cache_read_input_tokens == 0  # expired: written again
    assert run(engine, hour, 301.0).cache_read_input_tokens > 0
    assert run(engine, hour, 301.0 + 3599.0).cache_read_input_tokens > 0  # refreshed at 301
    assert run(engine, hour, 301.0 + 3599.0 + 3601.0).cache_read_input_tokens == 0


def test_read_refreshes_ttl_from_the_request_start() -> None:
    engine = CacheEngine()
    s = shape([text(2000, ttl="5m")])
    run(engine, s, 0.0)
    assert run(engine, s, 299.0).cache_read_input_tokens > 0
    assert run(engine, s, 598.0).cache_read_input_tokens > 0  # refreshed at 299 -> lives to 599
    assert run(engine, s, 899.0).cache_read_input_tokens == 0


def _conversation(turns: int) -> RequestShape:
    """``turns`` user turns with assistant answers between them, ending on the newest user turn."""
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        if i:
            messages.append({"role": "assistant", "content": f"answer {i}"})
        messages.append({"role": "user", "content": [text(40, f"u{i}-")]})
    return shape([text(1000, "s")], messages, cache_control={"type": "ephemeral"})


def test_automatic_caching_moves_forward_through_a_conversation() -> None:
    engine = CacheEngine()
    first = run(engine, _conversation(1), 0.0)
    assert first.cache_read_input_tokens == 0 and first.cache_write_5m_input_tokens > 0
    reads = []
    for turns in range(2, 6):
        s = _conversation(turns)
        out = run(engine, s, float(turns))
        reads.append(out.cache_read_input_tokens)
        assert out.breakpoints[-1].automatic and out.breakpoints[-1].position == len(s.blocks) - 1
        assert out.cache_write_5m_input_tokens > 0  # each turn writes the new tail
    assert reads == sorted(reads) and reads[0] > 0


def test_turn_adding_twenty_blocks_misses_without_an_earlier_breakpoint() -> None:
    engine = CacheEngine()
    first = _conversation(1)
    run(engine, first, 0.0)
    history = [{"role": "user", "content": [text(40, "u0-")]}]
    tool_results = [text(40, f"x{j}-") for j in range(20)]
    grown = shape(
        [text(1000, "s")],
        [*history, {"role": "assistant", "content": "ok"}, {"role": "user", "content": tool_results}],
        cache_control={"type": "ephemeral"},
    )
    assert len(grown.blocks) - len(first.blocks) >= 20
    assert run(engine, grown, 1.0).cache_read_input_tokens == 0
    # the same turn with an explicit breakpoint where the previous turn ended: the lookback finds it
    engine = CacheEngine()
    run(engine, first, 0.0)
    marked = [{"role": "user", "content": [text(40, "u0-", ttl="5m")]}]
    with_bp = shape(
        [text(1000, "s")],
        [*marked, {"role": "assistant", "content": "ok"}, {"role": "user", "content": tool_results}],
        cache_control={"type": "ephemeral"},
    )
    assert run(engine, with_bp, 1.0).cache_read_input_tokens == first.prefix_tokens(len(first.blocks) - 1)


@pytest.mark.parametrize(("added", "hit"), [(19, True), (20, False)])
def test_the_lookback_is_exactly_twenty_blocks_counting_the_breakpoint(added: int, hit: bool) -> None:
    engine = CacheEngine()
    first = _conversation(1)  # system, user block: the automatic breakpoint writes at position 1
    run(engine, first, 0.0)
    new_blocks = [text(40, f"x{j}-") for j in range(added - 1)]
    grown = shape(
        [text(1000, "s")],
        [
            {"role": "user", "content": [text(40, "u0-")]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": new_blocks},
        ],
        cache_control={"type": "ephemeral"},
    )
    assert len(grown.blocks) - len(first.blocks) == added
    out = run(engine, grown, 1.0)
    assert out.cache_read_input_tokens == (first.prefix_tokens(1) if hit else 0)
    assert out.hit_position == (1 if hit else None)


def test_five_breakpoints_are_rejected() -> None:
    s = shape([text(600, str(i), ttl="5m") for i in range(5)])
    with pytest.raises(CacheRuleError, match="maximum of 4"):
        breakpoints_of(s)


def test_automatic_caching_with_four_explicit_breakpoints_is_rejected() -> None:
    s = shape([text(600, str(i), ttl="5m") for i in range(4)], cache_control={"type": "ephemeral"})
    with pytest.raises(CacheRuleError, match="free breakpoint"):
        breakpoints_of(s)


def test_one_hour_after_five_minutes_is_rejected() -> None:
    with pytest.raises(CacheRuleError, match="'1h' cannot come after"):
        breakpoints_of(shape([text(600, "a", ttl="5m"), text(600, "b", ttl="1h")]))


def test_changing_tools_invalidates_everything_after_them() -> None:
    engine = CacheEngine()
    tools = [{"name": "t", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}]
    s = shape([text(2000, ttl="5m")], tools=tools)
    run(engine, s, 0.0)
    assert run(engine, s, 1.0).cache_read_input_tokens == s.prefix_tokens(1)
    changed = shape([text(2000, ttl="5m")], tools=[{**tools[0], "description": "new"}])
    out = run(engine, changed, 2.0)
    assert out.cache_read_input_tokens == 0 and out.cache_creation_input_tokens == changed.prefix_tokens(1)


def test_tool_choice_change_keeps_system_but_drops_messages() -> None:
    engine = CacheEngine()
    messages = [{"role": "user", "content": [text(1000, "m", ttl="5m")]}]
    s = shape([text(1000, ttl="5m")], messages)
    run(engine, s, 0.0)
    changed = shape([text(1000, ttl="5m")], messages, tool_choice={"type": "auto"})
    out = run(engine, changed, 1.0)
    assert out.cache_read_input_tokens == s.prefix_tokens(0)
    assert out.cache_write_5m_input_tokens == s.prefix_tokens(1) - s.prefix_tokens(0)


def test_entry_is_visible_only_once_the_writer_begins_responding() -> None:
    engine = CacheEngine()
    s = shape([text(2000, ttl="5m")])
    first = engine.evaluate(s, workspace="ws", min_tokens=MIN, start=0.0)
    engine.commit(s, first, workspace="ws", start=0.0, visible_at=2.0)
    concurrent = run(engine, s, 1.0)
    assert concurrent.cache_read_input_tokens == 0 and concurrent.cache_creation_input_tokens > 0
    assert run(engine, s, 2.5).cache_read_input_tokens > 0


def test_workspaces_and_models_are_isolated() -> None:
    engine = CacheEngine()
    s = shape([text(2000, ttl="5m")])
    run(engine, s, 0.0, workspace="a")
    assert run(engine, s, 1.0, workspace="b").cache_read_input_tokens == 0
    other = RequestShape(model="claude-opus-5-5", blocks=s.blocks, overhead_tokens=s.overhead_tokens)
    assert run(engine, other, 2.0, workspace="a").cache_read_input_tokens == 0


def test_mixed_ttl_billing_positions() -> None:
    engine = CacheEngine()
    s = shape(
        [text(1000, "a", ttl="1h"), text(1000, "b", ttl="5m")],
        [{"role": "user", "content": [text(1000, "c", ttl="5m")]}],
    )
    first = run(engine, s, 0.0)
    assert first.cache_write_1h_input_tokens == s.prefix_tokens(0)
    assert first.cache_write_5m_input_tokens == s.prefix_tokens(2) - s.prefix_tokens(0)
    # after 10 minutes only the 1-hour entry is alive: read A, write 5m from A to C
    later = run(engine, s, 600.0)
    assert later.cache_read_input_tokens == s.prefix_tokens(0)
    assert later.cache_write_1h_input_tokens == 0
    assert later.cache_write_5m_input_tokens == s.prefix_tokens(2) - s.prefix_tokens(0)
    assert later.input_tokens == s.total_tokens - s.prefix_tokens(2)


def test_purge_drops_expired_entries() -> None:
    engine = CacheEngine()
    run(engine, shape([text(2000, ttl="5m")]), 0.0)
    assert engine.purge(100.0) == 0
    assert engine.purge(301.0) == 1 and not engine.store


def test_the_ttl_counts_from_the_writers_start_not_from_when_it_responded() -> None:
    engine = CacheEngine()
    s = shape([text(2000, ttl="5m")])
    first = engine.evaluate(s, workspace="ws", min_tokens=MIN, start=0.0)
    engine.commit(s, first, workspace="ws", start=0.0, visible_at=100.0)  # a slow first token
    assert run(engine, s, 299.0).cache_read_input_tokens > 0  # refreshes to 599, counted from 299
    assert run(engine, s, 598.5).cache_read_input_tokens > 0
    assert run(engine, s, 898.5 + 0.5).cache_read_input_tokens == 0


def test_mixed_ttls_pay_reads_to_a_one_hour_writes_to_b_and_five_minute_writes_to_c() -> None:
    engine = CacheEngine()
    system = [text(1000, "a", ttl="1h"), text(1000, "b", ttl="1h"), text(1000, "c", ttl="5m")]
    run(engine, shape(system[:1]), 0.0)  # an earlier request cached only the first 1-hour prefix
    s = shape(system, [{"role": "user", "content": [text(1000, "d", ttl="5m")]}])
    out = run(engine, s, 1.0)
    a, b, c = s.prefix_tokens(0), s.prefix_tokens(1), s.prefix_tokens(3)
    assert out.hit_position == 0 and out.cache_read_input_tokens == a
    assert out.cache_write_1h_input_tokens == b - a
    assert out.cache_write_5m_input_tokens == c - b
    assert out.input_tokens == s.total_tokens - c
