"""Messages, streaming, token counting and models through the official sync SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from clawback.emulator.config import EmulatorConfig, ResponderConfig, ScriptedReply
from clawback.emulator.testing import EmulatorSession, emulator_client

from .helpers import HAIKU, body, shape_of, text, user


def test_create_returns_a_complete_message(emu: EmulatorSession) -> None:
    raw = emu.client.messages.with_raw_response.create(**body(messages=[user("Say hello to the emulator")]))
    message = raw.parse()
    assert message.id.startswith("msg_") and message.type == "message" and message.role == "assistant"
    assert message.model == HAIKU and message.content[0].text == "Say hello to the emulator"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.output_tokens > 0 and message.usage.service_tier == "standard"
    assert raw.headers["request-id"].startswith("req_") and message._request_id == raw.headers["request-id"]
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        for part in ("limit", "remaining", "reset"):
            assert raw.headers[f"anthropic-ratelimit-{kind}-{part}"]


def test_max_tokens_cuts_the_output(emu: EmulatorSession) -> None:
    long = " ".join(["alpha"] * 200)
    message = emu.client.messages.create(**body(max_tokens=10, messages=[user(long)]))
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 10
    assert 0 < len(message.content[0].text) < len(long)


def test_stop_sequences_end_generation(emu: EmulatorSession) -> None:
    message = emu.client.messages.create(
        **body(messages=[user("one two STOP three")], stop_sequences=["STOP", "two"])
    )
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "two"
    assert message.content[0].text == "one "


def _scripted(*replies: ScriptedReply) -> EmulatorConfig:
    return EmulatorConfig(responder=ResponderConfig(kind="scripted", script=replies))


TOOL_REPLY = ScriptedReply(
    content=[
        {"type": "text", "text": "Let me look that up."},
        {"type": "tool_use", "name": "get_weather", "input": {"city": "Paris", "unit": "celsius"}},
    ]
)


def test_scripted_tool_use_sets_the_stop_reason() -> None:
    with emulator_client(_scripted(TOOL_REPLY)) as emu:
        tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
        message = emu.client.messages.create(**body(tools=tools, max_tokens=256))
        assert message.stop_reason == "tool_use"
        tool = message.content[1]
        assert (
            tool.type == "tool_use"
            and tool.name == "get_weather"
            and tool.input == {"city": "Paris", "unit": "celsius"}
        )
        assert tool.id.startswith("toolu_")
        assert (
            emu.client.messages.create(**body()).content[0].text == "What is the answer?"
        )  # script used up: echo


def test_streaming_with_the_stream_helper() -> None:
    with emulator_client(_scripted(TOOL_REPLY)) as emu:
        params = body(system=[text(800, ttl="5m")], messages=[user("stream this please")])
        emu.client.messages.create(**params)  # warm the cache; the script reply is used by this call
        with emu.client.messages.stream(**params) as stream:
            chunks = list(stream.text_stream)
            final = stream.get_final_message()
        assert "".join(chunks) == "stream this please" == final.content[0].text
        assert final.usage.cache_read_input_tokens == shape_of(params).prefix_tokens(0)
        assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_streaming_with_stream_true_follows_the_documented_sequence() -> None:
    with emulator_client(_scripted(TOOL_REPLY)) as emu:
        params = body(
            system=[text(800, ttl="5m")],
            max_tokens=256,
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        )
        events = list(emu.client.messages.create(**params, stream=True))
        kinds = [e.type for e in events]
        assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
        assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
        start, delta = events[0], events[-2]
        assert start.message.usage.cache_creation_input_tokens == shape_of(params).prefix_tokens(1)
        assert start.message.stop_reason is None and start.message.content == []
        assert delta.delta.stop_reason == "tool_use"
        assert delta.usage.cache_creation_input_tokens == start.message.usage.cache_creation_input_tokens
        assert delta.usage.input_tokens == start.message.usage.input_tokens and delta.usage.output_tokens > 1
        partial = "".join(
            e.delta.partial_json for e in events if e.type == "content_block_delta" and e.index == 1
        )
        assert json.loads(partial) == {"city": "Paris", "unit": "celsius"}


def test_raw_sse_has_event_names_and_a_ping(emu: EmulatorSession) -> None:
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    with httpx2.Client(base_url=emu.base_url) as http:
        response = http.post("/v1/messages", json=body(stream=True), headers=headers)
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_count_tokens_agrees_with_usage(emu: EmulatorSession) -> None:
    tools = [{"name": "lookup", "description": "look things up", "input_schema": {"type": "object"}}]
    params: dict[str, Any] = body(
        system="You are terse.", tools=tools, messages=[user("How many tokens is this?")]
    )
    counted = emu.client.messages.count_tokens(**{k: v for k, v in params.items() if k != "max_tokens"})
    usage = emu.client.messages.create(**params).usage
    assert counted.input_tokens == usage.input_tokens == shape_of(params).total_tokens


def test_models_list_and_retrieve(emu: EmulatorSession) -> None:
    first = emu.client.models.list(limit=3)
    assert len(first.data) == 3 and first.has_more
    ids = [m.id for m in emu.client.models.list(limit=5)]  # iterating pages through every model
    assert len(ids) == len(set(ids)) and HAIKU in ids and "claude-3-opus-20240229" in ids
    haiku = emu.client.models.retrieve(HAIKU)
    assert haiku.lifecycle == "active" and haiku.line == "haiku" and haiku.max_tokens == 128000
    assert emu.client.models.retrieve("claude-3-opus-20240229").lifecycle == "retired"
    assert emu.client.models.retrieve("claude-haiku-4-5").id == "claude-haiku-4-5-20251001"
    second = emu.client.models.list(limit=3, after_id=first.last_id)
    back = emu.client.models.list(limit=3, before_id=second.first_id)
    assert [m.id for m in back.data] == [m.id for m in first.data]
