"""Replay timestamped request shapes through the cache rules under a caching policy (pure).

:func:`replay` runs calls, in order, through one :class:`~clawback.cache.rules.CacheEngine`
(the same engine the emulator and the audit use): a policy decides each call's breakpoints, the
engine decides what is read and written, and each call comes back as a :class:`CallResult` with
its usage and its exact Decimal cost from :func:`~clawback.pricing.cost.price_usage`, beside what
the same call would have cost with nothing cached. It is a generator: it holds one call at a time
(plus the engine's live entries, purged as they expire), so an audit can stream millions of calls
and fold them into a :class:`ReplayTotals`.

Policies (:mod:`clawback.cache.policies`): ``none`` strips every breakpoint, ``auto`` sends
top-level automatic caching (5 minutes), ``planner`` runs :func:`plan_breakpoints` on a
:class:`PrefixHistory` fed only with calls already replayed, ``oracle`` places breakpoints knowing
every prefix's future uses (a heuristic, not an optimum), and ``clairvoyant`` is not a policy but a
bound no policy can beat (:mod:`clawback.cache.bound`), billed by the bound itself rather than the
engine. A policy may also emit keep-alive pings; they are replayed and costed as calls of their own
(``CallResult.ping``).

Time to first token is ``ttft`` seconds (0 by default): an entry a call writes becomes readable
that long after the call starts, so calls closer together than that all write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from clawback.cache.prefixes import usage_of
from clawback.cache.rules import CacheEngine, CacheOutcome
from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import Usage, price_usage
from clawback.shapes import RequestShape, shape_from_hash_blocks

__all__ = [
    "CallResult",
    "Policy",
    "ReplayTotals",
    "TimedShape",
    "replay",
    "summarize",
    "trace_calls",
]

_PURGE_EVERY = 4096


@dataclass(frozen=True, slots=True)
class TimedShape:
    """One call to replay: when it started (seconds), its shape, its output tokens and workspace."""

    at: float
    shape: RequestShape
    output_tokens: int = 0
    workspace: str = "default"
    ping: bool = False
    """A keep-alive ping a policy sent, not a call of the workload."""
    task: str | None = None
    """The caller's label for the call (``task=``), if it has one: evidence for the planner."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one replayed call read, wrote and cost, against the same call uncached."""

    index: int
    at: float
    usage: Usage
    cost: Decimal
    uncached_cost: Decimal
    hit_position: int | None
    breakpoints: tuple[int, ...]
    ping: bool = False

    @property
    def saving(self) -> Decimal:
        """Uncached cost minus actual cost (negative when caching cost more)."""
        return self.uncached_cost - self.cost


class Policy(Protocol):
    """Decides each call's breakpoints; learns from what the cache did."""

    name: str

    def prepare(self, call: TimedShape, index: int, engine: CacheEngine) -> RequestShape:
        """The shape to send for ``call``: its blocks with this policy's breakpoints."""
        ...

    def record(self, call: TimedShape, shape: RequestShape, outcome: CacheOutcome) -> None:
        """Learn from a call that was served (pings included)."""
        ...

    def pings(self, until: float) -> Iterable[TimedShape]:
        """Keep-alive pings due before ``until`` (each is replayed and costed as a call)."""
        ...


