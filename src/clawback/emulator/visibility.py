"""Cache entries readable only by requests that arrived after the writing response began.

The API's rule (facts §2): "a cache entry only becomes available after the first response
begins", so identical requests fanned out at once all write. The latency model expresses that in
time (an entry is visible from ``start + ttft``), which says nothing when every timing is zero or
when the clock is manual and never moves between requests. :class:`ArrivalStore` adds the same
rule in *order*: every response that begins gets the next number; a request remembers how many
had begun when it arrived (:attr:`ArrivalStore.begun`) and, while it is evaluated, sees only the
entries whose writing response had begun by then. Sequential requests (each sent after the
previous answer) therefore read as before; requests in flight together all write.

Over HTTP with latency off, requests "sent at once" by a client still reach the server a
millisecond or so apart, after the first one's (instant) response has begun. So on a real clock a
request arriving on *another connection* also sees an entry only once the writer's modelled time
to first token (:meth:`~clawback.emulator.latency.LatencyModel.modelled_ttft`, 0.4 s plus
prefill by default) has passed in wall time since the writer arrived — what the real API would
have taken to begin. A client's sequential calls on one keep-alive connection read at once.

It is the mapping the ONE :class:`~clawback.cache.rules.CacheEngine` keeps its entries in, so the
cache rules themselves are untouched.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from clawback.cache.rules import CacheKey, Entry

__all__ = ["Arrival", "ArrivalStore"]


class Arrival(NamedTuple):
    """When a request arrived: responses begun by then, its connection, wall time (monotonic).

    ``fanout`` applies the wall-time window to other connections (a real clock with latency off).
    """

    order: int
    connection: Hashable = None
    wall: float = 0.0
    fanout: bool = False


class ArrivalStore(dict[CacheKey, Entry]):
    """A cache-entry mapping that hides entries from requests that arrived before they began."""

    def __init__(self) -> None:
        super().__init__()
        self.begun = 0
        self.reader: Arrival | None = None
        self.window = 0.0
        self._stamps: dict[CacheKey, tuple[int, Hashable, float]] = {}

    def get(self, key: CacheKey, default: Any = None) -> Any:
        """The entry, unless the request being evaluated arrived before its writer began."""
        entry = super().get(key, default)
        reader = self.reader
        if reader is None or entry is default:
            return entry
        stamp = self._stamps.get(key)
        if stamp is None:
            return entry
        order, connection, visible = stamp
        if order > reader.order or (connection != reader.connection and reader.wall < visible):
            return default
        return entry

    def __setitem__(self, key: CacheKey, value: Entry) -> None:
        writer = self.reader
        if writer is None:
            stamp: tuple[int, Hashable, float] = (self.begun + 1, None, 0.0)
        else:
            stamp = (self.begun + 1, writer.connection, writer.wall + self.window if writer.fanout else 0.0)
        old = self._stamps.get(key)
        self._stamps[key] = stamp if old is None or not super().__contains__(key) else min(old, stamp)
        super().__setitem__(key, value)

    def __delitem__(self, key: CacheKey) -> None:
        super().__delitem__(key)
        self._stamps.pop(key, None)

    def clear(self) -> None:
        """Forget every entry."""
        super().clear()
        self._stamps.clear()

    def open(self, arrival: Arrival | None) -> None:
        """Start evaluating one request that arrived at ``arrival`` (None: it sees every entry).

        Set :attr:`window` (seconds) before the commit for the wall-time window of a fan-out.
        """
        self.reader = arrival
        self.window = 0.0

    def close(self) -> None:
        """The request's response has begun: what it wrote is stamped with the next number."""
        self.reader = None
        self.begun += 1

    @contextmanager
    def responding(self, arrival: Arrival | None) -> Iterator[None]:
        """:meth:`open`, then :meth:`close` however the block ends."""
        self.open(arrival)
        try:
            yield
        finally:
            self.close()
