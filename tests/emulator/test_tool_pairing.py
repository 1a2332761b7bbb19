"""``tool_use`` and ``tool_result`` blocks pair up turn by turn, as the API enforces.

Through the official SDK (it sends unpaired conversations as they are): a complete tool loop, parallel
calls, results split over consecutive user messages and server-tool blocks are served; a call left
unanswered, a result for no call, a result given twice and a reused ``tool_use`` id are refused with
the API's messages, on Messages, ``count_tokens`` and batch items alike, and never billed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from clawback.emulator.config import EmulatorConfig, ResponderConfig, ScriptedReply
from clawback.emulator.params import check_tool_pairing
from clawback.emulator.testing import EmulatorSession, emulator_client

from .helpers import HAIKU, OLD_HAIKU, assert_refused_and_not_billed, body, user

TOOLS = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
]


def call(tool_id: str, city: str = "Paris") -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "get_weather", "input": {"city": city}}


def result(tool_id: str, content: Any = "18 °C") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def convo(*messages: dict[str, Any], model: str = HAIKU) -> dict[str, Any]:
    return body(model=model, tools=TOOLS, messages=[user("Weather in Paris?"), *messages])


def test_a_whole_tool_loop_through_the_sdk() -> None:
    script = ScriptedReply(content=[{"type": "text", "text": "Checking."}, call("toolu_scripted_1")])
    config = EmulatorConfig(responder=ResponderConfig(kind="scripted", script=(script,)))
    with emulator_client(config) as emu:
        first = emu.client.messages.create(**convo())
        assert first.stop_reason == "tool_use"
        turn = [block.model_dump(exclude_none=True) for block in first.content]
        tool_id = first.content[1].id
        answer = emu.client.messages.create(**convo(assistant(turn), user([result(tool_id)])))
        assert answer.stop_reason == "end_turn" and answer.content[0].text == "18 °C"


VALID = {
    "parallel calls, results in any order, text after them": convo(
        assistant([{"type": "text", "text": "Two cities."}, call("toolu_a"), call("toolu_b", "Rome")]),
        user([result("toolu_b"), result("toolu_a"), {"type": "text", "text": "And tomorrow?"}]),
    ),
    "results split over consecutive user messages (the API merges them)": convo(
        assistant([call("toolu_a")]),
        assistant([call("toolu_b", "Rome")]),
        user([result("toolu_a")]),
        user([result("toolu_b", [{"type": "text", "text": "21 °C"}])]),
    ),
    "two rounds": convo(
        assistant([call("toolu_a")]),
        user([result("toolu_a")]),
        assistant([call("toolu_b", "Rome")]),
        user([result("toolu_b"), {"type": "text", "text": "thanks"}]),
    ),
    "an error result": convo(
        assistant([call("toolu_a")]),
        user([{**result("toolu_a", "no such city"), "is_error": True}]),
    ),
    "server tools stay within the assistant turn": convo(
        assistant(
            [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "x"},
                },
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "Found it."},
            ]
        ),
        user("Thanks, and in Rome?"),
    ),
}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorSession]:
    with emulator_client() as session:
        yield session


@pytest.mark.parametrize("params", VALID.values(), ids=list(VALID))
def test_paired_conversations_are_served(emu: EmulatorSession, params: dict[str, Any]) -> None:
    assert emu.client.messages.create(**params).stop_reason == "end_turn"
    counted = {k: v for k, v in params.items() if k != "max_tokens"}
    assert emu.client.messages.count_tokens(**counted).input_tokens > 0


INVALID = {
    "a call left unanswered": (
        convo(assistant([call("toolu_a"), call("toolu_b")]), user([result("toolu_a")])),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_b. "
        "Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
    ),
    "a text answer to a call": (
        convo(assistant([call("toolu_a")]), user("it is sunny")),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_a.",
    ),
    "the answer one turn late": (
        convo(
            assistant([call("toolu_a")]),
            user("wait"),
            assistant("ok"),
            user([result("toolu_a")]),
        ),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_a.",
    ),
    "a call ending the conversation (prefill on a model that allows it)": (
        convo(assistant([call("toolu_a")]), model=OLD_HAIKU),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_a.",
    ),
    "a result for no call": (
        body(messages=[user([result("toolu_nowhere")])]),
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_nowhere. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
    ),
    "a result for a call of an earlier turn": (
        convo(
            assistant([call("toolu_a")]),
            user([result("toolu_a")]),
            assistant([call("toolu_b")]),
            user([result("toolu_b"), result("toolu_a")]),
        ),
        "messages.4.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_a.",
    ),
    "a result given twice": (
        convo(assistant([call("toolu_a")]), user([result("toolu_a"), result("toolu_a")])),
        "messages.2.content.1: each tool_use must have a single result. "
        "Found multiple `tool_result` blocks with id: toolu_a",
    ),
    "a tool_use id used twice": (
        convo(
            assistant([call("toolu_a")]),
            user([result("toolu_a")]),
            assistant([call("toolu_a")]),
            user([result("toolu_a")]),
        ),
        "messages.3.content.0: `tool_use` ids must be unique",
    ),
}


@pytest.mark.parametrize(("params", "message"), INVALID.values(), ids=list(INVALID))
def test_unpaired_conversations_are_refused_and_not_billed(
    emu: EmulatorSession, params: dict[str, Any], message: str
) -> None:
    assert_refused_and_not_billed(emu, params, message)


def test_an_unpaired_batch_item_ends_errored() -> None:
    params, message = INVALID["a call left unanswered"]
    with emulator_client() as emu:
        batch = emu.client.messages.batches.create(
            requests=[
                {"custom_id": "bad", "params": params},
                {"custom_id": "good", "params": VALID["two rounds"]},
            ]
        )
        emu.advance(10)
        rows = {row.custom_id: row.result for row in emu.client.messages.batches.results(batch.id)}
    assert rows["good"].type == "succeeded"
    bad = rows["bad"]
    assert bad.type == "errored" and bad.error.error.type == "invalid_request_error"
    assert bad.error.error.message == message


def test_the_check_ignores_string_turns_and_system_messages() -> None:
    check_tool_pairing([user("hi"), assistant("hello"), user("bye")])
    check_tool_pairing(
        [
            user("q"),
            assistant([call("toolu_a")]),
            {"role": "system", "content": "be brief"},
            user([result("toolu_a")]),
        ]
    )
    assert json.dumps(INVALID)  # the cases are plain JSON, as a raw client would send them
