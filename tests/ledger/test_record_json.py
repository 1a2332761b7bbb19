"""The record's JSON text: one reusable C encoder, the same text as ``json.JSONEncoder`` would give."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawback.ledger import store
from clawback.ledger.store import clean_text, record_json
from tests.ledger.factories import make_record

_REFERENCE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=6))
def test_the_reused_encoder_writes_what_json_would(data: dict[str, Any]) -> None:
    assert store._encode(data) == _REFERENCE.encode(data)


def test_values_json_cannot_write_become_strings_as_before() -> None:
    data = {
        "d": Decimal("1.10"),
        "t": datetime(2026, 1, 1, tzinfo=UTC),
        "nan": float("nan"),
        1: "an int key",
        "tuple": (1, 2),
        "text": "é…\ud800",
    }
    assert store._encode(data) == _REFERENCE.encode(data)


def test_a_cycle_is_still_named_and_the_encoder_is_reusable_after_it() -> None:
    cycle: dict[str, Any] = {"a": 1}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match="Circular reference"):
        store._encode(cycle)
    assert store._encode({"a": [1, "b"]}) == '{"a":[1,"b"]}'


def test_record_json_is_the_records_json() -> None:
    record = make_record(task="naïve…")
    assert json.loads(record_json(record)) == json.loads(json.dumps(record.to_json(), default=str))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain", "plain"), ("a\x00b", "a\ufffdb"), ("café…", "café…"), ("bad\ud800x", "bad?x")],
)
def test_clean_text_keeps_valid_text_and_mends_the_rest(text: str, expected: str) -> None:
    assert clean_text(text) == expected
