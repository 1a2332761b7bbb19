"""Constrained answers: JSON valid against output_config.format's schema, forced tool calls."""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic
import pytest

from clawback.emulator.structured import constrained_reply, schema_instance
from clawback.emulator.testing import EmulatorSession

from .helpers import body


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, ""),
        ({"type": "string", "minLength": 3}, "xxx"),
        ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z"),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "exclusiveMinimum": 5}, 6),
        ({"type": "number", "maximum": -2}, -2),
        ({"type": "boolean"}, False),
        ({"type": ["null", "integer"]}, 0),
        ({"enum": ["refund", "card_lost"]}, "refund"),
        ({"const": 7}, 7),
        ({"type": "string", "default": "n/a"}, "n/a"),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [0, 0]),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, 0),
        (
            {
                "type": "object",
                "properties": {"label": {"$ref": "#/$defs/Label"}, "why": {"type": "string"}},
                "required": ["label"],
                "$defs": {"Label": {"enum": ["a", "b"]}},
            },
            {"label": "a"},
        ),
        (
            {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "boolean"}}},
            {"x": 0, "y": False},
        ),
    ],
)
def test_schema_instances(schema: dict[str, Any], expected: Any) -> None:
    assert schema_instance(schema) == expected


def test_a_recursive_schema_terminates() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
    }
    value = schema_instance(schema)
    depth = 0
    while isinstance(value, dict) and value.get("child") is not None:
        value, depth = value["child"], depth + 1
    assert depth <= 40


def test_free_text_and_auto_tool_choice_are_not_constrained() -> None:
    assert constrained_reply(body()) is None
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    assert constrained_reply(body(tools=tools, tool_choice={"type": "auto"})) is None


class Ticket(pydantic.BaseModel):
    category: Literal["shipping", "billing", "other"]
    priority: int = pydantic.Field(ge=1, le=5)
    tags: list[str]


def test_parse_gets_a_valid_instance_through_the_sdk(emu: EmulatorSession) -> None:
    parsed = emu.client.messages.parse(**body(max_tokens=200), output_format=Ticket)
    assert parsed.stop_reason == "end_turn"
    assert parsed.parsed_output == Ticket(category="shipping", priority=1, tags=[])


def test_a_forced_tool_is_called_with_valid_input(emu: EmulatorSession) -> None:
    tools = [
        {
            "name": "search",
            "description": "s",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
        {
            "name": "classify",
            "description": "c",
            "input_schema": {
                "type": "object",
                "properties": {
                    "label": {"enum": ["refund", "card_lost"]},
                    "score": {"type": "number", "minimum": 0.5},
                },
                "required": ["label", "score"],
            },
        },
    ]
    message = emu.client.messages.create(
        **body(max_tokens=200, tools=tools, tool_choice={"type": "tool", "name": "classify"})
    )
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert (
        block.type == "tool_use"
        and block.name == "classify"
        and block.input == {"label": "refund", "score": 0.5}
    )
    first = emu.client.messages.create(**body(max_tokens=200, tools=tools, tool_choice={"type": "any"}))
    assert first.content[0].type == "tool_use" and first.content[0].name == "search"
    assert json.loads(json.dumps(first.content[0].input)) == {"q": ""}


def test_constraints_the_sdk_moved_into_the_description_are_honoured() -> None:
    schema = {"type": "integer", "description": "Priority\n\n{maximum: 5, minimum: 1}"}
    assert schema_instance(schema) == 1
    assert (
        schema_instance({"type": "string", "description": "{format: email, minLength: 3}"})
        == "user@example.com"
    )
    assert schema_instance({"type": "integer", "description": "a {note} in passing", "minimum": 2}) == 2
