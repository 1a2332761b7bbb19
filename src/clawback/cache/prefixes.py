"""Per-prefix records the history keeps, and how a call's effects are read (pure).

:class:`PrefixRecord` is what :class:`~clawback.cache.history.PrefixHistory` knows about one
prefix; the rest turns an engine outcome or an API usage object into "read here, wrote there".
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from clawback.cache.odds import Example
from clawback.cache.rules import TTL_SECONDS, CacheOutcome
from clawback.pricing.cost import Usage
from clawback.shapes import RequestShape, Ttl

__all__ = [
    "FIVE_MIN",
    "MAX_DEPTH",
    "MAX_GAP_SAMPLES",
    "ONE_HOUR",
    "PrefixRecord",
    "book_write",
    "cumulative",
    "infer_effects",
    "marks_of",
    "refresh",
    "usage_of",
]

FIVE_MIN: Final = TTL_SECONDS["5m"]
ONE_HOUR: Final = TTL_SECONDS["1h"]
MAX_GAP_SAMPLES: Final = 8
MAX_DEPTH: Final = 6


@dataclass(slots=True)
class PrefixRecord:
    """What is known about one prefix (owned and updated by :class:`PrefixHistory`; read-only to others)."""

    tokens: int
    first_seen: float
    last_seen: float
    parent: str | None
    origin: str = "mid"
    root: str = ""
    depth: int = 0
    """Turns of its conversation before the request that first sent it (capped at ``MAX_DEPTH``)."""
    quick: int = 0
    """Of those turns, the ones that came within 5 minutes of the turn before them."""
    sightings: int = 1
    gaps: float = 0.0
    within_5m: float = 0.0
    within_1h: float = 0.0
    recent_gaps: list[float] | None = None
    last_child: str | None = None
    children: int = 0
    child_changes: int = 0
    continued_children: int = 0
    expires_at: float = 0.0
    visible_at: float = 0.0
    entry_ttl: Ttl | None = None
    writes: int = 0
    reads: int = 0
    read_since_write: bool = False
    unread_writes: int = 0
    written_at_sighting: int = 0
    example: Example | None = None
    """The odds example of its latest young sighting, labelled with the gap to the next one."""

    def live_at(self, now: float) -> bool:
        """Whether, by our account of writes and reads, its cache entry is readable at ``now``."""
        return self.visible_at <= now < self.expires_at

    def unread_streak(self, now: float) -> int:
        """Writes in a row that were never read, counting one whose entry has just lapsed."""
        lapsed = self.writes > 0 and not self.read_since_write and self.expires_at <= now
        return self.unread_writes + (1 if lapsed else 0)

    def write_paused(self, now: float) -> bool:
        """After k >= 2 unread writes in a row, no write until 2**k more sightings (then one retry)."""
        streak = self.unread_streak(now)
        return streak >= 2 and self.sightings - self.written_at_sighting < 2**streak

    def shared(self) -> bool:
        """Many requests branch off it (a system prompt, a template): no one conversation's."""
        return self.child_changes >= 2 or self.origin in ("tools", "system")

    def slot_volatile(self) -> bool:
        """The block after this prefix differed on every sighting and no such request was continued."""
        return self.children >= 3 and self.child_changes >= self.children - 1 and not self.continued_children


def book_write(rec: PrefixRecord, ttl: Ttl, at: float, *, visible: float) -> None:
    """Book a write. It follows an unread write unless the earlier entry was not readable yet
    (requests fanned out together all write): then the earlier write counts as wasted."""
    pending = rec.expires_at > at and rec.visible_at > at
    if rec.writes and not rec.read_since_write and not pending:
        rec.unread_writes += 1
    if rec.expires_at > at:
        rec.expires_at = max(rec.expires_at, at + TTL_SECONDS[ttl])
        rec.visible_at = min(rec.visible_at, visible)
        if TTL_SECONDS[ttl] > TTL_SECONDS[rec.entry_ttl or "5m"]:
            rec.entry_ttl = ttl
    else:
        rec.entry_ttl, rec.expires_at, rec.visible_at = ttl, at + TTL_SECONDS[ttl], visible
    if not pending:
        rec.writes += 1
        rec.read_since_write = False
        rec.written_at_sighting = rec.sightings


def refresh(rec: PrefixRecord, at: float) -> None:
    """A read at ``at`` extends a live entry by its TTL, as the engine does."""
    if rec.live_at(at):
        rec.expires_at = max(rec.expires_at, at + TTL_SECONDS[rec.entry_ttl or "5m"])


def cumulative(shape: RequestShape) -> list[int]:
    """Prefix tokens at every position (request overhead included)."""
    out = list(accumulate([b.tokens for b in shape.blocks], initial=shape.overhead_tokens))
    del out[0]
    return out


def usage_of(outcome: CacheOutcome, output_tokens: int = 0) -> Usage:
    """The usage object an engine outcome stands for (with ``output_tokens`` of output)."""
    return Usage(
        input_tokens=outcome.input_tokens,
        output_tokens=output_tokens,
        cache_read_input_tokens=outcome.cache_read_input_tokens,
        cache_write_5m_input_tokens=outcome.cache_write_5m_input_tokens,
        cache_write_1h_input_tokens=outcome.cache_write_1h_input_tokens,
    )


def marks_of(shape: RequestShape) -> list[tuple[int, Ttl]]:
    """The request's breakpoints as (position, TTL), automatic caching's included."""
    marks = {b.position: b.cache_ttl for b in shape.blocks if b.cache_ttl is not None}
    if shape.auto_cache_ttl is not None:
        last = next((b.position for b in reversed(shape.blocks) if b.cacheable), None)
        if last is not None:
            marks.setdefault(last, shape.auto_cache_ttl)
    return sorted(marks.items())


def infer_effects(
    shape: RequestShape,
    usage: Usage,
    cum: list[int],
    min_tokens: int,
    marks: list[tuple[int, Ttl]] | None = None,
) -> tuple[int | None, list[tuple[int, Ttl]]]:
    """The read position and the writes behind a usage object, matched by token counts.

    ``marks`` is ``marks_of(shape)`` when the caller has it already.
    """
    if marks is None:
        marks = marks_of(shape)
    if not marks:
        return None, []
    hit: int | None = None
    read = usage.cache_read_input_tokens
    if read > 0:
        hit = min(range(marks[-1][0] + 1), key=lambda p: abs(cum[p] - read))
    written: list[tuple[int, Ttl]] = []
    if usage.cache_creation_input_tokens > 0:
        floor = -1 if hit is None else hit
        written = [(p, ttl) for p, ttl in marks if p > floor and cum[p] >= min_tokens]
    return hit, written
