"""The chunk state machine, table-driven: every phase × every event, and what decide() picks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clawback.batch.machine import (
    EVENT_KINDS,
    Backoff,
    CancelPending,
    ChunkView,
    Collect,
    Create,
    Event,
    Finish,
    GiveUp,
    InvalidTransition,
    JobView,
    Phase,
    Plan,
    Poll,
    Recover,
    SendCancel,
    Sleep,
    Warm,
    Withdraw,
    WriteOutput,
    decide,
    transition,
)

P = Backoff(
    first_poll=10, poll_factor=2, max_poll=40, retry_base=1, retry_max=30, recover_grace=60, max_failures=5
)
NOW = 1000.0

# (phase, event) -> expected phase after it; absent pairs must raise InvalidTransition.
TABLE: dict[tuple[Phase, str], Phase] = {
    (Phase.PLANNED, "intend"): Phase.CREATING,
    (Phase.PLANNED, "check_failed"): Phase.PLANNED,
    (Phase.PLANNED, "withdrawn"): Phase.WITHDRAWN,
    (Phase.PLANNED, "warmed"): Phase.PLANNED,
    (Phase.CREATING, "created"): Phase.SUBMITTED,
    (Phase.CREATING, "rejected"): Phase.PLANNED,
    (Phase.CREATING, "unknown"): Phase.CREATING,
    (Phase.CREATING, "found"): Phase.SUBMITTED,
    (Phase.CREATING, "not_created"): Phase.PLANNED,
    (Phase.CREATING, "still_looking"): Phase.CREATING,
    (Phase.SUBMITTED, "polled"): Phase.SUBMITTED,
    (Phase.SUBMITTED, "check_failed"): Phase.SUBMITTED,
    (Phase.SUBMITTED, "cancel_sent"): Phase.SUBMITTED,
    (Phase.ENDED, "check_failed"): Phase.ENDED,
    (Phase.ENDED, "collected"): Phase.COLLECTED,
    (Phase.ENDED, "disowned"): Phase.CREATING,
}


def _chunk(phase: Phase, **kw: object) -> ChunkView:
    batch = "msgbatch_1" if phase in (Phase.SUBMITTED, Phase.ENDED, Phase.COLLECTED) else None
    return replace(ChunkView(seq=1, phase=phase, size=3, batch_id=batch), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_every_phase_and_event(phase: Phase, kind: str) -> None:
    event = Event(kind, batch_id="msgbatch_2")
    expected = TABLE.get((phase, kind))
    if expected is None:
        with pytest.raises(InvalidTransition):
            transition(_chunk(phase), event, NOW, P)
    else:
        assert transition(_chunk(phase), event, NOW, P).phase is expected


def test_unknown_event_is_rejected() -> None:
    with pytest.raises(InvalidTransition, match="unknown event"):
        transition(_chunk(Phase.PLANNED), Event("explode"), NOW, P)


def test_created_needs_a_batch_id() -> None:
    with pytest.raises(InvalidTransition, match="batch id"):
        transition(_chunk(Phase.CREATING), Event("created"), NOW, P)


def test_intent_records_time_and_counts_attempts() -> None:
    after = transition(_chunk(Phase.PLANNED, create_attempts=2), Event("intend"), NOW, P)
    assert after.intent_at == NOW and after.create_attempts == 3


def test_created_schedules_the_first_poll() -> None:
    after = transition(_chunk(Phase.CREATING), Event("created", batch_id="b"), NOW, P)
    assert after.batch_id == "b" and not after.adopted and after.next_check_at == NOW + 10


def test_found_marks_the_batch_adopted_until_proved() -> None:
    assert transition(_chunk(Phase.CREATING), Event("found", batch_id="b"), NOW, P).adopted


def test_poll_backoff_grows_to_the_cap() -> None:
    chunk = transition(_chunk(Phase.CREATING), Event("created", batch_id="b"), NOW, P)
    delays = []
    for _ in range(4):
        chunk = transition(chunk, Event("polled"), NOW, P)
        delays.append(chunk.delay)
    assert delays == [20, 40, 40, 40]
    assert transition(chunk, Event("polled", ended=True), NOW, P).phase is Phase.ENDED


@pytest.mark.parametrize(
    ("failures", "retry_after", "delay"),
    [(0, None, 1), (1, None, 2), (3, None, 8), (10, None, 30), (0, 45.0, 45)],
)
def test_failure_backoff_honours_retry_after(failures: int, retry_after: float | None, delay: float) -> None:
    chunk = _chunk(Phase.SUBMITTED, failures=failures)
    after = transition(chunk, Event("check_failed", retry_after=retry_after), NOW, P)
    assert after.failures == failures + 1 and after.next_check_at == NOW + delay
    assert after.delay == chunk.delay  # the poll interval survives a failure


def test_a_success_resets_failures() -> None:
    chunk = _chunk(Phase.SUBMITTED, failures=3)
    assert transition(chunk, Event("polled"), NOW, P).failures == 0


def test_disowned_remembers_the_stranger_and_looks_again() -> None:
    after = transition(_chunk(Phase.ENDED, adopted=True), Event("disowned"), NOW, P)
    assert after.phase is Phase.CREATING and after.batch_id is None and after.excluded == ("msgbatch_1",)


def _job(*chunks: ChunkView, **kw: object) -> JobView:
    return JobView(chunks=chunks, **kw)  # type: ignore[arg-type]


DECISIONS = [
    ("nothing at all", _job(), Finish()),
    ("finished job", _job(_chunk(Phase.SUBMITTED), finished=True), Finish()),
    ("items waiting", _job(pending_items=5), Plan()),
    ("planned chunk", _job(_chunk(Phase.PLANNED)), Create(1)),
    ("planned chunk, warm-up due", _job(_chunk(Phase.PLANNED, unwarmed=2), warm_cache=True), Warm(1)),
    ("planned chunk, not yet due", _job(_chunk(Phase.PLANNED, next_check_at=NOW + 5)), Sleep(NOW + 5)),
    (
        "uncertain create first",
        _job(_chunk(Phase.SUBMITTED), replace(_chunk(Phase.CREATING), seq=2)),
        Recover(2),
    ),
    ("ended before polls", _job(_chunk(Phase.SUBMITTED), replace(_chunk(Phase.ENDED), seq=2)), Collect(2)),
    ("output before new work", _job(_chunk(Phase.PLANNED), unwritten_items=3), WriteOutput()),
    ("poll due", _job(_chunk(Phase.SUBMITTED)), Poll(1)),
    ("poll not due", _job(_chunk(Phase.SUBMITTED, next_check_at=NOW + 7)), Sleep(NOW + 7)),
    ("cancel: withdraw planned", _job(_chunk(Phase.PLANNED), cancel_requested=True), Withdraw(1)),
    ("cancel: pending items", _job(pending_items=2, cancel_requested=True), CancelPending()),
    ("cancel: send", _job(_chunk(Phase.SUBMITTED), cancel_requested=True), SendCancel(1)),
    (
        "cancel sent: keep polling",
        _job(_chunk(Phase.SUBMITTED, cancel_sent=True), cancel_requested=True),
        Poll(1),
    ),
    (
        "cancel: never cancel a batch adopted without proof (it may be another job's); poll it",
        _job(_chunk(Phase.SUBMITTED, adopted=True, batch_id="b"), cancel_requested=True),
        Poll(1),
    ),
    ("cancel: still recover first", _job(_chunk(Phase.CREATING), cancel_requested=True), Recover(1)),
    ("worn out", _job(_chunk(Phase.SUBMITTED, failures=5)), GiveUp(1, 5)),
    ("all collected", _job(_chunk(Phase.COLLECTED), replace(_chunk(Phase.WITHDRAWN), seq=2)), Finish()),
]


@pytest.mark.parametrize(("case", "job", "effect"), DECISIONS, ids=[d[0] for d in DECISIONS])
def test_decide(case: str, job: JobView, effect: object) -> None:
    assert decide(job, NOW, P) == effect


def test_earliest_due_poll_goes_first() -> None:
    a = _chunk(Phase.SUBMITTED, next_check_at=NOW - 1)
    b = replace(_chunk(Phase.SUBMITTED, next_check_at=NOW - 5), seq=2)
    assert decide(_job(a, b), NOW, P) == Poll(2)
