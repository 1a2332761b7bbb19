"""Caching policies for :func:`~clawback.cache.replay.replay` (pure).

* ``none`` — every breakpoint stripped: the baseline every other policy is measured against.
* ``auto`` — top-level automatic caching (one 5-minute breakpoint on the last block, moving
  forward with the conversation), the caller's own marks stripped.
* ``planner`` — :func:`~clawback.cache.planner.plan_breakpoints` on a
  :class:`~clawback.cache.history.PrefixHistory` that has seen only the calls already replayed
  (exactly what the client sees), optionally with keep-alive pings under a spend cap.
* ``oracle`` — knows, for every prefix of every call, when the same prefix is next used and how
  many uses follow within an hour of each other. Per call it writes the deepest prefix that will be
  read again within 5 minutes, or (when that is worth more) the deepest one used at least twice more
  within an hour at 1 hour; adds the read anchor, then branch points (positions reused sooner than
  the block after them) and live entries behind the read that will be used again; and goes through
  the same engine under the same rules (4 breakpoints, the minimum, the 20-block lookback, 1-hour
  marks first). It is a *heuristic* with perfect foresight, not an optimum: the planner can beat it
  on some traces.
* ``clairvoyant`` — not a policy but a bound no policy can beat on the same calls, pings included:
  :class:`~clawback.cache.bound.ClairvoyantBound`.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Final

from clawback.cache.bound import ClairvoyantBound
from clawback.cache.economics import CacheRates
from clawback.cache.history import PrefixHistory
from clawback.cache.keepalive import KeepAliveSettings, decide_keepalive
from clawback.cache.odds import kind_key
from clawback.cache.plan import CachePlan, ordered_marks, with_marks
from clawback.cache.planner import plan_breakpoints
from clawback.cache.prefixes import PrefixRecord
from clawback.cache.replay import Policy, TimedShape
from clawback.cache.rules import LOOKBACK_BLOCKS, MAX_BREAKPOINTS, TTL_SECONDS, CacheEngine, CacheOutcome
from clawback.errors import UsageError
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import BlockShape, RequestShape, Ttl

__all__ = [
    "POLICIES",
    "AutoCaching",
    "ClairvoyantBound",
    "NoCaching",
    "OraclePolicy",
    "PlannerPolicy",
    "make_policy",
]

_OWN_GAPS: Final = 3
"""Gaps a prefix needs before keep-alive goes by its own gaps rather than its kind's odds."""

_DOUBT: Final = 1.0
"""Keep-alive from a prefix's own gaps counts one more past gap that never ended: no use is certain."""

POLICIES: Final = ("none", "auto", "planner", "oracle", "first-sighting oracle", "clairvoyant")


def _strip(shape: RequestShape, auto: Ttl | None) -> RequestShape:
    if not shape.breakpoints:
        return shape if shape.auto_cache_ttl == auto else replace(shape, auto_cache_ttl=auto)
    return with_marks(shape, {}, auto=auto)


class NoCaching:
    """No breakpoints at all."""

    name = "none"

    def prepare(self, call: TimedShape, index: int, engine: CacheEngine) -> RequestShape:
        """The call with every breakpoint removed."""
        return _strip(call.shape, None)

    def record(self, call: TimedShape, shape: RequestShape, outcome: CacheOutcome) -> None:
        """Nothing to learn."""

    def pings(self, until: float) -> Iterable[TimedShape]:
        """Never pings."""
        return ()


class AutoCaching:
    """Top-level automatic caching only."""

    name = "auto"

    def __init__(self, ttl: Ttl = "5m") -> None:
        self.ttl: Ttl = ttl

    def prepare(self, call: TimedShape, index: int, engine: CacheEngine) -> RequestShape:
        """The call with only ``cache_control`` at the top level."""
        return _strip(call.shape, self.ttl)

    def record(self, call: TimedShape, shape: RequestShape, outcome: CacheOutcome) -> None:
        """Nothing to learn."""

    def pings(self, until: float) -> Iterable[TimedShape]:
        """Never pings."""
        return ()


@dataclass(slots=True)
class _Watch:
    prefix: RequestShape
    hash: str
    workspace: str
    ttl: Ttl
    last_use: float
    next_check: float
    pings: int = 0


