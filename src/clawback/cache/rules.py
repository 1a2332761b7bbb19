"""The prompt-cache rules engine (pure; no I/O), shared by the emulator, the planner and the audit.

It follows https://platform.claude.com/docs/en/build-with-claude/prompt-caching (summarised in
``../shared/docs/anthropic-api-facts.md`` §2):

* At most 4 breakpoints: explicit ``cache_control`` on blocks plus, with top-level automatic
  caching, one on the last cacheable block. A fifth, automatic caching with 4 explicit already set,
  an automatic TTL that disagrees with the last block's own, or a 1-hour breakpoint after a
  5-minute one is rejected (:class:`~clawback.errors.CacheRuleError`, HTTP 400).
* The prefix runs tools → system → messages; :mod:`clawback.shapes` folds the parameters that
  invalidate a level into the prefix hash, so an entry matches only an identical prefix.
* Entries are written only at breakpoints whose prefix reaches the model's minimum cacheable
  length; below it the request is processed without caching and no error is returned.
* A read walks back from each breakpoint over at most 20 positions (the breakpoint is the first)
  looking for an entry an earlier request wrote; the furthest hit wins.
* An entry lives 5 minutes or 1 hour from the *start* of the request that wrote or last read it;
  a read refreshes it for its own TTL. It becomes visible only once the writing request has begun
  responding, so requests fanned out together all write.
* Entries are isolated per workspace (here: any key the caller chooses, e.g. the API key) and
  per model.
* Billing positions for mixed TTLs: A = furthest hit, B = furthest 1-hour breakpoint after A,
  C = last breakpoint. Reads pay for the prefix to A, 1-hour writes for (A, B], 5-minute writes for
  (max(A, B), C], and ``input_tokens`` are the tokens after C.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Final

from clawback.errors import CacheRuleError
from clawback.shapes import RequestShape, Ttl

__all__ = [
    "LOOKBACK_BLOCKS",
    "MAX_BREAKPOINTS",
    "TTL_SECONDS",
    "Breakpoint",
    "CacheEngine",
    "CacheOutcome",
    "Entry",
    "breakpoints_of",
]

MAX_BREAKPOINTS: Final = 4
LOOKBACK_BLOCKS: Final = 20
TTL_SECONDS: Final[dict[str, float]] = {"5m": 300.0, "1h": 3600.0}

CacheKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A position where the request asks for a cache entry."""

    position: int
    ttl: Ttl
    prefix_tokens: int
    prefix_hash: str
    automatic: bool = False


@dataclass(slots=True)
class Entry:
    """A cache entry: its TTL, when it expires and when it became readable."""

    ttl: Ttl
    expires_at: float
    visible_at: float
    tokens: int

    def live_at(self, now: float) -> bool:
        """Readable at ``now``: visible and not yet expired."""
        return self.visible_at <= now < self.expires_at