@dataclass(slots=True)
class ReplayTotals:
    """Running totals of a replay (an accumulator: :meth:`add` one result at a time)."""

    policy: str = ""
    calls: int = 0
    pings: int = 0
    cost: Decimal = Decimal(0)
    uncached_cost: Decimal = Decimal(0)
    ping_cost: Decimal = Decimal(0)
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    hits: int = 0
    peak_excess: Decimal = Decimal(0)
    """The most the policy was ever behind sending every call so far uncached (pings included)."""

    def add(self, result: CallResult) -> None:
        """Fold one call into the totals; a ping adds cost but is not a call of the workload."""
        u = result.usage
        self.cost += result.cost
        self.cache_write_5m_tokens += u.cache_write_5m_input_tokens
        self.cache_write_1h_tokens += u.cache_write_1h_input_tokens
        if result.ping:
            self.pings += 1
            self.ping_cost += result.cost
        else:
            self.cache_read_tokens += u.cache_read_input_tokens  # a ping's read is no hit of the workload
            self.calls += 1
            self.uncached_cost += result.uncached_cost
            self.input_tokens += u.prompt_tokens
            self.hits += u.cache_read_input_tokens > 0
        excess = self.cost - self.uncached_cost
        if excess > self.peak_excess:
            self.peak_excess = excess

    @property
    def saving(self) -> Decimal:
        """What the policy saved against sending every call uncached (pings count as cost)."""
        return self.uncached_cost - self.cost

    @property
    def hit_rate(self) -> float:
        """Share of the workload's input tokens read from the cache."""
        return self.cache_read_tokens / self.input_tokens if self.input_tokens else 0.0

    def to_json(self) -> dict[str, Any]:
        """Decimal strings and counts, for JSON output."""
        return {
            "policy": self.policy,
            "calls": self.calls,
            "pings": self.pings,
            "cost_usd": str(self.cost),
            "uncached_cost_usd": str(self.uncached_cost),
            "saving_usd": str(self.saving),
            "ping_cost_usd": str(self.ping_cost),
            "input_tokens": self.input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_5m_tokens": self.cache_write_5m_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
            "hit_rate": round(self.hit_rate, 6),
            "peak_excess_usd": str(self.peak_excess),
        }


def replay(
    calls: Iterable[TimedShape],
    policy: Policy,
    model: ModelInfo,
    *,
    day: date | None = None,
    ttft: float = 0.0,
    engine: CacheEngine | None = None,
) -> Iterator[CallResult]:
    """Replay ``calls`` (in start-time order) under ``policy`` on ``model``, one result per call or ping.

    ``day`` picks the rates (the latest by default); ``engine`` may be passed to inspect or
    pre-load the cache.
    """
    eng = engine if engine is not None else CacheEngine()
    minimum = model.min_cacheable_tokens
    uncached_memo: dict[tuple[int, int], Decimal] = {}

    bound = getattr(policy, "bound_outcome", None)

    def serve(call: TimedShape, shape: RequestShape, index: int, ping: bool) -> CallResult:
        if bound is not None:  # a bound bills calls itself (see clawback.cache.bound)
            outcome = bound(call, shape)
        else:
            outcome = eng.process(
                shape, workspace=call.workspace, min_tokens=minimum, start=call.at, visible_at=call.at + ttft
            )
        policy.record(call, shape, outcome)
        usage = usage_of(outcome, call.output_tokens)
        key = (usage.prompt_tokens, usage.output_tokens)
        uncached = uncached_memo.get(key)
        if uncached is None:
            plain = Usage(input_tokens=key[0], output_tokens=key[1])
            uncached = uncached_memo[key] = price_usage(plain, model, at=day).total
            if len(uncached_memo) > 65_536:
                uncached_memo.clear()
        cost = price_usage(usage, model, at=day).total
        return CallResult(
            index, call.at, usage, cost, uncached, outcome.hit_position, shape.breakpoints, ping
        )

    for index, call in enumerate(calls):
        for ping in policy.pings(call.at):
            yield serve(ping, ping.shape, index, True)
        yield serve(call, policy.prepare(call, index, eng), index, False)
        if index % _PURGE_EVERY == _PURGE_EVERY - 1:
            eng.purge(call.at)


def summarize(results: Iterable[CallResult], policy: str = "") -> ReplayTotals:
    """Totals of a whole replay."""
    totals = ReplayTotals(policy=policy)
    for result in results:
        totals.add(result)
    return totals


def trace_calls(
    rows: Iterable[Mapping[str, Any]],
    model: str,
    *,
    block_tokens: int = 512,
    time_scale: float = 0.001,
    limit: int | None = None,
) -> Iterator[TimedShape]:
    """Calls from parsed Mooncake-style trace rows (``timestamp``, ``input_length``, ``output_length``,
    ``hash_ids``): each hash block is one content block; timestamps are scaled to seconds
    (milliseconds by default)."""
    for count, row in enumerate(rows):
        if limit is not None and count >= limit:
            return
        shape = shape_from_hash_blocks(
            model, row["hash_ids"], int(row["input_length"]), block_tokens=block_tokens
        )
        yield TimedShape(float(row["timestamp"]) * time_scale, shape, int(row.get("output_length", 0)))