class PlannerPolicy:
    """The cache planner learning online, optionally keeping entries warm with pings."""

    name = "planner"

    def __init__(
        self,
        model: ModelInfo,
        *,
        history: PrefixHistory | None = None,
        day: date | None = None,
        keepalive: KeepAliveSettings | None = None,
        budget: bool = True,
        ttft: float = 0.0,
        explain: bool = True,
    ) -> None:
        self.model = model
        self.ttft = ttft
        self.explain = explain
        self.history = history if history is not None else PrefixHistory()
        self.day = day
        self.keepalive = keepalive
        self.budget = budget
        self.ping_spend = Decimal(0)
        self.last_plan: CachePlan | None = None
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._due: list[tuple[float, str, str]] = []

    def prepare(self, call: TimedShape, index: int, engine: CacheEngine) -> RequestShape:
        """Plan the call's breakpoints from what the history has seen so far."""
        plan = plan_breakpoints(
            call.shape,
            self.model,
            self.history,
            now=call.at,
            workspace=call.workspace,
            day=self.day,
            keepalive=self.keepalive is not None,
            budget=self.budget,
            explain=self.explain,
        )
        self.last_plan = plan
        return plan.apply_to(call.shape)

    def record(self, call: TimedShape, shape: RequestShape, outcome: CacheOutcome) -> None:
        """Feed the history; start or renew keep-alive watches."""
        self.history.observe(
            shape,
            outcome,
            call.at,
            info=self.model,
            workspace=call.workspace,
            day=self.day,
            visible_at=call.at + self.ttft,
            ping=call.ping,
            extra_output=call.output_tokens if call.ping else 0,
        )
        if self.keepalive is None or call.ping:
            return
        records = self.history.records(call.workspace, self.model.id)
        margin = self.keepalive.margin
        plan = self.last_plan
        watched = set(plan.keepalive) if plan is not None else set()
        if plan is not None and plan.marks:  # the entry the next call of this conversation would read
            deepest = max(plan.marks)
            rec = records.get(shape.blocks[deepest].prefix_hash)
            if rec is not None and rec.live_at(call.at) and rec.entry_ttl == "5m":
                watched.add(deepest)
        top = max(watched, default=-1)
        for b in shape.blocks:
            key = (call.workspace, b.prefix_hash)
            watch = self._watches.get(key)
            if watch is None:
                continue
            if b.position < top and not _shared(records, b.prefix_hash):
                del self._watches[key]  # a deeper entry of the same request is kept warm instead
                continue
            # a use of the prefix; the entry itself lives on only if this call read or wrote it
            watch.last_use, watch.pings = call.at, 0
            self._schedule(watch, _expiry(records, b.prefix_hash, call.at) - margin)
        for position in sorted(watched):
            b = shape.blocks[position]
            if (call.workspace, b.prefix_hash) not in self._watches:
                head = _head(shape, position, self.keepalive.ping_input_tokens)
                prefix = with_marks(head, {position: "5m"})
                watch = _Watch(prefix, b.prefix_hash, call.workspace, "5m", call.at, 0.0)
                self._watches[(call.workspace, b.prefix_hash)] = watch
                self._schedule(watch, _expiry(records, b.prefix_hash, call.at) - margin)

    def _schedule(self, watch: _Watch, when: float) -> None:
        watch.next_check = when
        heapq.heappush(self._due, (when, watch.workspace, watch.hash))

    def pings(self, until: float) -> Iterator[TimedShape]:
        """Pings whose check falls before ``until`` and that :func:`decide_keepalive` approves."""
        settings = self.keepalive
        while settings is not None and self._due and self._due[0][0] < until:
            when, workspace, prefix_hash = heapq.heappop(self._due)
            watch = self._watches.get((workspace, prefix_hash))
            if watch is None or watch.next_check != when:
                continue
            rec = self.history.records(workspace, self.model.id).get(prefix_hash)
            if rec is None or not rec.live_at(when):  # a ping would write the entry, not keep it
                del self._watches[(workspace, prefix_hash)]
                continue
            chance = None
            if rec.gaps < _OWN_GAPS:  # too few gaps of its own: the odds of its kind
                head = kind_key(rec.origin, rec.sightings, rec.depth > 0)
                odds = self.history.odds(workspace, self.model.id)
                chance = odds.next_window(head, watch.pings, when)
            decision = decide_keepalive(
                watch.prefix.total_tokens - settings.ping_input_tokens,
                self.model,
                ttl=watch.ttl,
                last_use=watch.last_use,
                now=when,
                gaps=rec.recent_gaps or [],
                settings=settings,
                spent=self.ping_spend,
                pings_since_use=watch.pings,
                at=self.day,
                chance=chance,
                doubt=_DOUBT,
            )
            affordable = decision.ping_cost <= self.history.budget(workspace, self.model, at=self.day)
            if not decision.ping or decision.next_check is None or (self.budget and not affordable):
                del self._watches[(workspace, prefix_hash)]
                continue
            self.ping_spend += decision.ping_cost
            watch.pings += 1
            self._schedule(watch, decision.next_check)
            output = 0 if settings.max_tokens_zero else 1
            yield TimedShape(when, watch.prefix, output, workspace, ping=True)


