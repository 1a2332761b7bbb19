"""Splitting into batches within the request-count and byte limits."""

from __future__ import annotations

import pytest

from clawback.batch.chunking import API_MAX_BATCH_BYTES, ITEM_FRAMING_BYTES, Limits, split_into_chunks
from clawback.errors import UsageError


def test_count_limit() -> None:
    chunks = list(split_into_chunks(((i, 10) for i in range(25)), Limits(max_requests=10)))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [i for c in chunks for i in c] == list(range(25))


def test_byte_limit_counts_framing() -> None:
    size = 2000 - ITEM_FRAMING_BYTES
    limits = Limits(max_bytes=10_016, max_request_bytes=5000)
    chunks = list(split_into_chunks(((i, size) for i in range(12)), limits))
    assert [len(c) for c in chunks] == [5, 5, 2]


def test_nothing_in_nothing_out() -> None:
    assert list(split_into_chunks([], Limits())) == []


def test_an_oversized_item_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="over the request size limit"):
        list(split_into_chunks([(1, 10**9)], Limits()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_requests": 0}, "batch size"),
        ({"max_requests": 100_001}, "batch size"),
        ({"max_bytes": API_MAX_BATCH_BYTES + 1}, "batch bytes"),
        ({"max_bytes": 2000, "max_request_bytes": 5000}, "must fit in one batch"),
    ],
)
def test_limits_are_checked(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Limits(**kwargs)
