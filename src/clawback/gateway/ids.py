"""Ledger record ids made cheaply: UUID version 7 from the clock, a per-process random prefix and a
counter (pure but for the clock and one ``os.urandom`` per process).

Same layout and guarantees as :func:`clawback.ledger.record.new_record_id` — sorts by creation
time, unique across processes (62 random bits per process, then a counter) — without a system
call per record, which matters at thousands of records a second.
"""

from __future__ import annotations

import itertools
import os
import time

__all__ = ["RecordIds"]


class RecordIds:
    """A source of time-ordered record ids for one process."""

    def __init__(self) -> None:
        seed = int.from_bytes(os.urandom(8), "big")
        self._rand_a = seed >> 52 & 0xFFF
        self._prefix = seed & ((1 << 40) - 1)
        self._counter = itertools.count()

    def next(self, now_ns: int | None = None) -> str:
        """A new id."""
        ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
        low = (self._prefix << 22 | next(self._counter) & 0x3FFFFF) & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | self._rand_a << 64 | 0b10 << 62 | low
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