def _shared(records: Mapping[str, PrefixRecord], prefix_hash: str) -> bool:
    rec = records.get(prefix_hash)
    return rec is not None and rec.shared()


def _expiry(records: Mapping[str, PrefixRecord], prefix_hash: str, now: float) -> float:
    """When the history expects the entry for ``prefix_hash`` to expire (``now`` if it is not live)."""
    rec = records.get(prefix_hash)
    return rec.expires_at if rec is not None and rec.live_at(now) else now


def _head(shape: RequestShape, position: int, tokens: int) -> RequestShape:
    """The prefix up to ``position`` plus a small ping turn after it."""
    last = shape.blocks[position]
    ping = BlockShape(
        level="messages",
        position=position + 1,
        kind="text",
        content_hash="ping",
        prefix_hash=f"{last.prefix_hash}:ping",
        tokens=tokens,
        role="user",
    )
    return replace(shape, blocks=(*shape.blocks[: position + 1], ping), auto_cache_ttl=None)


class OraclePolicy:
    """Breakpoints placed knowing every prefix's future uses (a heuristic; see the module doc).

    With ``first_sighting=True`` it is the *first-sighting oracle*: the same foresight, but it may
    write only prefixes an earlier call already sent (readable by now), as an online policy that
    learns from sightings could: a fair reference for the planner, not a ceiling.
    """

    name = "oracle"

    def __init__(
        self,
        calls: Sequence[TimedShape],
        model: ModelInfo,
        *,
        day: date | None = None,
        ttft: float = 0.0,
        first_sighting: bool = False,
    ):
        self.model = model
        self.ttft = ttft
        self.ratios = CacheRates.of(model, at=day).ratios()
        self._future = _future_uses(calls)
        self._sent: dict[tuple[str, str, str], float] | None = {} if first_sighting else None
        if first_sighting:
            self.name = "first-sighting oracle"

    def prepare(self, call: TimedShape, index: int, engine: CacheEngine) -> RequestShape:
        """The call with the breakpoints an oracle would place."""
        gaps, chains = self._future[index]
        shape = call.shape
        caller = {b.position: b.cache_ttl for b in shape.blocks if b.cache_ttl is not None}
        live = _live_positions(shape, engine, call.workspace, call.at)
        sent = self._sent
        allowed = None
        if sent is not None:
            key = (call.workspace, shape.model)
            allowed = {
                b.position for b in shape.blocks if sent.get((*key, b.prefix_hash), math.inf) <= call.at
            }
        marks = _oracle_marks(
            self, shape, (gaps, chains), live, slots=MAX_BREAKPOINTS - len(caller), allowed=allowed
        )
        return with_marks(shape, ordered_marks({**marks, **caller}, caller), auto=shape.auto_cache_ttl)

    def record(self, call: TimedShape, shape: RequestShape, outcome: CacheOutcome) -> None:
        """Only the first-sighting oracle learns: which prefixes have been sent, and from when."""
        sent = self._sent
        if sent is None or call.ping:
            return
        visible = call.at + self.ttft
        for b in shape.blocks:
            key = (call.workspace, shape.model, b.prefix_hash)
            if sent.get(key, math.inf) > visible:
                sent[key] = visible

    def pings(self, until: float) -> Iterable[TimedShape]:
        """Never pings."""
        return ()


def _future_uses(calls: Sequence[TimedShape]) -> list[tuple[array[float], array[int]]]:
    """Per call and position: seconds to the prefix's next use, and the run of uses each within an hour."""
    later: dict[tuple[str, str, str], tuple[float, int]] = {}
    out: list[tuple[array[float], array[int]]] = [(array("d"), array("l"))] * len(calls)
    for index in range(len(calls) - 1, -1, -1):
        call = calls[index]
        gaps, chains = array("d"), array("l")
        for b in call.shape.blocks:
            key = (call.workspace, call.shape.model, b.prefix_hash)
            nxt = later.get(key)
            gap = math.inf if nxt is None else nxt[0] - call.at
            chain = 0 if nxt is None or gap >= TTL_SECONDS["1h"] else nxt[1] + 1
            gaps.append(gap)
            chains.append(chain)
            later[key] = (call.at, chain)
        out[index] = (gaps, chains)
    return out


