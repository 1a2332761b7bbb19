"""Responders: echo, templates, scripts, and replay of recorded answers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clawback.emulator.config import EmulatorConfig, ResponderConfig, ScriptedReply
from clawback.emulator.params import MessageRequest, parse_message_request
from clawback.emulator.responders import (
    EchoResponder,
    ScriptedResponder,
    TemplateResponder,
    build_responder,
    load_replay,
    prompt_hash,
    prompt_text,
)
from clawback.emulator.testing import emulator_client
from clawback.emulator.wire import ApiError
from clawback.errors import InputFileError
from clawback.pricing.loader import load_catalogue

from .helpers import body, user


def req(model: str = "claude-haiku-5-5", content: Any = "What is 2+2?") -> MessageRequest:
    return parse_message_request(
        body(model=model, messages=[user(content)]), load_catalogue(), today=date(2026, 11, 25)
    )


def test_prompt_text_is_the_last_user_message() -> None:
    params = {
        "messages": [
            user("first"),
            {"role": "assistant", "content": "answer"},
            user(
                [
                    {"type": "text", "text": "a"},
                    {"type": "tool_result", "tool_use_id": "t", "content": "b"},
                    {"type": "image"},
                ]
            ),
        ]
    }
    assert prompt_text(params) == "a\nb"
    assert prompt_text({"messages": []}) == ""


def test_echo_and_templates() -> None:
    assert EchoResponder().reply(req()).content[0]["text"] == "What is 2+2?"
    templates = TemplateResponder({"claude-haiku-5-5": "[{model}] {prompt}", "*": "default: {prompt}"})
    assert templates.reply(req()).content[0]["text"] == "[claude-haiku-5-5] What is 2+2?"
    assert templates.reply(req("claude-sonnet-5-5")).content[0]["text"] == "default: What is 2+2?"
    by_alias = TemplateResponder({"claude-haiku-4-5": "alias {model}", "*": "star"})
    assert (
        by_alias.reply(req("claude-haiku-4-5-20251001")).content[0]["text"]
        == "alias claude-haiku-4-5-20251001"
    )
    both = TemplateResponder({"claude-haiku-4-5-20251001": "id", "claude-haiku-4-5": "alias"})
    assert both.reply(req("claude-haiku-4-5")).content[0]["text"] == "id"  # the snapshot id wins


def test_scripted_replies_in_order_with_model_filters_then_fallback() -> None:
    scripted = ScriptedResponder(
        [
            ScriptedReply(content="for sonnet", model="claude-sonnet-5-5"),
            ScriptedReply(content="first"),
            ScriptedReply(content="second"),
        ]
    )
    assert scripted.reply(req()).content[0]["text"] == "first"
    assert scripted.reply(req("claude-sonnet-5-5")).content[0]["text"] == "for sonnet"
    assert scripted.reply(req()).content[0]["text"] == "second"
    assert scripted.reply(req()).content[0]["text"] == "What is 2+2?"  # echo fallback
    scripted.push(ScriptedReply(content="pushed"))
    assert scripted.pending == 1 and scripted.reply(req()).content[0]["text"] == "pushed"


def _write(tmp_path: Path, lines: list[Any]) -> Path:
    path = tmp_path / "replay.jsonl"
    path.write_text(
        "\n".join(json.dumps(line) if not isinstance(line, str) else line for line in lines) + "\n"
    )
    return path


def test_replay_matches_model_and_prompt_hash(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {
                "model": "claude-haiku-5-5",
                "prompt": "What is 2+2?",
                "response": "4",
                "usage": {"output_tokens": 3},
            },
            {
                "model": "claude-sonnet-5-5",
                "prompt_hash": prompt_hash("What is 2+2?"),
                "response": [{"type": "text", "text": "Four."}],
            },
            {"prompt": "Any model?", "response": "yes", "stop_reason": "refusal"},
            {"model": "claude-haiku-5-5", "prompt": "What is 2+2?", "response": "ignored duplicate"},
        ],
    )
    replay = load_replay(path)
    haiku = replay.reply(req())
    assert haiku.content[0]["text"] == "4" and haiku.output_tokens == 3
    assert replay.reply(req("claude-sonnet-5-5")).content[0]["text"] == "Four."
    wildcard = replay.reply(req(content="Any model?"))
    assert wildcard.content[0]["text"] == "yes" and wildcard.stop_reason == "refusal"
    with pytest.raises(ApiError) as info:
        replay.reply(req("claude-opus-5-5"))
    assert info.value.status == 404 and "no recorded response" in info.value.message
    assert (
        load_replay(path, on_missing="echo").reply(req("claude-opus-5-5")).content[0]["text"]
        == "What is 2+2?"
    )


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "line 1 is not valid JSON"),
        ({"response": "x"}, "prompt"),
        ({"prompt": "p", "response": 5}, "response"),
        ("[1]", "object"),
    ],
)
def test_bad_replay_lines_are_one_line_errors(tmp_path: Path, line: Any, fragment: str) -> None:
    with pytest.raises(InputFileError) as info:
        load_replay(_write(tmp_path, [line]))
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_missing_replay_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read replay file"):
        build_responder(ResponderConfig(kind="replay", replay_file=tmp_path / "missing.jsonl"))
    with pytest.raises(InputFileError, match="replay_file"):
        build_responder(ResponderConfig(kind="replay"))


def test_replay_through_the_sdk(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {
                "model": "claude-haiku-5-5",
                "prompt": "recorded?",
                "response": "Recorded answer.",
                "usage": {"output_tokens": 12},
            }
        ],
    )
    config = EmulatorConfig(responder=ResponderConfig(kind="replay", replay_file=path))
    with emulator_client(config) as emu:
        message = emu.client.messages.create(**body(messages=[user("recorded?")]))
        assert message.content[0].text == "Recorded answer." and message.usage.output_tokens == 12
        short = emu.client.messages.create(**body(max_tokens=5, messages=[user("recorded?")]))
        assert short.stop_reason == "max_tokens" and short.usage.output_tokens == 5
