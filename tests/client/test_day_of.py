from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawback.client import settled
from clawback.client.settled import day_of


@given(st.floats(min_value=-1e10, max_value=1e10, allow_nan=False))
def test_day_of_is_the_utc_date(epoch: float) -> None:
    assert day_of(epoch) == datetime.fromtimestamp(epoch, UTC).date()
    assert day_of(epoch) == datetime.fromtimestamp(epoch, UTC).date()  # the remembered answer too


def test_day_edges_and_bound() -> None:
    for epoch in (0.0, -0.5, -86_400.0, 86_399.999, 86_400.0, 1_800_000_000.0):
        assert day_of(epoch) == datetime.fromtimestamp(epoch, UTC).date()
    for i in range(500):
        day_of(i * 86_400.0 + 3_600.0)
    assert len(settled._DAYS) <= 64
    for bad in (math.nan, math.inf):
        with pytest.raises((ValueError, OverflowError)):
            day_of(bad)