@dataclass(frozen=True, slots=True)
class CacheOutcome:
    """What the cache did for one request, in usage terms, and why."""

    input_tokens: int
    cache_read_input_tokens: int
    cache_write_5m_input_tokens: int
    cache_write_1h_input_tokens: int
    hit_position: int | None
    breakpoints: tuple[Breakpoint, ...]
    written: tuple[Breakpoint, ...]
    below_minimum: tuple[Breakpoint, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def cache_creation_input_tokens(self) -> int:
        """All cache writes."""
        return self.cache_write_5m_input_tokens + self.cache_write_1h_input_tokens

    @property
    def total_input_tokens(self) -> int:
        """Every input token of the request."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


def breakpoints_of(shape: RequestShape) -> tuple[Breakpoint, ...]:
    """The request's breakpoints in prefix order, validated against the API's rules."""
    marks: dict[int, tuple[Ttl, bool]] = {}
    for block in shape.blocks:
        if block.cache_ttl is None:
            continue
        if not block.cacheable:
            raise CacheRuleError(
                f"cache_control cannot be set on a {block.kind} block "
                f"(position {block.position}); thinking blocks and empty text blocks cannot be cached"
            )
        marks[block.position] = (block.cache_ttl, False)
    explicit = len(marks)
    if shape.auto_cache_ttl is not None:
        last = next((b for b in reversed(shape.blocks) if b.cacheable), None)
        if last is not None:
            if last.position in marks:
                if marks[last.position][0] != shape.auto_cache_ttl:
                    raise CacheRuleError(
                        "top-level cache_control has ttl "
                        f"{shape.auto_cache_ttl!r} but the last block already sets ttl "
                        f"{marks[last.position][0]!r}"
                    )
            elif explicit >= MAX_BREAKPOINTS:
                raise CacheRuleError(
                    "automatic caching needs a free breakpoint slot, but the request already has "
                    f"{explicit} blocks with cache_control (maximum {MAX_BREAKPOINTS})"
                )
            else:
                marks[last.position] = (shape.auto_cache_ttl, True)
    if len(marks) > MAX_BREAKPOINTS:
        raise CacheRuleError(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(marks)}."
        )
    out: list[Breakpoint] = []
    running = shape.overhead_tokens
    seen_5m = False
    for block in shape.blocks:
        running += block.tokens
        if block.position not in marks:
            continue
        ttl, automatic = marks[block.position]
        if ttl == "1h" and seen_5m:
            raise CacheRuleError(
                "a cache_control block with ttl '1h' cannot come after one with ttl '5m' "
                f"(position {block.position}); put 1-hour breakpoints first"
            )
        seen_5m = seen_5m or ttl == "5m"
        out.append(Breakpoint(block.position, ttl, running, block.prefix_hash, automatic))
    return tuple(out)


class CacheEngine:
    """Applies the cache rules to a stream of requests, holding entries in ``store``.

    ``store`` is any mutable mapping from ``(workspace, model, prefix_hash)`` to :class:`Entry`;
    a plain dict by default. Callers pass times in seconds on any clock (the emulator's virtual
    clock, a trace's timestamps).
    """

    def __init__(
        self,
        store: MutableMapping[CacheKey, Entry] | None = None,
        *,
        lookback: int = LOOKBACK_BLOCKS,
    ) -> None:
        self.store: MutableMapping[CacheKey, Entry] = {} if store is None else store
        self.lookback = lookback

    def evaluate(
        self,
        shape: RequestShape,
        *,
        workspace: str,
        min_tokens: int,
        start: float,
        total_input_tokens: int | None = None,
    ) -> CacheOutcome:
        """What the request would read, write and pay for at ``start``; changes nothing."""
        bps = breakpoints_of(shape)
        eligible = tuple(bp for bp in bps if bp.prefix_tokens >= min_tokens)
        below = tuple(bp for bp in bps if bp.prefix_tokens < min_tokens)
        total = shape.total_tokens if total_input_tokens is None else total_input_tokens
        notes = [
            f"breakpoint at position {bp.position} covers {bp.prefix_tokens:,} tokens, below the "
            f"{min_tokens:,}-token minimum: not cached"
            for bp in below
        ]
        hit = self._find_hit(shape, eligible, workspace, start)
        if not eligible:
            return CacheOutcome(total, 0, 0, 0, None, bps, (), below, tuple(notes))
        hit_tokens = shape.prefix_tokens(hit) if hit is not None else 0
        hit_pos = -1 if hit is None else hit
        last = eligible[-1]
        one_hour = [bp for bp in eligible if bp.ttl == "1h" and bp.position > hit_pos]
        b_tokens = one_hour[-1].prefix_tokens if one_hour else hit_tokens
        write_1h = max(0, b_tokens - hit_tokens)
        write_5m = max(0, last.prefix_tokens - max(b_tokens, hit_tokens))
        read = min(hit_tokens, total)
        input_tokens = max(0, total - max(last.prefix_tokens, hit_tokens))
        written = tuple(bp for bp in eligible if bp.position > hit_pos)
        if hit is None and eligible:
            notes.append("no live cache entry matched: prefix written")
        return CacheOutcome(input_tokens, read, write_5m, write_1h, hit, bps, written, below, tuple(notes))

    def commit(
        self,
        shape: RequestShape,
        outcome: CacheOutcome,
        *,
        workspace: str,
        start: float,
        visible_at: float | None = None,
    ) -> None:
        """Record what ``outcome`` wrote and refresh what it read.

        ``visible_at`` is when the request began responding (defaults to ``start``); new entries
        are readable from then on and live for their TTL from ``start``.
        """
        visible = start if visible_at is None else visible_at
        model = shape.model
        hit_pos = -1 if outcome.hit_position is None else outcome.hit_position
        if outcome.hit_position is not None:
            self._refresh((workspace, model, shape.blocks[outcome.hit_position].prefix_hash), start)
            for bp in outcome.breakpoints:
                if bp.position < hit_pos:
                    self._refresh((workspace, model, bp.prefix_hash), start)
        for bp in outcome.written:
            key = (workspace, model, bp.prefix_hash)
            expires = start + TTL_SECONDS[bp.ttl]
            existing = self.store.get(key)
            if existing is not None and existing.expires_at > start:
                existing.expires_at = max(existing.expires_at, expires)
                existing.visible_at = min(existing.visible_at, visible)
                if TTL_SECONDS[bp.ttl] > TTL_SECONDS[existing.ttl]:
                    existing.ttl = bp.ttl
            else:
                self.store[key] = Entry(bp.ttl, expires, visible, bp.prefix_tokens)

    def process(
        self,
        shape: RequestShape,
        *,
        workspace: str,
        min_tokens: int,
        start: float,
        visible_at: float | None = None,
        total_input_tokens: int | None = None,
    ) -> CacheOutcome:
        """Evaluate then commit: the usual path for a request that was served."""
        outcome = self.evaluate(
            shape,
            workspace=workspace,
            min_tokens=min_tokens,
            start=start,
            total_input_tokens=total_input_tokens,
        )
        self.commit(shape, outcome, workspace=workspace, start=start, visible_at=visible_at)
        return outcome

    def purge(self, now: float) -> int:
        """Drop entries expired at ``now``; returns how many went."""
        dead = [key for key, entry in self.store.items() if entry.expires_at <= now]
        for key in dead:
            del self.store[key]
        return len(dead)

    def _refresh(self, key: CacheKey, start: float) -> None:
        entry = self.store.get(key)
        if entry is not None and entry.live_at(start):
            entry.expires_at = max(entry.expires_at, start + TTL_SECONDS[entry.ttl])

    def _find_hit(
        self, shape: RequestShape, eligible: tuple[Breakpoint, ...], workspace: str, start: float
    ) -> int | None:
        best: int | None = None
        store = self.store
        model = shape.model
        blocks = shape.blocks
        for bp in eligible:
            lowest = max(-1, bp.position - self.lookback)
            for pos in range(bp.position, lowest, -1):
                if best is not None and pos <= best:
                    break
                entry = store.get((workspace, model, blocks[pos].prefix_hash))
                if entry is not None and entry.live_at(start):
                    best = pos
                    break
        return best
