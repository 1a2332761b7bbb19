"""The clairvoyant bound: a cost no caching policy can beat on the same calls (pure).

For every call it takes the deepest prefix that *any* earlier call already sent (same workspace and
model, readable by then — ``ttft`` after that call started — at a cacheable position that reaches
the model's minimum) and bills it as a cache read; everything after it is plain input. No write
premium is ever paid and no entry ever expires.

Why no policy — the planner, automatic caching, an oracle that knows the future, any of them with
keep-alive pings or pre-warming requests — can cost less on the same calls under the cache rules:
an input token is billed as a read, a write or plain input, and a write never costs less than plain
input. A read needs an entry, which some earlier request wrote; so the first request to send a
prefix pays at least plain input for it. If that request is one of the calls, the bound bills it
exactly that; if it is a ping or pre-warm request, that extra request already paid at least what
the bound bills the call for the same tokens. Every later sending of the prefix pays at least the
read price, which is what the bound bills. Summed over the calls (and whatever extra requests a
policy sends), no policy pays less than the bound. It ignores what a real policy cannot
avoid (write premiums, TTL expiry, the four-breakpoint and 20-block lookback limits), which is why
it is a *bound* and not a plan: the gap between a policy and the bound is at most what better
placement could still save.
"""

from __future__ import annotations

from collections.abc import Iterable

from clawback.cache.replay import TimedShape
from clawback.cache.rules import Breakpoint, CacheEngine, CacheOutcome
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import RequestShape

__all__ = ["ClairvoyantBound"]


class ClairvoyantBound:
    """Bills each call's longest previously-sent prefix as a read and the rest as plain input."""

    name = "clairvoyant"

    def __init__(self, model: ModelInfo, *, ttft: float = 0.0) -> None:
        self.model = model
        self.ttft = ttft
        self._seen: dict[tuple[str, str, str], float] = {}
        """(workspace, model, prefix hash) -> when the first call that sent it made it readable."""

    def prepare(self, call: TimedShape, index: int, engine: CacheEngine) -> RequestShape:
        """The call as sent (its breakpoints do not matter to the bound)."""
        return call.shape

    def record(self, call: TimedShape, shape: RequestShape, outcome: CacheOutcome) -> None:
        """Nothing to learn (:meth:`bound_outcome` keeps what was sent)."""

    def pings(self, until: float) -> Iterable[TimedShape]:
        """Never pings (a ping could only cost more)."""
        return ()

    def bound_outcome(self, call: TimedShape, shape: RequestShape) -> CacheOutcome:
        """The call billed at the bound; then its prefixes count as sent."""
        minimum = self.model.min_cacheable_tokens
        model, workspace = shape.model, call.workspace
        cum: list[int] = []
        running = shape.overhead_tokens
        for b in shape.blocks:
            running += b.tokens
            cum.append(running)
        total = running
        hit: int | None = None
        for b in reversed(shape.blocks):
            if not b.cacheable or cum[b.position] < minimum:
                continue
            readable = self._seen.get((workspace, model, b.prefix_hash))
            if readable is not None and readable <= call.at:
                hit = b.position
                break
        visible = call.at + self.ttft
        for b in shape.blocks:
            if b.cacheable and cum[b.position] >= minimum:
                key = (workspace, model, b.prefix_hash)
                if self._seen.get(key, visible + 1) > visible:
                    self._seen[key] = visible
        if hit is None:
            return CacheOutcome(total, 0, 0, 0, None, (), ())
        read = cum[hit]
        mark = Breakpoint(hit, "5m", read, shape.blocks[hit].prefix_hash)
        return CacheOutcome(total - read, read, 0, 0, hit, (mark,), ())
