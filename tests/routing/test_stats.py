"""Wilson intervals and the random-routing band."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawback.errors import UsageError
from clawback.routing.stats import proportion, random_routing_band, wilson_interval, z_for


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (5, 10, 0.236593, 0.763407),  # textbook value (Brown, Cai & DasGupta 2001)
        (0, 10, 0.0, 0.277533),
        (10, 10, 0.722467, 1.0),
        (100, 100, 0.963007, 1.0),
        (40, 40, 0.912378, 1.0),
        (270, 300, 0.860834, 0.929052),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-6)
    assert hi == pytest.approx(high, abs=1e-6)


def test_wilson_empty_sample_is_uninformative() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (1, -1)])
def test_wilson_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(UsageError):
        wilson_interval(k, n)


def test_z_for_95_percent() -> None:
    assert z_for(0.95) == pytest.approx(1.959964, abs=1e-6)
    with pytest.raises(UsageError):
        z_for(1.5)


@given(st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_interval_contains_the_estimate_and_stays_in_unit_range(kn: tuple[int, int]) -> None:
    k, n = kn
    p = proportion(k, n)
    assert 0.0 <= p.low <= p.estimate <= p.high <= 1.0


def test_proportion_json() -> None:
    assert proportion(3, 4).to_json()["estimate"] == 0.75


def test_random_band_is_the_straight_line_with_a_spread() -> None:
    cheap = [1.0, 0.0, 1.0, 0.0]
    strong = [1.0, 1.0, 1.0, 1.0]
    expected, low, high = random_routing_band(cheap, strong, 0.5)
    assert expected == pytest.approx(0.75)
    assert low < expected < high
    assert random_routing_band(cheap, strong, 0.0) == (0.5, 0.5, 0.5)
    assert random_routing_band(cheap, strong, 1.0) == (1.0, 1.0, 1.0)


def test_random_band_rejects_bad_input() -> None:
    with pytest.raises(UsageError):
        random_routing_band([1.0], [1.0, 0.0], 0.5)
    with pytest.raises(UsageError):
        random_routing_band([1.0], [1.0], 1.5)
