"""Cache entries readable only by requests that arrived after the writing response began.

The API's rule (facts §2): "a cache entry only becomes available after the first response
begins", so identical requests fanned out at once all write. The latency model expresses that in
time (an entry is visible from ``start + ttft``), which says nothing when every timing is zero.
:class:`ArrivalStore` adds the same rule in *order*: every response that begins gets the next
number; a request remembers how many had begun when it arrived (:attr:`ArrivalStore.begun`) and,
while it is evaluated, sees only the entries whose writing response had begun by then.
Sequential requests (each sent after the previous answer) therefore read as before; requests in
flight together all write.

With latency off, requests "sent at once" over HTTP still reach the server a millisecond or so
apart, after the first one's (instant) response has begun; on the API that response would not
have begun for hundreds of milliseconds. So a request arriving on *another connection* also sees
an entry only once the writer's modelled time to first token
(:meth:`~clawback.emulator.latency.LatencyModel.modelled_ttft`, 0.4 s plus prefill by default) has
passed on the emulator's clock since the writer arrived — what the real API would have taken to
begin. On a manual clock that holds until the clock is advanced, so a fan-out writes however
its requests are spread in wall time, deterministically. A client's sequential calls on one
keep-alive connection read at once (HTTP/1.1 sends the next request on a connection only after
the previous answer).

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
    """When a request arrived: responses begun by then, its connection, the clock's time.

    ``fanout`` applies the time-to-first-token window to other connections (latency off).
    """

    order: int
    connection: Hashable = None
    at: float = 0.0
    fanout: bool = False


class _Stamp:
    """Who wrote an entry and when it became visible: the earliest write, and per connection."""

    __slots__ = ("order", "visible", "writers")

    def __init__(self, order: int, visible: float, connection: Hashable) -> None:
        self.order = order  # the first writing response's number
        self.visible = visible  # from when other connections see it (clock time)
        self.writers = {connection: order}  # connection → its first writing response's number

    def add(self, order: int, visible: float, connection: Hashable) -> None:
        self.order = min(self.order, order)
        self.visible = min(self.visible, visible)
        self.writers[connection] = min(self.writers.get(connection, order), order)

    def seen_by(self, reader: Arrival) -> bool:
        if self.order <= reader.order and reader.at >= self.visible:
            return True
        own = self.writers.get(reader.connection)
        return own is not None and own <= reader.order


class ArrivalStore(dict[CacheKey, Entry]):
    """A cache-entry mapping that hides entries from requests that arrived before they began."""

    def __init__(self) -> None:
        super().__init__()
        self.begun = 0
        self.reader: Arrival | None = None
        self.window = 0.0
        self._stamps: dict[CacheKey, _Stamp] = {}

    def get(self, key: CacheKey, default: Any = None) -> Any:
        """The entry, unless the request being evaluated arrived before its writer began."""
        entry = super().get(key, default)
        reader = self.reader
        if reader is None or entry is default:
            return entry
        stamp = self._stamps.get(key)
        if stamp is None or stamp.seen_by(reader):
            return entry
        return default

    def __setitem__(self, key: CacheKey, value: Entry) -> None:
        writer = self.reader
        order = self.begun + 1
        if writer is None:
            connection: Hashable = None
            visible = 0.0
        else:
            connection = writer.connection
            visible = writer.at + self.window if writer.fanout else 0.0
        stamp = self._stamps.get(key)
        if stamp is None or not super().__contains__(key):
            self._stamps[key] = _Stamp(order, visible, connection)
        else:
            stamp.add(order, visible, connection)
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

        Set :attr:`window` (seconds) before the commit for the time-to-first-token window of a fan-out.
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
