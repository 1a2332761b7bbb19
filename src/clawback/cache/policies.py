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

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Final

from clawback.cache.bound import ClairvoyantBound
from clawback.cache.economics import CacheRates
from clawback.cache.history import PrefixHistory
from clawback.cache.keepalive import KeepAliveSettings
from clawback.cache.keeper import Keeper, Ping
from clawback.cache.plan import CachePlan, ordered_marks, with_marks
from clawback.cache.planner import plan_breakpoints
from clawback.cache.prefixes import usage_of
from clawback.cache.replay import Policy, TimedShape
from clawback.cache.rules import LOOKBACK_BLOCKS, MAX_BREAKPOINTS, TTL_SECONDS, CacheEngine, CacheOutcome
from clawback.errors import UsageError
from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import price_usage
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


class PlannerPolicy:
    """The cache planner learning online, optionally keeping entries warm with pings.

    Keep-alive runs the client's own :class:`~clawback.cache.keeper.Keeper` on the same history:
    the same watches, the same decisions at the same times; a ping is the prefix with the call's
    breakpoints up to it and a small user turn after it, replayed as a call of its own.
    """

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
        self.last_plan: CachePlan | None = None
        self.keeper: Keeper[RequestShape] | None = (
            Keeper(self.history, keepalive, day=lambda _: day, budget=budget)
            if keepalive is not None
            else None
        )
        self._sending: Ping[RequestShape] | None = None

    @property
    def ping_spend(self) -> Decimal:
        """What the keep-alive pings sent so far cost."""
        return self.keeper.spent if self.keeper is not None else Decimal(0)

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
            task=call.task,
        )
        self.last_plan = plan
        return plan.apply_to(call.shape)

    def record(self, call: TimedShape, shape: RequestShape, outcome: CacheOutcome) -> None:
        """Feed the history; start or renew keep-alive watches (book a ping's cost)."""
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
            task=call.task,
        )
        keeper = self.keeper
        if keeper is None:
            return
        if call.ping:
            if self._sending is not None:
                usage = usage_of(outcome, call.output_tokens)
                keeper.pinged(self._sending, price_usage(usage, self.model, at=self.day).total)
                self._sending = None
            return
        plan = self.last_plan
        keeper.observed(
            shape,
            plan.marks if plan is not None else {},
            call.at,
            info=self.model,
            workspace=call.workspace,
            payload=lambda _: shape,  # the ping is built from it only when one is sent
        )

    def pings(self, until: float) -> Iterator[TimedShape]:
        """The pings the keeper approves among the entries due before ``until``."""
        keeper, settings = self.keeper, self.keepalive
        if keeper is None or settings is None:
            return
        while (ping := keeper.next_ping(until)) is not None:
            self._sending = ping
            output = 0 if settings.max_tokens_zero else 1
            watch = ping.watch
            shape = _ping_shape(watch.payload, watch.position, settings)
            yield TimedShape(ping.at, shape, output, watch.workspace, ping=True)


def _ping_shape(shape: RequestShape, position: int, settings: KeepAliveSettings) -> RequestShape:
    """A ping of the prefix ending at ``position`` of the call that started the watch: that call's
    breakpoints up to it, 5 minutes on it (as the client's
    :func:`~clawback.cache.prewarm.prefix_request` sends it)."""
    tokens = settings.ping_input_tokens
    marks: dict[int, Ttl] = {
        b.position: b.cache_ttl for b in shape.blocks[:position] if b.cache_ttl is not None
    }
    marks.setdefault(position, shape.blocks[position].cache_ttl or "5m")
    return with_marks(_head(shape, position, tokens), marks)


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
