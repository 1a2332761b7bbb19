"""Which cache entries to keep warm, and when to ask whether a ping pays (pure state, no I/O).

One code path for the client (:class:`clawback.client.keepalive.KeepAlive`), the replay and the
audit (:class:`clawback.cache.policies.PlannerPolicy`): both hold a :class:`Keeper` over the same
:class:`~clawback.cache.history.PrefixHistory` the planner reads, and differ only in how a ping is
sent (an API request, or a call through the rules engine).

* **What is watched.** After a served call has been observed by the history,
  :meth:`Keeper.observed` watches the entry the next call of the same conversation would read: the
  deepest breakpoint of the call, when the history holds it as a live 5-minute entry (an hour-long
  entry needs no ping within its hour). A watch is renewed by every later call that sends its
  prefix (the use resets its count of pings), and dropped when a call keeps a deeper prefix of the
  same conversation warm instead (unless the prefix is shared: a system prompt many requests
  branch off stays watched).
* **When.** A watch is checked ``settings.margin`` seconds before the history expects its entry to
  expire. :meth:`Keeper.next_ping` takes the watches whose check falls before a time, in time order,
  and asks :func:`~clawback.cache.keepalive.decide_keepalive` with the prefix's own recent gaps
  from the history and, while it has fewer than ``OWN_GAPS`` gaps of its own, the chance of a use in
  the next window that its kind has learned (:meth:`~clawback.cache.odds.ReuseOdds.next_window`),
  counting ``DOUBT`` more gap that never ends (no use is certain).
* **Never dearer.** A ping must also fit in the history's budget (savings so far plus the
  exploration allowance) and under the spend cap, so keep-alive keeps the planner's guard.

The caller sends each ping :meth:`next_ping` returns, has the history observe it
(``observe(..., ping=True)``: it refreshes the entry and books its cost against the savings), and
reports its cost with :meth:`Keeper.pinged` — or :meth:`Keeper.failed`, which drops the watch (the
next use writes the entry again).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final, Generic, TypeVar

from clawback.cache.history import PrefixHistory
from clawback.cache.keepalive import KeepAliveDecision, KeepAliveSettings, decide_keepalive
from clawback.cache.odds import kind_key
from clawback.cache.prefixes import PrefixRecord
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import RequestShape, Ttl

__all__ = ["DOUBT", "OWN_GAPS", "Keeper", "Ping", "Watch"]

OWN_GAPS: Final = 3
"""Gaps a prefix needs before keep-alive goes by its own gaps rather than its kind's odds."""
DOUBT: Final = 1.0
"""Keep-alive from a prefix's own gaps counts one more past gap that never ended: no use is certain."""

T = TypeVar("T")
_Key = tuple[str, str, str]
"""(workspace, model id, prefix hash)"""


@dataclass(slots=True)
class Watch(Generic[T]):
    """One entry kept warm: its prefix, when it was last used, and when to check it next."""

    workspace: str
    info: ModelInfo
    prefix_hash: str
    position: int
    """The breakpoint's position in the request that started the watch (the same in every request
    that sends the prefix)."""
    prefix_tokens: int
    ttl: Ttl
    last_use: float
    next_check: float
    payload: T
    """What the caller needs to build a ping (the replay: the ping's shape; the client: the call)."""
    pings: int = 0
    """Pings sent since the last use."""
    key: _Key = field(init=False)
    """(workspace, model id, prefix hash)."""
    queued: float = field(init=False, default=math.inf)
    """The time of its entry in the keeper's queue (never after ``next_check``; inf: none)."""

    def __post_init__(self) -> None:
        self.key = (self.workspace, self.info.id, self.prefix_hash)


@dataclass(frozen=True, slots=True)
class Ping(Generic[T]):
    """A ping to send now: the watch, when it was due (the time it was decided for), and why."""

    watch: Watch[T]
    at: float
    decision: KeepAliveDecision