def _live_positions(
    shape: RequestShape, engine: CacheEngine, workspace: str, at: float
) -> list[tuple[int, Ttl]]:
    store = engine.store
    out: list[tuple[int, Ttl]] = []
    for b in shape.blocks:
        entry = store.get((workspace, shape.model, b.prefix_hash))
        if entry is not None and entry.live_at(at):
            out.append((b.position, entry.ttl))
    return out


def _oracle_marks(
    oracle: OraclePolicy,
    shape: RequestShape,
    future: tuple[Sequence[float], Sequence[int]],
    live: list[tuple[int, Ttl]],
    *,
    slots: int,
    allowed: set[int] | None = None,
) -> dict[int, Ttl]:
    """Where the oracle puts its breakpoints for one call (see the module docstring)."""
    gaps, chains = future
    cum: list[int] = []
    running = shape.overhead_tokens
    for b in shape.blocks:
        running += b.tokens
        cum.append(running)
    anchor = live[-1][0] if live else None
    base = cum[anchor] if anchor is not None else 0
    ttft, r = oracle.ttft, oracle.ratios
    cands = [
        b.position
        for b in shape.blocks[(anchor if anchor is not None else -1) + 1 :]
        if b.cacheable
        and cum[b.position] >= oracle.model.min_cacheable_tokens
        and (allowed is None or b.position in allowed)
    ]
    c5 = max((p for p in cands if ttft <= gaps[p] < TTL_SECONDS["5m"]), default=None)
    c60 = max((p for p in cands if ttft <= gaps[p] < TTL_SECONDS["1h"] and chains[p] >= 2), default=None)
    v5 = (cum[c5] - base) * (r.read_saving - r.premium_5m) if c5 is not None else 0.0
    v60 = (cum[c60] - base) * (2 * r.read_saving - r.premium_1h) if c60 is not None else 0.0
    marks: dict[int, Ttl] = {}
    deepest: int | None = None
    ttl: Ttl = "5m"
    if v60 > max(v5, 0.0):
        deepest, ttl = c60, "1h"
    elif v5 > 0:
        deepest = c5
    if deepest is not None and slots > 0:
        marks[deepest] = ttl
    if (
        anchor is not None
        and len(marks) < slots
        and not any(anchor <= m < anchor + LOOKBACK_BLOCKS for m in marks)
    ):
        marks[anchor] = live[-1][1]
    if deepest is not None:
        life = TTL_SECONDS[ttl]
        branches = [p for p in cands if p < deepest and gaps[p] < gaps[p + 1] and ttft <= gaps[p] < life]
        for p in sorted(branches, key=lambda p: gaps[p]):
            if len(marks) >= slots:
                break
            marks[p] = ttl
    behind = [(p, t) for p, t in live[:-1] if ttft <= gaps[p] < TTL_SECONDS[t]]
    for p, t in sorted(behind, key=lambda item: gaps[item[0]]):
        if len(marks) >= slots:
            break
        marks.setdefault(p, t)
    return marks


def make_policy(
    name: str,
    model: ModelInfo,
    *,
    calls: Sequence[TimedShape] | None = None,
    history: PrefixHistory | None = None,
    day: date | None = None,
    keepalive: KeepAliveSettings | None = None,
    ttft: float = 0.0,
) -> Policy:
    """A policy by name: ``none``, ``auto``, ``planner``, ``oracle`` (which needs ``calls``) or the
    ``clairvoyant`` bound."""
    if name == "none":
        return NoCaching()
    if name == "auto":
        return AutoCaching()
    if name == "planner":
        return PlannerPolicy(model, history=history, day=day, keepalive=keepalive, ttft=ttft)
    if name in ("oracle", "first-sighting oracle"):
        if calls is None:
            raise UsageError(f"the {name} policy needs the whole sequence of calls (it sees the future)")
        return OraclePolicy(calls, model, day=day, ttft=ttft, first_sighting=name != "oracle")
    if name == "clairvoyant":
        return ClairvoyantBound(model, ttft=ttft)
    raise UsageError(f"unknown caching policy {name!r}; choose one of {', '.join(POLICIES)}")
