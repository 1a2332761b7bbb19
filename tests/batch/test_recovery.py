"""Judging the batches listed after a create whose outcome is unknown."""

from __future__ import annotations

from clawback.batch.recovery import ListedBatch, candidates, judge

LISTED = [  # newest first, as the API lists them
    ListedBatch("b4", total=3, ended=False),
    ListedBatch("b3", total=5, ended=False),
    ListedBatch("b2", total=3, ended=True),
    ListedBatch("b1", total=3, ended=False),
]


def test_candidates_match_the_size_skip_claimed_and_excluded_oldest_first() -> None:
    found = candidates(LISTED, size=3, claimed=frozenset({"b1"}), excluded=["b4"])
    assert [b.id for b in found] == ["b2"]
    assert [b.id for b in candidates(LISTED, size=3, claimed=frozenset())] == ["b1", "b2", "b4"]


def test_a_peeked_batch_carrying_our_ids_is_found_and_proved() -> None:
    found = candidates(LISTED, size=3, claimed=frozenset())
    verdict = judge(found, {"b2": True}, intent_at=0, now=1, grace=60)
    assert (verdict.kind, verdict.batch_id, verdict.proved) == ("found", "b2", True)


def test_an_unproved_running_batch_is_adopted_oldest_first() -> None:
    found = candidates(LISTED, size=3, claimed=frozenset())
    verdict = judge(found, {"b2": False}, intent_at=0, now=1, grace=60)
    assert (verdict.kind, verdict.batch_id, verdict.proved) == ("found", "b1", False)


def test_an_ended_batch_not_peeked_means_wait() -> None:
    found = [ListedBatch("b2", 3, True)]
    assert judge(found, {}, intent_at=0, now=1000, grace=60).kind == "wait"


def test_nothing_listed_waits_out_the_grace_then_is_absent() -> None:
    assert judge([], {}, intent_at=100, now=130, grace=60).kind == "wait"
    assert judge([], {}, intent_at=100, now=161, grace=60).kind == "absent"


def test_only_strangers_is_absent_after_grace() -> None:
    found = [ListedBatch("b2", 3, True)]
    assert judge(found, {"b2": False}, intent_at=0, now=100, grace=60).kind == "absent"
