"""What the planner knows about past calls: a bounded, in-memory record of prefixes (pure).

:class:`PrefixHistory` is fed after every call with the request's shape, what the cache did
(a :class:`~clawback.cache.rules.CacheOutcome` from the emulator or replay, or the
:class:`~clawback.pricing.cost.Usage` the API returned) and the call's start time. Per
``(workspace, model)`` it keeps:

* **prefixes** — for the prefix hash at level ends, message boundaries, the last three blocks,
  every eighth block and every breakpoint: when it was seen, the gaps between sightings (which
  choose the TTL), which block followed it (a slot whose next block differs on every call is a
  branch point: what follows it is volatile), our view of its cache entry (written when, expires
  when, read since?) and how many writes in a row were never read;
* **odds** — :class:`~clawback.cache.odds.ReuseOdds`, learned from the first three sightings of
  every tracked prefix: was it seen again within 5 minutes, within an hour, given the evidence
  its request carried (length, new blocks, conversation depth and pace, kind, system prompt, task).
  Learning costs nothing: a prefix is "seen again" whether or not it was cached, so the planner
  learns from sightings, not from paid writes;
* **a savings account** — what the calls actually saved against sending them uncached, exact to
  the cent through the cost engine. The planner never risks more than this balance plus a small
  exploration allowance, which is what bounds its cost by the no-caching cost (see
  :mod:`clawback.cache.planner`).

Memory is bounded: at most ``max_prefixes`` prefix records (least recently seen evicted first),
``max_contexts`` workspace/model pairs and a fixed number of odds weights. Times are seconds on any
monotonic clock; calls should be observed in start-time order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from clawback.cache.economics import CacheRates, realized_saving
from clawback.cache.odds import ReuseOdds, gap_bucket
from clawback.cache.prefixes import (
    FIVE_MIN,
    MAX_GAP_SAMPLES,
    ONE_HOUR,
    PrefixRecord,
    book_write,
    infer_effects,
    marks_of,
    refresh,
    usage_of,
)
from clawback.cache.rules import CacheOutcome
from clawback.cache.tuning import Tuning
from clawback.cache.view import LATTICE, RequestView, view_key, view_of
from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import Usage, parse_usage, price_usage
from clawback.shapes import BlockShape, RequestShape, Ttl

__all__ = ["PrefixHistory", "PrefixRecord", "SeedRecord"]

_GAP_WINDOW: Final = 32.0
YOUNG: Final = 3
"""Sightings of a prefix that teach the odds (and that the odds forecast); later ones use its own gaps."""


@dataclass(frozen=True, slots=True)
class SeedRecord:
    """One past call to seed the history with (e.g. a ledger row)."""

    shape: RequestShape
    usage: Usage
    at: float
    workspace: str = "default"
    ttft: float = 0.0
    """Seconds from the call's start to its first token (its new entries were readable from then)."""
    task: str | None = None

    @classmethod
    def from_ledger(
        cls,
        shape_json: Mapping[str, Any],
        usage: Mapping[str, Any],
        at: float,
        *,
        workspace: str = "default",
        ttft: float = 0.0,
        task: str | None = None,
    ) -> SeedRecord:
        """From what the ledger stores: ``RequestShape.to_json()``, the API's usage object, start time."""
        return cls(RequestShape.from_json(shape_json), parse_usage(usage), at, workspace, ttft, task)


@dataclass(slots=True)
class _Context:
    odds: ReuseOdds
    records: dict[str, PrefixRecord] = field(default_factory=dict)
    saved: Decimal = Decimal(0)
    calls: int = 0
    view: tuple[int, RequestView] | None = None
    """The last view read (valid while ``calls`` is unchanged)."""


