"""The batch job state machine: chunk phases, the events that move them, and the next effect (pure).

A job's input is split into *chunks*; each chunk becomes one Message Batch. A chunk moves::

    PLANNED ──intend──▶ CREATING ──created/found──▶ SUBMITTED ──polled(ended)──▶ ENDED ──collected──▶ COLLECTED
       ▲  │                │  ▲                                                        │
       │  └─withdrawn──▶ WITHDRAWN   └─unknown / still looking (stay)                       │
       └──────rejected / not created───┘  ◀────────────────────disowned───────────────────┘ (back to CREATING)

``CREATING`` means "the create call may have reached the API": the intent (with the exact
custom_ids) is in the journal, the batch id is not. Whatever ended the call — a crash, a timeout,
a 5xx — the only way out is to *look*: list the workspace's batches and find it (``found``), or be
sure it was never made (``not created``), before anything is sent again. ``disowned`` is the one
way back from ``ENDED``: a batch adopted while looking whose results turn out to carry another
job's ids; the chunk looks again, skipping it.

:func:`transition` applies one event to one chunk and raises :class:`InvalidTransition` for a pair
the table below does not allow; :func:`decide` reads a whole :class:`JobView` and names the single
next effect. The runner is a loop around the two: decide, record the intent, perform, record the
outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

__all__ = [
    "EVENT_KINDS",
    "Backoff",
    "CancelPending",
    "ChunkView",
    "Collect",
    "Create",
    "Effect",
    "Event",
    "Finish",
    "GiveUp",
    "InvalidTransition",
    "JobView",
    "Phase",
    "Plan",
    "Poll",
    "Recover",
    "SendCancel",
    "Sleep",
    "Warm",
    "Withdraw",
    "WriteOutput",
    "decide",
    "transition",
]


class Phase(StrEnum):
    """Where one chunk is in its life."""

    PLANNED = "planned"
    CREATING = "creating"
    SUBMITTED = "submitted"
    ENDED = "ended"
    COLLECTED = "collected"
    WITHDRAWN = "withdrawn"


LIVE_PHASES: Final = frozenset({Phase.PLANNED, Phase.CREATING, Phase.SUBMITTED, Phase.ENDED})


@dataclass(frozen=True, slots=True)
class Backoff:
    """Timing rules: poll back-off, transient-failure back-off, and how long to look for a batch."""

    first_poll: float = 10.0
    poll_factor: float = 1.5
    max_poll: float = 60.0
    retry_base: float = 1.0
    retry_max: float = 60.0
    recover_grace: float = 60.0
    max_failures: int = 30
    max_sleep: float = 5.0
    """The longest single sleep, so a cancel recorded by another process is seen soon."""

    def poll_delay(self, previous: float) -> float:
        """The wait before the next poll of a batch still in progress."""
        if previous <= 0:
            return self.first_poll
        return min(self.max_poll, previous * self.poll_factor)

    def failure_delay(self, failures: int, retry_after: float | None) -> float:
        """The wait after the ``failures``-th transient failure in a row, honouring ``retry-after``."""
        delay = min(self.retry_max, self.retry_base * float(2 ** max(0, failures - 1)))
        return max(delay, retry_after or 0.0)


@dataclass(frozen=True, slots=True)
class ChunkView:
    """What the state machine knows of one chunk (the journal holds the items)."""

    seq: int
    phase: Phase
    size: int
    batch_id: str | None = None
    next_check_at: float = 0.0
    delay: float = 0.0
    """The current poll interval (a failure's back-off does not change it)."""
    failures: int = 0
    cancel_sent: bool = False
    adopted: bool = False
    unwarmed: int = 0
    intent_at: float | None = None
    create_attempts: int = 0
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a chunk: a recorded intent or an effect's outcome."""

    kind: str
    batch_id: str | None = None
    ended: bool = False
    retry_after: float | None = None


EVENT_KINDS: Final = (
    "intend",
    "created",
    "rejected",
    "unknown",
    "found",
    "not_created",
    "still_looking",
    "polled",
    "check_failed",
    "cancel_sent",
    "collected",
    "disowned",
    "withdrawn",
    "warmed",
)

_ALLOWED: Final[dict[str, frozenset[Phase]]] = {
    "intend": frozenset({Phase.PLANNED}),
    "created": frozenset({Phase.CREATING}),
    "rejected": frozenset({Phase.CREATING}),
    "unknown": frozenset({Phase.CREATING}),
    "found": frozenset({Phase.CREATING}),
    "not_created": frozenset({Phase.CREATING}),
    "still_looking": frozenset({Phase.CREATING}),
    "polled": frozenset({Phase.SUBMITTED}),
    "check_failed": frozenset({Phase.PLANNED, Phase.SUBMITTED, Phase.ENDED}),
    "cancel_sent": frozenset({Phase.SUBMITTED}),
    "collected": frozenset({Phase.ENDED}),
    "disowned": frozenset({Phase.ENDED}),
    "withdrawn": frozenset({Phase.PLANNED}),
    "warmed": frozenset({Phase.PLANNED}),
}


class InvalidTransition(ValueError):
    """An event that cannot happen to a chunk in its current phase (a bug or a corrupt journal)."""


def transition(chunk: ChunkView, event: Event, now: float, policy: Backoff) -> ChunkView:
    """The chunk after ``event`` at time ``now``."""
    allowed = _ALLOWED.get(event.kind)
    if allowed is None:
        raise InvalidTransition(f"unknown event {event.kind!r}")
    if chunk.phase not in allowed:
        raise InvalidTransition(
            f"chunk {chunk.seq}: {event.kind!r} cannot happen in phase {chunk.phase.value!r}"
        )
    kind = event.kind
    fresh = replace(chunk, failures=0, delay=0.0, next_check_at=now)
    if kind == "intend":
        return replace(fresh, phase=Phase.CREATING, intent_at=now, create_attempts=chunk.create_attempts + 1)
    if kind in ("created", "found"):
        if not event.batch_id:
            raise InvalidTransition(f"chunk {chunk.seq}: {kind!r} needs a batch id")
        first = policy.poll_delay(0.0)
        return replace(
            fresh,
            phase=Phase.SUBMITTED,
            batch_id=event.batch_id,
            adopted=kind == "found",
            delay=first,
            next_check_at=now + first,
        )
    if kind in ("rejected", "not_created"):
        return replace(fresh, phase=Phase.PLANNED, intent_at=None)
    if kind in ("unknown", "check_failed"):
        failures = chunk.failures + 1
        return replace(
            chunk, failures=failures, next_check_at=now + policy.failure_delay(failures, event.retry_after)
        )
    if kind == "still_looking":
        return replace(chunk, next_check_at=now + policy.failure_delay(1, event.retry_after))
    if kind == "polled":
        if event.ended:
            return replace(fresh, phase=Phase.ENDED)
        delay = policy.poll_delay(chunk.delay)
        return replace(chunk, failures=0, delay=delay, next_check_at=now + delay)
    if kind == "cancel_sent":
        return replace(fresh, cancel_sent=True)
    if kind == "collected":
        return replace(fresh, phase=Phase.COLLECTED)
    if kind == "disowned":
        excluded = (*chunk.excluded, chunk.batch_id) if chunk.batch_id else chunk.excluded
        return replace(
            fresh, phase=Phase.CREATING, batch_id=None, adopted=False, cancel_sent=False, excluded=excluded
        )
    if kind == "withdrawn":
        return replace(fresh, phase=Phase.WITHDRAWN)
    return replace(chunk, unwarmed=max(0, chunk.unwarmed - 1))  # warmed


@dataclass(frozen=True, slots=True)
class JobView:
    """What :func:`decide` reads: the job's chunks and three item counts."""

    chunks: tuple[ChunkView, ...]
    pending_items: int = 0
    unwritten_items: int = 0
    cancel_requested: bool = False
    warm_cache: bool = False
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """Put every item waiting to be sent (new or retried) into new PLANNED chunks."""


@dataclass(frozen=True, slots=True)
class Warm:
    """Send one warm-up request for the next unwarmed prefix group of a chunk."""

    seq: int


@dataclass(frozen=True, slots=True)
class Create:
    """Record the intent, then create the chunk's batch."""

    seq: int


@dataclass(frozen=True, slots=True)
class Recover:
    """Look for the batch a CREATING chunk may have made."""

    seq: int


@dataclass(frozen=True, slots=True)
class Poll:
    """Retrieve a submitted batch's status."""

    seq: int


@dataclass(frozen=True, slots=True)
class SendCancel:
    """Ask the API to cancel a submitted batch."""

    seq: int


@dataclass(frozen=True, slots=True)
class Collect:
    """Stream an ended batch's results into the journal."""

    seq: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    """A canceled job's PLANNED chunk: its items end ``canceled`` without being sent."""

    seq: int


@dataclass(frozen=True, slots=True)
class CancelPending:
    """A canceled job's items not yet in a chunk end ``canceled``."""


@dataclass(frozen=True, slots=True)
class WriteOutput:
    """Append finished items to the output file."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Nothing to do until ``until``."""

    until: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Too many transient failures in a row: stop; the job stays resumable."""

    seq: int
    failures: int


@dataclass(frozen=True, slots=True)
class Finish:
    """Every item has a final outcome and is in the output file."""


Effect = (
    (Plan | Warm | Create | Recover | Poll | SendCancel | Collect | Withdraw | CancelPending | WriteOutput)
    | Sleep
    | GiveUp
    | Finish
)


def _first(chunks: Iterable[ChunkView], phase: Phase, now: float) -> ChunkView | None:
    due = [c for c in chunks if c.phase is phase and c.next_check_at <= now]
    return min(due, key=lambda c: (c.next_check_at, c.seq)) if due else None


def _cancel_effect(job: JobView) -> Effect | None:
    planned = next((c for c in job.chunks if c.phase is Phase.PLANNED), None)
    if planned is not None:
        return Withdraw(planned.seq)
    if job.pending_items:
        return CancelPending()
    # A batch adopted without proof (see clawback.batch.recovery) may be another job's: it is never
    # canceled; the chunk waits for it to end and then keeps or disowns it as usual.
    unsent = next(
        (c for c in job.chunks if c.phase is Phase.SUBMITTED and not c.cancel_sent and not c.adopted), None
    )
    return SendCancel(unsent.seq) if unsent is not None else None


def decide(job: JobView, now: float, policy: Backoff) -> Effect:
    """The one effect to perform next."""
    if job.finished:
        return Finish()
    worn = next((c for c in job.chunks if c.phase in LIVE_PHASES and c.failures >= policy.max_failures), None)
    if worn is not None:
        return GiveUp(worn.seq, worn.failures)
    creating = _first(job.chunks, Phase.CREATING, now)
    if creating is not None:
        return Recover(creating.seq)
    ended = _first(job.chunks, Phase.ENDED, now)
    if ended is not None:
        return Collect(ended.seq)
    if job.unwritten_items:
        return WriteOutput()
    if job.cancel_requested:
        effect = _cancel_effect(job)
        if effect is not None:
            return effect
    else:
        if job.pending_items:
            return Plan()
        planned = _first(job.chunks, Phase.PLANNED, now)
        if planned is not None:
            return Warm(planned.seq) if job.warm_cache and planned.unwarmed else Create(planned.seq)
    submitted = _first(job.chunks, Phase.SUBMITTED, now)
    if submitted is not None:
        return Poll(submitted.seq)
    live = [c.next_check_at for c in job.chunks if c.phase in LIVE_PHASES]
    if live:
        return Sleep(min(live))
    return Finish()
