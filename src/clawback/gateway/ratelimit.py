"""Requests and tokens per minute, in fixed one-minute windows (pure).

A window is the UTC minute (``int(now // 60)``). A request is counted when it is admitted (a request
refused by a budget or another scope's limit is not counted); its
tokens (input, cache writes and output — cache reads do not count, as on the Claude API) when it
ends. A request is refused while its scope's window already holds ``requests_per_minute``
requests or ``tokens_per_minute`` tokens; the refusal says when the window turns over.
Fixed windows allow up to twice a limit across a window boundary; that is the documented price
of keeping the check one comparison (and one row in PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RateLimit", "RateWindows", "minute_of"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Limits of one scope (None: unlimited)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return self.requests_per_minute is not None or self.tokens_per_minute is not None


def minute_of(now: float) -> int:
    """The window (UTC minute number) ``now`` falls in."""
    return int(now // 60)


@dataclass(slots=True)
class _Window:
    minute: int
    requests: int = 0
    tokens: int = 0


class RateWindows:
    """The current window of every scope, in memory (one process)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    def _current(self, scope: str, minute: int) -> _Window:
        window = self._windows.get(scope)
        if window is None or window.minute != minute:
            window = self._windows[scope] = _Window(minute)
        return window

    def check(self, scope: str, limit: RateLimit, now: float) -> str | None:
        """Why a request in ``scope`` would be refused now (None: it may pass); counts nothing."""
        window = self._current(scope, minute_of(now))
        return refusal(limit, window.requests, window.tokens)

    def count(self, scope: str, now: float) -> None:
        """Count one admitted request in ``scope``'s current window."""
        self._current(scope, minute_of(now)).requests += 1

    def add_tokens(self, scope: str, tokens: int, now: float) -> None:
        """Count ``tokens`` a finished request used against its scope's current window."""
        if tokens > 0:
            self._current(scope, minute_of(now)).tokens += tokens

    def usage(self, scope: str, now: float) -> tuple[int, int]:
        """``(requests, tokens)`` in the current window of ``scope``."""
        window = self._windows.get(scope)
        if window is None or window.minute != minute_of(now):
            return 0, 0
        return window.requests, window.tokens


def refusal(limit: RateLimit, requests: int, tokens: int) -> str | None:
    """The limit a window at ``requests``/``tokens`` has reached, or None."""
    if limit.requests_per_minute is not None and requests >= limit.requests_per_minute:
        return f"{limit.requests_per_minute} requests per minute"
    if limit.tokens_per_minute is not None and tokens >= limit.tokens_per_minute:
        return f"{limit.tokens_per_minute} tokens per minute"
    return None


def retry_after(now: float) -> int:
    """Whole seconds until the next window (at least 1)."""
    return max(1, int(60 - now % 60 + 0.999))