class Keeper(Generic[T]):
    """Watches of cache entries and the keep-alive decisions on them (see the module docstring).

    ``day`` gives the date whose rates price a ping at a given time (None: the latest rates);
    ``budget=False`` drops the never-dearer check (experiments only). Not thread-safe: a caller
    shared between threads holds the lock that guards ``history`` around every method.
    """

    def __init__(
        self,
        history: PrefixHistory,
        settings: KeepAliveSettings,
        *,
        day: Callable[[float], date | None] | None = None,
        budget: bool = True,
        max_watches: int = 100_000,
    ) -> None:
        self.history = history
        self.max_watches = max_watches
        """No new watch starts while this many are kept (memory stays bounded when no one asks for pings)."""
        self.settings = settings
        self.day = day
        self.budget = budget
        self.spent = Decimal(0)
        """What the pings sent so far cost (counted against ``settings.spend_cap``)."""
        self.pings_sent = 0
        self._watches: dict[tuple[str, str], dict[str, Watch[T]]] = {}
        """(workspace, model id) -> prefix hash -> watch"""
        self._due: list[tuple[float, _Key]] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def watches(self) -> list[Watch[T]]:
        """The entries watched now (a copy)."""
        return [w for by_hash in self._watches.values() for w in by_hash.values()]

    def _get(self, key: _Key) -> Watch[T] | None:
        by_hash = self._watches.get(key[:2])
        return by_hash.get(key[2]) if by_hash is not None else None

    def _drop(self, key: _Key) -> None:
        by_hash = self._watches.get(key[:2])
        if by_hash is not None and by_hash.pop(key[2], None) is not None:
            self._count -= 1
            if not by_hash:
                del self._watches[key[:2]]

    def observed(
        self,
        shape: RequestShape,
        marks: Mapping[int, Ttl],
        at: float,
        *,
        info: ModelInfo,
        workspace: str,
        payload: Callable[[int], T],
    ) -> None:
        """A call sent ``shape`` (with breakpoints ``marks``) at ``at``, and the history has observed it.

        ``payload(position)`` builds what a ping of the prefix ending at ``position`` needs; it is
        called only when a new watch starts.
        """
        records = self.history.records(workspace, info.id)
        margin = self.settings.margin
        blocks = shape.blocks
        top, tokens = -1, 0
        if marks:
            deepest = max(marks)
            rec = records.get(blocks[deepest].prefix_hash)
            if rec is not None and rec.live_at(at) and rec.entry_ttl == "5m":
                top, tokens = deepest, rec.tokens
        context = (workspace, info.id)
        watches = self._watches.get(context)
        if watches:
            get = watches.get
            for b in blocks:
                watch = get(b.prefix_hash)
                if watch is None:
                    continue
                rec = records.get(b.prefix_hash)
                if b.position < top and (rec is None or not rec.shared()):
                    del watches[b.prefix_hash]  # a deeper entry of the same request is kept warm instead
                    self._count -= 1
                    continue
                # a use of the prefix; the entry itself lives on only if this call read or wrote it
                watch.last_use, watch.pings = at, 0
                expiry = rec.expires_at if rec is not None and rec.live_at(at) else at
                self._schedule(watch, expiry - margin)
        if top >= 0 and self._count < self.max_watches:
            b = blocks[top]
            if watches is None:
                watches = self._watches[context] = {}
            if b.prefix_hash not in watches:
                watch = Watch(workspace, info, b.prefix_hash, top, tokens, "5m", at, 0.0, payload(top))
                watches[b.prefix_hash] = watch
                self._count += 1
                self._schedule(watch, _expiry(records, b.prefix_hash, at) - margin)

    def next_due(self) -> float | None:
        """When the earliest watch is checked (None when nothing is watched)."""
        due = self._due
        while due:
            when, key = due[0]
            watch = self._get(key)
            if watch is None or watch.queued != when:
                heapq.heappop(due)  # a watch dropped, or queued again earlier
            elif watch.next_check > when:  # used since it was queued: check it later
                heapq.heappop(due)
                watch.queued = math.inf
                self._schedule(watch, watch.next_check)
            else:
                return when
        return None

    def next_ping(self, until: float, *, now: float | None = None) -> Ping[T] | None:
        """The next ping to send among the watches checked before ``until``, or None.

        Each watch is decided as of its check time; those that should not be pinged are dropped
        (a later use watches the entry again). ``now``, when later than a check time, is when the
        ping would actually go out: the entry must still be live then.
        """
        settings = self.settings
        while self._due and self._due[0][0] < until:
            when, key = heapq.heappop(self._due)
            watch = self._get(key)
            if watch is None or watch.queued != when:
                continue  # a watch dropped, or queued again earlier
            watch.queued = math.inf
            if watch.next_check > when:  # used since it was queued: check it later
                self._schedule(watch, watch.next_check)
                continue
            workspace, model = watch.workspace, watch.info
            rec = self.history.records(workspace, model.id).get(watch.prefix_hash)
            sent_at = when if now is None or now < when else now
            if rec is None or not rec.live_at(when) or not rec.live_at(sent_at):
                self._drop(key)  # a ping would write the entry, not keep it
                continue
            day = self.day(when) if self.day is not None else None
            decision = decide_keepalive(
                watch.prefix_tokens,
                model,
                ttl=watch.ttl,
                last_use=watch.last_use,
                now=when,
                gaps=rec.recent_gaps or [],
                settings=settings,
                spent=self.spent,
                pings_since_use=watch.pings,
                at=day,
                chance=self._chance(rec, watch, when),
                doubt=DOUBT,
            )
            affordable = not self.budget or decision.ping_cost <= self.history.budget(
                workspace, model, at=day
            )
            if not decision.ping or decision.next_check is None or not affordable:
                self._drop(key)
                continue
            watch.pings += 1
            self.spent += decision.ping_cost
            self.pings_sent += 1
            self._schedule(watch, decision.next_check)
            return Ping(watch, when, decision)
        return None

    def pinged(self, ping: Ping[T], cost: Decimal) -> None:
        """The ping was sent and cost ``cost`` (replacing the estimate booked when it was approved)."""
        self.spent += cost - ping.decision.ping_cost

    def failed(self, ping: Ping[T]) -> None:
        """The ping could not be sent: nothing was spent, and the watch ends."""
        self.spent -= ping.decision.ping_cost
        self.pings_sent -= 1
        self._drop(ping.watch.key)

    def _chance(self, rec: PrefixRecord, watch: Watch[T], when: float) -> float | None:
        if rec.gaps >= OWN_GAPS:
            return None
        head = kind_key(rec.origin, rec.sightings, rec.depth > 0)
        odds = self.history.odds(watch.workspace, watch.info.id)
        return odds.next_window(head, watch.pings, when)

    def _schedule(self, watch: Watch[T], when: float) -> None:
        """Check ``watch`` at ``when``. A watch keeps one entry in the queue, at or before its check:
        a use that only moves the check later (the usual case) queues nothing."""
        watch.next_check = when
        if when < watch.queued:
            watch.queued = when
            heapq.heappush(self._due, (when, watch.key))
            if len(self._due) > 2 * self._count + 1024:  # entries of dropped watches, never popped
                self._due = [(w.queued, w.key) for w in self.watches() if w.queued != math.inf]
                heapq.heapify(self._due)


def _expiry(records: Mapping[str, PrefixRecord], prefix_hash: str, now: float) -> float:
    """When the history expects the entry for ``prefix_hash`` to expire (``now`` if it is not live)."""
    rec = records.get(prefix_hash)
    return rec.expires_at if rec is not None and rec.live_at(now) else now
