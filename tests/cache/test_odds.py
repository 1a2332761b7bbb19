"""The planner's odds: learned from sightings only when each window closes, censored-honest hour odds,
the windows after expiry, and the valuation that turns odds into writes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawback.cache.economics import Ratios
from clawback.cache.odds import Evidence, ReuseOdds, evidence_keys, gap_bucket, log_bucket
from clawback.cache.tuning import Tuning
from clawback.cache.valuation import Candidate, write_options

SHORT = Evidence(length=2, new=2, continues=True, parent_gap=2, depth=3, root="")
LONG = Evidence(length=7, new=7, continues=False, parent_gap=8, depth=0, root="")
RATIOS = Ratios(premium_5m=0.25, premium_1h=1.0, read_saving=0.95, read=0.05)


def keys(ev: Evidence = SHORT, kind: str = "tail1") -> tuple[tuple[object, ...], ...]:
    return evidence_keys(ev, kind, 1, ev.parent_gap)


def test_buckets() -> None:
    assert [log_bucket(n) for n in (0, 1, 2, 3, 4, 7, 8, 10**6)] == [0, 1, 1, 2, 2, 3, 3, 8]
    gaps = (None, 0.0, 4.9, 5.0, 299.0, 300.0, 3599.0, 3600.0)
    assert [gap_bucket(g) for g in gaps] == [8, 0, 0, 1, 4, 5, 6, 7]


def test_a_fresh_history_starts_a_guess_low_and_a_system_prompt_at_even_odds() -> None:
    odds = ReuseOdds()
    assert odds.predict(keys(), 0.0)[0] == pytest.approx(Tuning().prior_guess)
    assert odds.predict(keys(kind="system"), 0.0)[0] == pytest.approx(0.5)
    assert odds.predict(keys(), 0.0, prior=0.5)[0] == pytest.approx(0.5)  # what-if advice


def test_odds_learn_which_evidence_comes_back_and_only_once_the_window_closes() -> None:
    odds = ReuseOdds()
    for i in range(200):
        at = 10.0 * i
        odds.seen_again(odds.sighted(keys(SHORT), at), 60.0)  # short follow-ups come back
        odds.sighted(keys(LONG), at)  # long pastes do not
        odds.settle(at)
    short, long_ = odds.predict(keys(SHORT), 2000.0)[0], odds.predict(keys(LONG), 2000.0)[0]
    assert short > 0.8 and long_ < 0.1
    fresh = ReuseOdds()
    fresh.seen_again(fresh.sighted(keys(SHORT), 0.0), 1.0)
    fresh.settle(299.0)  # the 5-minute window is still open: nothing learned yet
    assert fresh.predict(keys(SHORT), 299.0) == ReuseOdds().predict(keys(SHORT), 299.0)
    fresh.settle(300.0)
    assert fresh.predict(keys(SHORT), 300.0)[0] > ReuseOdds().predict(keys(SHORT), 300.0)[0]


def test_the_hour_odds_count_what_open_examples_have_waited_so_far() -> None:
    """Censoring: with no late use seen, the late chance falls while the examples wait, long before
    their hour is up (hits alone, counted as they come, would make it look better than it is)."""
    odds = ReuseOdds()
    head = keys()[0]
    for i in range(100):
        odds.sighted(keys(), float(i))
    odds.settle(400.0)
    early = odds.late(head, 400.0)
    odds.settle(1500.0)
    assert odds.late(head, 1500.0) < early < Tuning().late_prior + 1e-9
    seen = ReuseOdds()
    examples = [seen.sighted(keys(), float(i)) for i in range(100)]
    seen.settle(400.0)
    for example in examples:
        seen.seen_again(example, 600.0)  # every one came back between 5 and 10 minutes
    assert seen.late(head, 1000.0) > 0.9


def test_uses_right_after_expiry_teach_the_first_window() -> None:
    odds = ReuseOdds()
    head, quiet = keys()[0], keys(LONG)[0]
    examples = [odds.sighted(keys(), float(i)) for i in range(50)]
    for i in range(50):
        odds.sighted(keys(LONG), float(i))
    odds.settle(350.0)
    for example in examples[:25]:
        odds.seen_again(example, 400.0)  # half come back just after their 5-minute entry expired
    odds.settle(1000.0)
    assert odds.next_window(head, 0, 1000.0) > 0.4
    assert odds.next_window(quiet, 0, 1000.0) < 0.05  # the kind that never came back
    assert odds.next_window(head, 5, 1000.0) == 0.0  # beyond the windows learned


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=6), st.integers(0, 5))
def test_each_write_is_worth_its_segments_at_the_odds_of_reaching_them(
    odds: list[tuple[float, float]], live: int
) -> None:
    """Writing C writes every candidate before it; a segment is read when C or a deeper prefix is."""
    cands = [Candidate(live + 1 + i, "tail", q5, max(q5, q60), False) for i, (q5, q60) in enumerate(odds)]
    cum = [1000 * (i + 1) for i in range(live + 1 + len(odds))]
    options = write_options(cands, cum, RATIOS, live=live, survivor=live)
    for option in options:
        assert option.value > 0
        expected = 0.0
        for j in range(option.cand + 1):
            reach = max((c.q5 if option.ttl == "5m" else c.q60) for c in cands[j:])
            premium = RATIOS.premium(option.ttl)
            expected += (cum[cands[j].position] - cum[cands[j].position - 1]) * (
                RATIOS.read_saving * reach - premium
            )
        assert option.value == pytest.approx(expected)
    assert [o.value for o in options] == sorted((o.value for o in options), reverse=True)


def test_an_hour_is_credited_with_keeping_the_conversation_so_far_readable() -> None:
    """A long conversation adding a little each turn: a 5-minute write pays for its segment, but an
    hour's pays for everything a pause past 5 minutes would otherwise lose."""
    cand = Candidate(41, "tail", 0.3, 0.45, False)
    cum = [500 * (i + 1) for i in range(42)]
    kept = write_options([cand], cum, RATIOS, live=40, survivor=0)
    shared = write_options([cand], cum, RATIOS, live=40, survivor=40)  # others keep the prefix warm
    assert kept[0].ttl == "1h" and all(o.ttl == "5m" for o in shared)


def test_the_odds_tell_a_brisk_conversation_from_a_slow_one_with_the_same_last_gap() -> None:
    brisk = SHORT._replace(depth=4, quick=4)
    slow = SHORT._replace(depth=4, quick=0)
    odds = ReuseOdds()
    for i in range(300):
        at = 10.0 * i
        odds.seen_again(odds.sighted(keys(brisk), at), 60.0)
        odds.sighted(keys(slow), at)
        odds.settle(at)
    assert odds.predict(keys(brisk), 4000.0)[0] > 0.6 > 0.2 > odds.predict(keys(slow), 4000.0)[0]
