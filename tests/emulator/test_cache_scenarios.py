"""The documented prompt-cache scenarios, driven through the official SDK against the emulator."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from clawback.emulator.config import EmulatorConfig, LatencyConfig
from clawback.emulator.testing import EmulatorSession, emulator_client

from .helpers import HAIKU, OLD_HAIKU, assert_error, body, shape_of, text, user


def create(emu: EmulatorSession, **params: Any) -> Any:
    return emu.client.messages.create(**body(**params))


def test_first_call_writes_and_second_reads(emu: EmulatorSession) -> None:
    params = body(system=[text(800, ttl="5m")])
    s = shape_of(params)
    prefix = s.prefix_tokens(0)
    first = emu.client.messages.create(**params).usage
    assert first.cache_creation_input_tokens == prefix == first.cache_creation.ephemeral_5m_input_tokens
    assert first.cache_read_input_tokens == 0 and first.cache_creation.ephemeral_1h_input_tokens == 0
    assert first.input_tokens == s.total_tokens - prefix
    second = emu.client.messages.create(**params).usage
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, prefix)
    assert second.input_tokens == first.input_tokens
    counted = emu.client.messages.count_tokens(**{k: v for k, v in params.items() if k != "max_tokens"})
    total = second.input_tokens + second.cache_read_input_tokens + second.cache_creation_input_tokens
    assert counted.input_tokens == total == s.total_tokens
    assert first.service_tier == second.service_tier == "standard"


@pytest.mark.parametrize(("model", "words"), [(HAIKU, 150), (OLD_HAIKU, 1500)])
def test_prefix_below_the_model_minimum_never_caches(emu: EmulatorSession, model: str, words: int) -> None:
    params = body(model=model, system=[text(words, ttl="5m")])
    assert shape_of(params).prefix_tokens(0) < (512 if model == HAIKU else 4096)
    for _ in range(3):
        usage = emu.client.messages.create(**params).usage
        assert usage.cache_creation_input_tokens == usage.cache_read_input_tokens == 0
        assert usage.input_tokens == shape_of(params).total_tokens


def test_five_minute_entry_expires_and_one_hour_entry_survives(emu: EmulatorSession) -> None:
    five = body(system=[text(800, "f", ttl="5m")])
    hour = body(system=[text(800, "h", ttl="1h")])
    p5, p1 = shape_of(five).prefix_tokens(0), shape_of(hour).prefix_tokens(0)

    def usage(params: dict[str, Any]) -> tuple[int, int, int]:
        u = emu.client.messages.create(**params).usage
        return (
            u.cache_creation.ephemeral_5m_input_tokens,
            u.cache_creation.ephemeral_1h_input_tokens,
            u.cache_read_input_tokens,
        )

    assert usage(five) == (p5, 0, 0) and usage(hour) == (0, p1, 0)
    emu.advance(299)
    assert usage(five) == (0, 0, p5)  # read at 299 s: lives to 599 s
    emu.advance(301)  # 600 s
    assert usage(five) == (p5, 0, 0)  # expired: written again
    assert usage(hour) == (0, 0, p1)  # read at 600 s: lives to 4,200 s
    emu.advance(3599)  # 4,199 s
    assert usage(hour) == (0, 0, p1)
    emu.advance(3601)
    assert usage(hour) == (0, p1, 0)


def test_a_read_refreshes_the_five_minute_ttl(emu: EmulatorSession) -> None:
    params = body(system=[text(800, ttl="5m")])
    create(emu, **params)
    for _ in range(3):
        emu.advance(299)
        assert emu.client.messages.create(**params).usage.cache_read_input_tokens > 0


def _turn(history_blocks: list[dict[str, Any]], new_blocks: int, *, mark_history: bool) -> dict[str, Any]:
    first = dict(history_blocks[0])
    if mark_history:
        first["cache_control"] = {"type": "ephemeral"}
    new = [text(5, f"x{j}-") for j in range(new_blocks)]
    messages = [user([first]), {"role": "assistant", "content": "ok"}, user(new)]
    return body(system=[text(700, "s")], messages=messages, cache_control={"type": "ephemeral"})


def test_a_turn_adding_twenty_blocks_misses_without_an_earlier_breakpoint(emu: EmulatorSession) -> None:
    history = [text(30, "h")]
    opening = body(system=[text(700, "s")], messages=[user(history)], cache_control={"type": "ephemeral"})
    written = emu.client.messages.create(**opening).usage.cache_creation_input_tokens
    assert written == shape_of(opening).prefix_tokens(len(shape_of(opening).blocks) - 1)
    grown = _turn(history, 20, mark_history=False)
    assert len(shape_of(grown).blocks) - len(shape_of(opening).blocks) >= 20
    assert emu.client.messages.create(**grown).usage.cache_read_input_tokens == 0
    emu.state.reset()
    emu.client.messages.create(**opening)
    marked = _turn(history, 20, mark_history=True)
    assert emu.client.messages.create(**marked).usage.cache_read_input_tokens == written
    emu.state.reset()
    emu.client.messages.create(**opening)
    short = _turn(history, 10, mark_history=False)  # within the lookback: found without help
    assert emu.client.messages.create(**short).usage.cache_read_input_tokens == written


def test_five_breakpoints_get_a_400_and_the_server_keeps_serving(emu: EmulatorSession) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        create(emu, system=[text(200, str(i), ttl="5m") for i in range(5)])
    assert_error(info.value, 400, "invalid_request_error", "maximum of 4")
    with pytest.raises(anthropic.BadRequestError) as info:
        create(
            emu, system=[text(200, str(i), ttl="5m") for i in range(4)], cache_control={"type": "ephemeral"}
        )
    assert_error(info.value, 400, "invalid_request_error", "free breakpoint")
    assert create(emu).stop_reason == "end_turn"


def test_automatic_caching_moves_forward_through_a_conversation(emu: EmulatorSession) -> None:
    messages: list[dict[str, Any]] = []
    reads, writes = [], []
    for turn in range(5):
        messages.append(user(f"question number {turn} " + "detail " * 40))
        params = body(system=[text(600, "s")], messages=list(messages), cache_control={"type": "ephemeral"})
        message = emu.client.messages.create(**params)
        reads.append(message.usage.cache_read_input_tokens)
        writes.append(message.usage.cache_creation_input_tokens)
        s = shape_of(params)
        assert (
            message.usage.cache_read_input_tokens + message.usage.cache_creation_input_tokens
            == s.prefix_tokens(len(s.blocks) - 1)
        )
        assert message.usage.input_tokens == s.total_tokens - s.prefix_tokens(len(s.blocks) - 1)
        messages.append({"role": "assistant", "content": message.content[0].text})
        emu.advance(5)
    assert reads[0] == 0 and all(w > 0 for w in writes)
    assert reads[1:] == sorted(reads[1:]) and reads[1] > 0 and reads[-1] > reads[1]


def test_changing_tools_invalidates_everything_after_them(emu: EmulatorSession) -> None:
    tools = [{"name": "lookup", "description": "find a thing", "input_schema": {"type": "object"}}]
    marked_tools = [{**tools[0], "cache_control": {"type": "ephemeral"}}]
    params = body(tools=marked_tools, system=[text(800, ttl="5m")])
    s = shape_of(params)
    create(emu, **params)
    assert emu.client.messages.create(**params).usage.cache_read_input_tokens == s.prefix_tokens(1)
    changed = body(
        tools=[{**marked_tools[0], "description": "find another thing"}], system=[text(800, ttl="5m")]
    )
    usage = emu.client.messages.create(**changed).usage
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation_input_tokens == shape_of(changed).prefix_tokens(1)


def test_tool_choice_change_keeps_the_system_cache(emu: EmulatorSession) -> None:
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    params = body(tools=tools, system=[text(800, ttl="5m")], messages=[user([text(600, "m", ttl="5m")])])
    create(emu, **params)
    changed = {**params, "tool_choice": {"type": "any"}}
    s = shape_of(changed)
    usage = emu.client.messages.create(**changed).usage
    assert usage.cache_read_input_tokens == s.prefix_tokens(1)  # tools + system survive
    assert usage.cache_creation_input_tokens == s.prefix_tokens(2) - s.prefix_tokens(1)  # messages do not


def test_mixed_ttls_bill_at_the_documented_positions(emu: EmulatorSession) -> None:
    params = body(
        system=[text(700, "a", ttl="1h"), text(700, "b", ttl="5m")],
        messages=[user([text(300, "c", ttl="5m")])],
    )
    s = shape_of(params)
    first = emu.client.messages.create(**params).usage
    assert first.cache_creation.ephemeral_1h_input_tokens == s.prefix_tokens(0)
    assert first.cache_creation.ephemeral_5m_input_tokens == s.prefix_tokens(2) - s.prefix_tokens(0)
    emu.advance(600)
    later = emu.client.messages.create(**params).usage
    assert later.cache_read_input_tokens == s.prefix_tokens(0)
    assert later.cache_creation.ephemeral_5m_input_tokens == s.prefix_tokens(2) - s.prefix_tokens(0)
    with pytest.raises(anthropic.BadRequestError) as info:
        create(emu, system=[text(700, "a", ttl="5m"), text(700, "b", ttl="1h")])
    assert_error(info.value, 400, "invalid_request_error", "'1h' cannot come after")


def test_caches_are_isolated_per_api_key(emu: EmulatorSession) -> None:
    params = body(system=[text(800, ttl="5m")])
    create(emu, **params)
    other = emu.client.with_options(api_key="sk-ant-another-workspace-key")
    assert other.messages.create(**params).usage.cache_read_input_tokens == 0
    assert create(emu, **params).usage.cache_read_input_tokens > 0


def test_model_aliases_share_the_snapshot_cache(emu: EmulatorSession) -> None:
    params = body(model="claude-haiku-4-5", system=[text(2500, ttl="5m")])
    message = emu.client.messages.create(**params)
    assert message.model == OLD_HAIKU and message.usage.cache_creation_input_tokens > 4096
    again = emu.client.messages.create(**{**params, "model": OLD_HAIKU})
    assert again.usage.cache_read_input_tokens > 0


def test_an_entry_is_visible_only_once_its_writer_begins_responding() -> None:
    config = EmulatorConfig(latency=LatencyConfig(enabled=True, ttft_seconds=2.0))
    with emulator_client(config) as emu:
        params = body(system=[text(800, ttl="5m")])
        fanned_out = [emu.client.messages.create(**params).usage for _ in range(3)]  # same virtual instant
        assert all(u.cache_creation_input_tokens > 0 and u.cache_read_input_tokens == 0 for u in fanned_out)
        emu.advance(2.5)
        assert emu.client.messages.create(**params).usage.cache_read_input_tokens > 0


def test_prewarming_with_max_tokens_zero_writes_the_cache(emu: EmulatorSession) -> None:
    params = body(system=[text(800, ttl="5m")], max_tokens=0)
    warm = emu.client.messages.create(**params)
    assert warm.content == [] and warm.stop_reason == "max_tokens" and warm.usage.output_tokens == 0
    assert warm.usage.cache_creation_input_tokens > 0
    assert create(emu, system=[text(800, ttl="5m")]).usage.cache_read_input_tokens > 0
    with pytest.raises(anthropic.BadRequestError) as info:
        emu.client.messages.create(**params, stream=True)
    assert_error(info.value, 400, "invalid_request_error", "pre-warming")


OPUS = "claude-opus-5-5"  # 512-token minimum, default effort "medium", fast mode
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


def _levels() -> dict[str, Any]:
    tool = {"name": "lookup", "description": "find " * 400, "input_schema": {"type": "object"}}
    return body(
        model=OPUS,
        tools=[{**tool, "cache_control": {"type": "ephemeral"}}],
        system=[text(700, "s", ttl="5m")],
        messages=[user([text(600, "m", ttl="5m"), text(5, "q")])],
    )


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        ({"system": [text(700, "S", ttl="5m")]}, "tools"),
        ({"speed": "fast"}, "tools"),
        ({"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}, "system"),
        ({"thinking": {"type": "adaptive"}}, "system"),
        ({"output_config": {"effort": "high"}}, "system"),
        ({"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}, "system"),
        ({"messages": [user([text(600, "m", ttl="5m"), text(5, "q"), IMAGE])]}, "system"),
        ({"output_config": {"effort": "medium"}}, "messages"),  # the model's default: no change
    ],
    ids=["system", "speed", "tool_choice", "thinking", "effort", "format", "image", "default-effort"],
)
def test_each_documented_invalidation(emu: EmulatorSession, change: dict[str, Any], kept: str) -> None:
    params = _levels()
    emu.client.messages.create(**params)
    changed = {**params, **change}
    s = shape_of(changed)
    ends = {"tools": 0, "system": 1, "messages": 2}
    read = s.prefix_tokens(ends[kept])
    usage = emu.client.messages.create(**changed).usage
    assert usage.cache_read_input_tokens == read
    assert usage.cache_creation_input_tokens == s.prefix_tokens(2) - read
    assert usage.input_tokens == s.total_tokens - s.prefix_tokens(2)


def test_bad_cache_control_values_get_a_400(emu: EmulatorSession) -> None:
    for bad in ({"type": "persistent"}, {"type": "ephemeral", "ttl": "30m"}):
        with pytest.raises(anthropic.BadRequestError) as info:
            create(emu, system=[{"type": "text", "text": "x", "cache_control": bad}])
        assert_error(info.value, 400, "invalid_request_error", "system.0.cache_control")
    with pytest.raises(anthropic.BadRequestError) as info:
        create(emu, cache_control={"type": "ephemeral", "ttl": "2h"})
    assert_error(info.value, 400, "invalid_request_error", "cache_control.ttl")
    with pytest.raises(anthropic.BadRequestError) as info:
        create(
            emu,
            system=[text(10, "a")],
            messages=[user([text(10, "b", ttl="5m")])],
            cache_control={"type": "ephemeral", "ttl": "1h"},
        )
    assert_error(info.value, 400, "invalid_request_error", "last block already sets ttl")
    assert create(emu).stop_reason == "end_turn"
