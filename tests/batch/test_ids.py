"""custom_ids: the API's rules, the mapping of users' ids, and reading them back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawback.batch.ids import (
    MAX_CUSTOM_ID,
    chunk_prefix,
    custom_id,
    is_valid_custom_id,
    item_key,
    new_tag,
    parse_custom_id,
)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a", True),
        ("A-z_0", True),
        ("x" * 64, True),
        ("", False),
        ("x" * 65, False),
        ("a b", False),
        ("é", False),
        ("a.b", False),
        (17, False),
        (None, False),
    ],
)
def test_api_rules(value: object, valid: bool) -> None:
    assert is_valid_custom_id(value) is valid


def test_valid_user_ids_pass_through_and_others_map_to_the_line() -> None:
    assert item_key("ticket-17", 3) == "-ticket-17"
    assert item_key("has space", 3) == "_3"
    assert item_key("x" * 54, 36) == "_10"
    assert item_key(17, 35) == "_z"
    assert item_key(None, 1) == "_1"


def test_a_user_id_cannot_collide_with_a_mapped_line() -> None:
    assert item_key("_3", 9) != item_key(None, 3)


def test_tags_are_six_base36_characters() -> None:
    tag = new_tag(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    assert len(tag) == 6 and tag.isalnum() and tag == tag.lower()
    with pytest.raises(ValueError, match="entropy"):
        new_tag(b"\x01")


def test_chunk_numbers_are_bounded() -> None:
    assert chunk_prefix("abc123", 36) == "abc1230010"
    with pytest.raises(ValueError, match="out of range"):
        chunk_prefix("abc123", 36**4)
    with pytest.raises(ValueError, match="bad job tag"):
        chunk_prefix("ABC123", 1)


def test_foreign_ids_do_not_parse() -> None:
    for value in ("ticket-17", "abc1230001", "abc123000z-x"[:10] + "+x", "ABC1230001-x"):
        assert parse_custom_id(value) is None


@given(
    user_id=st.one_of(
        st.none(),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.text(min_size=1, max_size=80),
        st.from_regex(r"[a-zA-Z0-9_-]{1,60}", fullmatch=True),
    ),
    line=st.integers(min_value=1, max_value=10**9),
    chunk=st.integers(min_value=0, max_value=36**4 - 1),
)
def test_every_custom_id_is_valid_and_reads_back(user_id: str | int | None, line: int, chunk: int) -> None:
    key = item_key(user_id, line)
    value = custom_id("k3v9qa", chunk, key)
    assert is_valid_custom_id(value) and len(value) <= MAX_CUSTOM_ID
    parsed = parse_custom_id(value)
    assert parsed is not None and (parsed.tag, parsed.chunk, parsed.key) == ("k3v9qa", chunk, key)
