"""The request schema: the fast path never accepts what the full validation refuses; messages read like the API's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clawback.emulator import schema
from clawback.emulator.schema import fits_simply, schema_error

from .fuzzing import body_strategy

_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3)
)
_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "robot"]) | _ANY,
        "content": st.text(max_size=5) | _ANY,
    },
    optional={"extra": _ANY},
)
_SIMPLE = st.fixed_dictionaries(
    {"model": st.text(max_size=5) | _ANY, "messages": st.lists(_MESSAGE, max_size=3) | _ANY},
    optional={"max_tokens": _ANY, "system": _ANY, "stream": _ANY, "metadata": _ANY},
)


def _full(body: Any, counting: bool) -> bool:
    try:
        (schema._COUNT if counting else schema._MESSAGES).validate_python(body)
    except ValidationError:
        return False
    return True


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(_SIMPLE, st.booleans())
def test_the_fast_path_accepts_only_what_the_schema_accepts(body: dict[str, Any], counting: bool) -> None:
    if fits_simply(body, counting=counting):
        assert _full(body, counting)
    assert (schema_error(body, counting=counting) is None) == _full(body, counting)


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(body_strategy())
def test_bodies_drawn_from_the_schema_fit_it(body: dict[str, Any]) -> None:
    assert schema_error(body) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}], "x": 1},
            "x: Extra inputs are not permitted",
        ),
        ({"model": "m", "max_tokens": 1.5, "messages": []}, "max_tokens: Input should be a valid integer"),
        (
            {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages.0.content.0: Unable to extract tag using discriminator 'type'",
        ),
        (
            {"model": "m", "max_tokens": 1, "messages": [], "tools": [{"type": "laser"}]},
            "tools.0: Input should be a custom tool (name, input_schema) or a known server tool type",
        ),
        (
            {"model": "m", "max_tokens": 1, "messages": [], "tool_choice": {"type": "tool"}},
            "tool_choice.tool.name: Field required",
        ),
        (
            {
                "model": "m",
                "max_tokens": 1,
                "messages": [],
                "thinking": {"type": "enabled", "budget_tokens": 10},
            },
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            {
                "model": "m",
                "max_tokens": 1,
                "messages": [],
                "cache_control": {"type": "ephemeral", "ttl": "2h"},
            },
            "cache_control.ttl: Input should be '5m' or '1h'",
        ),
    ],
)
def test_messages_name_the_path_like_the_api(body: dict[str, Any], message: str) -> None:
    assert schema_error(body) == message
