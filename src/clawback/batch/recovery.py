"""Finding a batch whose create call may or may not have reached the API (pure).

Before each create, the runner records an *intent*: the chunk, its exact custom_ids (through the
items assigned to it), its request count, the time, and the *anchor* — the newest batch the
workspace listed just before. If the runner cannot tell whether the create happened (it crashed,
the call timed out, the API answered 5xx), it lists the workspace's batches newest first down to
the anchor and judges them here:

1. A *candidate* is a batch listed above the anchor whose request count equals the chunk's and
   that no chunk in the journal has claimed (nor this chunk has disowned before).
2. A candidate whose results were peeked and carry this chunk's custom_id prefix is ours: found.
3. Otherwise the oldest candidate not yet ended is adopted (``found``, unproved); its results are
   checked when collected and a stranger is disowned, sending the chunk back to look again.
4. No candidate: if the intent is younger than the grace period (the list may lag a create), keep
   looking; after it, the batch was never created and the chunk may be sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["ListedBatch", "Verdict", "candidates", "judge"]


@dataclass(frozen=True, slots=True)
class ListedBatch:
    """One batch as the list endpoint shows it."""

    id: str
    total: int
    ended: bool
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What looking found: ``found`` (with the id, and whether it is proved ours), ``absent`` or ``wait``."""

    kind: str
    batch_id: str | None = None
    proved: bool = False


def candidates(
    listed: Iterable[ListedBatch], *, size: int, claimed: frozenset[str], excluded: Iterable[str] = ()
) -> list[ListedBatch]:
    """The listed batches that could be the chunk's, oldest first."""
    skip = claimed | frozenset(excluded)
    found = [b for b in listed if b.total == size and b.id not in skip]
    return list(reversed(found))


def judge(
    found: list[ListedBatch],
    peeks: Mapping[str, bool],
    *,
    intent_at: float,
    now: float,
    grace: float,
) -> Verdict:
    """The verdict on a chunk's candidates, given which ended ones were peeked (True = ours)."""
    for batch in found:
        if peeks.get(batch.id) is True:
            return Verdict("found", batch.id, proved=True)
    unproved = [b for b in found if b.id not in peeks and not b.ended]
    if unproved:
        return Verdict("found", unproved[0].id, proved=False)
    if any(b.id not in peeks for b in found):
        return Verdict("wait")
    if now - intent_at < grace:
        return Verdict("wait")
    return Verdict("absent")
