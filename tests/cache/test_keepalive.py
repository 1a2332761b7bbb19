"""Keep-alive break-even arithmetic, checked against figures computed by hand from the price table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clawback.cache.keepalive import (
    KeepAliveSettings,
    break_even_pings,
    decide_keepalive,
    ping_cost,
    pings_to_bridge,
    rewrite_cost,
)
from tests.cache.support import CATALOGUE, OPUS_46, SONNET_55

# Sonnet 5.5 per MTok: input $2, 5m write $2.50, 1h write $4, read $0.10 (from 2026-10-07), output $10.
PREFIX = 10_000


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        (SONNET_55, {}, Decimal("0.001016")),  # 10,000 x 0.10 + 8 x 2, per million
        (SONNET_55, {"max_tokens_zero": False}, Decimal("0.001026")),  # + 1 output token at $10
        (SONNET_55, {"ping_input_tokens": 0}, Decimal("0.001")),
        (SONNET_55, {"at": date(2026, 10, 6)}, Decimal("0.002016")),  # reads were $0.20 then
        (OPUS_46, {}, Decimal("0.00504")),  # 10,000 x 0.50 + 8 x 5
    ],
)
def test_ping_cost(model: object, kwargs: dict[str, object], expected: Decimal) -> None:
    assert ping_cost(PREFIX, model, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "ttl", "expected"),
    [
        (SONNET_55, "5m", Decimal("0.024")),  # 10,000 x (2.50 - 0.10)
        (SONNET_55, "1h", Decimal("0.039")),  # 10,000 x (4 - 0.10)
        (OPUS_46, "5m", Decimal("0.0575")),  # 10,000 x (6.25 - 0.50)
    ],
)
def test_rewrite_cost(model: object, ttl: str, expected: Decimal) -> None:
    assert rewrite_cost(PREFIX, model, ttl=ttl) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        (SONNET_55, {}, 23),  # 0.024 / 0.001016 = 23.6
        (
            SONNET_55,
            {"ping_input_tokens": 0},
            23,
        ),  # (1.25 - 0.05) / 0.05 = 24 exactly: the 24th only breaks even
        (SONNET_55, {"ttl": "1h"}, 38),  # 0.039 / 0.001016 = 38.4
        (SONNET_55, {"at": date(2026, 10, 6)}, 11),  # 0.023 / 0.002016 = 11.4
        (OPUS_46, {}, 11),  # 0.0575 / 0.00504 = 11.4
        (CATALOGUE.resolve("claude-haiku-4-5-20251001"), {}, 11),  # (1.25 - 0.10) / (0.10 + 0.0008) = 11.4
    ],
)
def test_break_even_pings(model: object, kwargs: dict[str, object], expected: int) -> None:
    assert break_even_pings(PREFIX, model, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gap", "expected"), [(0.0, 0), (299.0, 0), (300.0, 1), (589.0, 1), (590.0, 2), (2400.0, 8), (9000.0, 31)]
)
def test_pings_to_bridge_a_gap(gap: float, expected: int) -> None:
    assert pings_to_bridge(gap, ttl="5m", margin=10.0) == expected


SETTINGS = KeepAliveSettings(spend_cap=Decimal("1"))


def decide(gaps: list[float], **kwargs: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {"ttl": "5m", "last_use": 0.0, "now": 290.0, "gaps": gaps, "settings": SETTINGS}
    args.update(kwargs)
    return decide_keepalive(PREFIX, SONNET_55, **args)  # type: ignore[arg-type]


def test_a_use_expected_in_forty_minutes_is_worth_eight_pings() -> None:
    d = decide([2400.0])
    assert d.ping and d.reason == "ping"
    assert d.expected_saving == Decimal("0.024") - 8 * Decimal("0.001016")  # 0.015872
    assert d.next_check == 290.0 + 300.0 - 10.0


def test_a_use_expected_past_break_even_is_left_to_expire() -> None:
    assert decide([9000.0]).reason == "not_worth_it"  # 31 pings > 23


def test_a_mixed_distribution_pings_for_the_likely_short_gap() -> None:
    d = decide([600.0, 9000.0])
    # k = 2 pings: (0.024 - 2 x 0.001016) for the 600 s use, -2 x 0.001016 for the other; halved
    assert d.ping and d.expected_saving == (Decimal("0.024") - 4 * Decimal("0.001016")) / 2


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"gaps": [60.0, 120.0]}, "no_expected_use"),  # traffic stopped: no gap this long seen
        ({"spent": Decimal("0.9995")}, "spend_cap"),
        ({"last_use": -8000.0}, "idle"),
        ({"pings_since_use": 23}, "break_even"),  # the 24th ping would cost more than a rewrite
    ],
)
def test_keepalive_stops(kwargs: dict[str, object], reason: str) -> None:
    args: dict[str, object] = {"gaps": [2400.0]}
    args.update(kwargs)
    gaps = args.pop("gaps")
    d = decide(gaps, **args)  # type: ignore[arg-type]
    assert not d.ping and d.reason == reason and d.next_check is None


def test_a_learned_chance_of_a_use_prices_the_ping() -> None:
    likely = decide([], chance=0.2)  # 0.2 x $0.024 rewrite > $0.001016 ping
    assert likely.ping and likely.expected_saving == Decimal("0.2") * Decimal("0.024") - Decimal("0.001016")
    assert decide([], chance=0.03).reason == "not_worth_it"  # 3% of a rewrite is less than a ping


def test_doubt_counts_a_gap_that_never_ends() -> None:
    # one past gap of 600 s: certain, two pings pay; with one more gap that never ends, the
    # expected saving is halved and the pings sent in vain count against it
    sure = decide([600.0])
    doubtful = decide([600.0], doubt=1.0)
    assert sure.ping and doubtful.ping and doubtful.expected_saving < sure.expected_saving
    assert decide([2400.0], doubt=3.0).reason == "not_worth_it"