class PrefixHistory:
    """Bounded in-memory record of prefixes, sightings, cache entries and savings, per workspace and model."""

    def __init__(
        self,
        *,
        max_prefixes: int = 100_000,
        max_contexts: int = 64,
        exploration_tokens: int = 200_000,
        tuning: Tuning | None = None,
    ) -> None:
        self.max_prefixes = max_prefixes
        self.max_contexts = max_contexts
        self.exploration_tokens = exploration_tokens
        self.tuning = tuning if tuning is not None else Tuning()
        self._contexts: dict[tuple[str, str], _Context] = {}
        self._size = 0

    # -- reading -------------------------------------------------------------------------------

    def records(self, workspace: str, model: str) -> Mapping[str, PrefixRecord]:
        """Prefix records of one workspace and model, keyed by prefix hash (treat as read-only)."""
        ctx = self._contexts.get((workspace, model))
        return ctx.records if ctx is not None else {}

    def odds(self, workspace: str, model: str) -> ReuseOdds:
        """The learned odds of one workspace and model (treat as read-only)."""
        ctx = self._contexts.get((workspace, model))
        return ctx.odds if ctx is not None else ReuseOdds(self.tuning)

    def view(
        self, shape: RequestShape, now: float, *, workspace: str = "default", task: str | None = None
    ) -> RequestView:
        """The request, sent for ``task``, read against this history at ``now`` (remembered until
        the next observed call).

        The odds first learn from every sighting whose window closed by ``now``.
        """
        label = task or ""
        ctx = self._contexts.get((workspace, shape.model))
        if ctx is None:
            return view_of(shape, {}, now, label)
        ctx.odds.settle(now)
        memo = ctx.view
        if memo is not None and memo[0] == ctx.calls and memo[1].key == view_key(shape, now, label):
            return memo[1]
        found = view_of(shape, ctx.records, now, label)
        ctx.view = (ctx.calls, found)
        return found

    def saved(self, workspace: str, model: str) -> Decimal:
        """USD the observed calls saved against sending them uncached (negative if they cost more)."""
        ctx = self._contexts.get((workspace, model))
        return ctx.saved if ctx is not None else Decimal(0)

    def allowance(self, info: ModelInfo, *, at: date | None = None) -> Decimal:
        """The exploration allowance in USD: ``exploration_tokens`` at the model's write premium."""
        return self.exploration_tokens * CacheRates.of(info, at=at).input

    def budget(self, workspace: str, info: ModelInfo, *, at: date | None = None) -> Decimal:
        """How much beyond uncached cost a plan may still risk: savings so far plus the allowance."""
        return self.saved(workspace, info.id) + self.allowance(info, at=at)

    def __len__(self) -> int:
        return self._size

    # -- feeding -------------------------------------------------------------------------------

    def observe(
        self,
        shape: RequestShape,
        result: CacheOutcome | Usage,
        at: float,
        *,
        info: ModelInfo,
        workspace: str = "default",
        day: date | None = None,
        visible_at: float | None = None,
        ping: bool = False,
        extra_output: int = 0,
        actual_input: Decimal | None = None,
        task: str | None = None,
    ) -> None:
        """Record one served call: its prefixes, what it read and wrote, and what it saved.

        ``result`` is the engine's outcome (exact) or the API's usage, from which the read
        position and the writes are inferred by token count. ``day`` prices the saving;
        ``visible_at`` is when the call began responding (its new entries are readable from then;
        ``at`` by default). A keep-alive ``ping`` refreshes entries but is not a sighting, and its
        whole cost is booked against the savings (without it, no call would have been made),
        including ``extra_output`` tokens when ``result`` is an outcome that does not count them.
        ``actual_input`` is the usage's input side already priced on ``info`` and ``day``, if at hand.
        ``task`` is the caller's label for the call (evidence for the odds, as when it was planned).
        """
        ctx = self._context(workspace, shape.model)
        ctx.odds.settle(at)
        if not shape.blocks:
            return
        view = self.view(shape, at, workspace=workspace, task=task)
        cum = view.cum
        if isinstance(result, CacheOutcome):
            hit = result.hit_position
            written = [(bp.position, bp.ttl) for bp in result.written]
            marks = [bp.position for bp in result.breakpoints]
            usage = usage_of(result)
        else:
            usage = result
            breakpoints = marks_of(shape)
            hit, written = infer_effects(shape, usage, cum, info.min_cacheable_tokens, breakpoints)
            marks = [position for position, _ in breakpoints] if hit is not None else []
        if ping:
            ctx.saved -= (
                price_usage(usage, info, at=day).total + extra_output * CacheRates.of(info, at=day).output
            )
        else:
            ctx.calls += 1
            forced = {p for p, _ in written} | ({hit} if hit is not None else set())
            self._sight(ctx, shape, at, view=view, forced=forced)
            ctx.saved += realized_saving(usage, info, at=day, actual_input=actual_input)
        visible = at if visible_at is None else visible_at
        self._entries(ctx, shape, (hit, written, marks), at=at, visible=visible)

    def seed(self, rows: Iterable[SeedRecord], resolve: Callable[[str], ModelInfo]) -> int:
        """Observe past calls in order (e.g. from the ledger); returns how many were read."""
        count = 0
        for row in rows:
            info = resolve(row.shape.model)
            self.observe(
                row.shape,
                row.usage,
                row.at,
                info=info,
                workspace=row.workspace,
                visible_at=row.at + row.ttft,
                task=row.task,
            )
            count += 1
        return count

    # -- internals -----------------------------------------------------------------------------

    def _context(self, workspace: str, model: str) -> _Context:
        key = (workspace, model)
        ctx = self._contexts.get(key)
        if ctx is None:
            if len(self._contexts) >= self.max_contexts:
                oldest = next(iter(self._contexts))
                self._size -= len(self._contexts.pop(oldest).records)
            ctx = self._contexts[key] = _Context(ReuseOdds(self.tuning))
        else:
            self._contexts[key] = self._contexts.pop(key)
        return ctx

    def _sight(
        self, ctx: _Context, shape: RequestShape, at: float, *, view: RequestView, forced: set[int]
    ) -> None:
        blocks = shape.blocks
        records = ctx.records
        origins = view.origins
        recs = view.recs
        n = len(blocks)
        todo = set(forced)
        for i, rec in enumerate(recs):
            if rec is not None:
                todo.add(i)
        todo.update(origins, range(0, n, LATTICE), range(view.first_message))
        for i in sorted(todo):
            if i >= n:
                continue
            b = blocks[i]
            child = blocks[i + 1].content_hash if i + 1 < n else None
            rec = recs[i]
            if rec is not None:
                del records[b.prefix_hash]  # the view is read with no call observed since
                self._resight(ctx, rec, at, child, view)
                records[b.prefix_hash] = rec
            elif b.cacheable:
                self._first_sight(ctx, view, (i, b), child, at, origin=origins.get(i))
        self._evict(ctx)

    def _first_sight(
        self,
        ctx: _Context,
        view: RequestView,
        block: tuple[int, BlockShape],
        child: str | None,
        at: float,
        *,
        origin: str | None,
    ) -> None:
        i, b = block
        rec = PrefixRecord(
            tokens=view.cum[i],
            first_seen=at,
            last_seen=at,
            parent=view.hashes[i - 1] if i else None,
            origin=origin or "mid",
            root=view.root,
            depth=view.depth,
            quick=view.quick,
            last_child=child,
            children=1 if child is not None else 0,
        )
        ctx.records[b.prefix_hash] = rec
        self._size += 1
        if origin is not None:
            rec.example = ctx.odds.sighted(view.keys(rec.origin, 1, view.evidence.parent_gap), at)

    def _resight(
        self, ctx: _Context, rec: PrefixRecord, at: float, child: str | None, view: RequestView
    ) -> None:
        gap = at - rec.last_seen
        if gap >= 0:
            if rec.sightings == 1:
                parent = ctx.records.get(rec.parent) if rec.parent is not None else None
                if parent is not None:
                    parent.continued_children += 1
            if rec.example is not None:
                ctx.odds.seen_again(rec.example, gap)
                rec.example = None
            rec.gaps += 1
            rec.within_5m += gap < FIVE_MIN
            rec.within_1h += gap < ONE_HOUR
            if rec.gaps > _GAP_WINDOW:
                scale = _GAP_WINDOW / rec.gaps
                rec.gaps, rec.within_5m, rec.within_1h = (
                    _GAP_WINDOW,
                    rec.within_5m * scale,
                    rec.within_1h * scale,
                )
            samples = rec.recent_gaps
            if samples is None:
                rec.recent_gaps = [gap]
            else:
                samples.append(gap)
                if len(samples) > MAX_GAP_SAMPLES:
                    del samples[0]
            rec.last_seen = at
        rec.sightings += 1
        if rec.sightings <= YOUNG and gap >= 0:
            rec.example = ctx.odds.sighted(view.keys(rec.origin, rec.sightings, gap_bucket(gap)), at)
        if child is not None:
            rec.children += 1
            if rec.last_child is not None and child != rec.last_child:
                rec.child_changes += 1
            rec.last_child = child

    def _entries(
        self,
        ctx: _Context,
        shape: RequestShape,
        effects: tuple[int | None, list[tuple[int, Ttl]], list[int]],
        *,
        at: float,
        visible: float,
    ) -> None:
        """Apply what the call read (refresh) and wrote (new entries) to our view of the cache."""
        hit, written, marks = effects
        records = ctx.records
        blocks = shape.blocks
        if hit is not None:
            rec = records.get(blocks[hit].prefix_hash)
            if rec is not None:
                rec.reads += 1
                rec.read_since_write = True
                rec.unread_writes = 0
                refresh(rec, at)
            for position in marks:
                below = records.get(blocks[position].prefix_hash) if position < hit else None
                if below is not None and below.live_at(at):
                    refresh(below, at)
        for position, ttl in written:
            rec = records.get(blocks[position].prefix_hash)
            if rec is not None:
                book_write(rec, ttl, at, visible=visible)

    def _evict(self, ctx: _Context) -> None:
        records = ctx.records
        while self._size > self.max_prefixes and records:
            del records[next(iter(records))]
            self._size -= 1
