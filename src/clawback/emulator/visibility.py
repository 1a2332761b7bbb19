"""Cache entries readable only by requests that arrived after the writing response began.

The API's rule (facts §2): "a cache entry only becomes available after the first response
begins", so identical requests fanned out at once all write. The latency model expresses that in
time (an entry is visible from ``start + ttft``), which says nothing when every timing is zero or
when the clock is manual and never moves between requests. :class:`ArrivalStore` adds the same
rule in *order*: every response that begins gets the next number; a request remembers how many
had begun when it arrived (:attr:`ArrivalStore.begun`) and, while it is evaluated, sees only the
entries whose writing response had begun by then. Sequential requests (each sent after the
previous answer) therefore read as before; requests in flight together all write.

It is the mapping the ONE :class:`~clawback.cache.rules.CacheEngine` keeps its entries in, so the
cache rules themselves are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from clawback.cache.rules import CacheKey, Entry

__all__ = ["ArrivalStore"]


class ArrivalStore(dict[CacheKey, Entry]):
    """A cache-entry mapping that hides entries from requests that arrived before they began."""

    def __init__(self) -> None:
        super().__init__()
        self.begun = 0
        self.reader: int | None = None
        self._stamps: dict[CacheKey, int] = {}

    def get(self, key: CacheKey, default: Any = None) -> Any:
        """The entry, unless the request being evaluated arrived before its writer began."""
        entry = super().get(key, default)
        if self.reader is not None and entry is not default and self._stamps.get(key, 0) > self.reader:
            return default
        return entry

    def __setitem__(self, key: CacheKey, value: Entry) -> None:
        stamp = self.begun + 1
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

    @contextmanager
    def responding(self, arrival: int | None) -> Iterator[None]:
        """Evaluate and commit one request that arrived at ``arrival`` (None: sees every entry).

        Entries it writes are stamped as begun with its response, which this counts on exit.
        """
        self.reader = arrival
        try:
            yield
        finally:
            self.reader = None
            self.begun += 1
