"""The emulator's time source: real time plus an offset, or a manual clock that moves only when told.

Cache TTLs, entry visibility, batch completion and expiry, ``created_at`` stamps and rate-limit
windows all read :meth:`VirtualClock.now`. A test advances a manual clock by five minutes and a
5-minute cache entry has expired, without waiting.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from datetime import UTC, datetime
from typing import Literal

__all__ = ["ClockMode", "VirtualClock", "iso"]

ClockMode = Literal["real", "manual"]


def iso(seconds: float) -> str:
    """An RFC 3339 timestamp (UTC, ``Z`` suffix) for epoch ``seconds``."""
    text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


class VirtualClock:
    """Seconds since the epoch, real or manual, that tests and operators can move forward.

    A real clock may run ``speed`` times faster than wall time (``speed=60``: a 5-minute TTL
    expires after 5 wall seconds); it starts at ``start`` (default: now).
    """

    def __init__(self, mode: ClockMode = "real", *, start: float | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("the clock speed must be positive")
        self.mode: ClockMode = mode
        self.speed = float(speed)
        self._lock = threading.Lock()
        self._offset = 0.0
        self._origin = time.time()
        self._start = self._origin if start is None else float(start)
        self._manual = self._start

    def now(self) -> float:
        """The current virtual time, in seconds since the epoch."""
        if self.mode == "manual":
            return self._manual
        return self._start + (time.time() - self._origin) * self.speed + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backward); returns the new time."""
        if not 0 <= seconds < math.inf:
            raise ValueError("the clock only moves forward, by a finite number of seconds")
        with self._lock:
            if self.mode == "manual":
                self._manual += seconds
            else:
                self._offset += seconds
        return self.now()

    def datetime(self) -> datetime:
        """The current virtual time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time: really in real mode, not at all in manual mode."""
        if self.mode == "real" and seconds > 0:
            await self.sleep_until(self.now() + seconds)

    async def sleep_until(self, moment: float) -> None:
        """Wait until :meth:`now` reaches ``moment`` (real mode only; never returns early)."""
        if self.mode != "real":
            return
        while (left := moment - self.now()) > 0:
            await asyncio.sleep(left / self.speed)

    def __repr__(self) -> str:
        return f"VirtualClock(mode={self.mode!r}, now={iso(self.now())})"
