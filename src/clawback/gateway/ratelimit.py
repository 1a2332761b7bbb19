"""Requests and tokens per minute as token buckets, by the generic cell rate algorithm (pure).

Each scope holds two buckets, as the Claude API's own limits do: one of ``requests_per_minute``
requests and one of ``tokens_per_minute`` tokens, each refilled continuously at its limit per
minute. A bucket is kept as one number, its *theoretical arrival time* (GCRA): the time at which it
would be full again. With ``T`` seconds per request (``60 / requests_per_minute``) a request may
pass at ``now`` when ``max(tat, now) + T - now <= 60`` (the bucket holds at least one request),
and passing moves ``tat`` to ``max(tat, now) + T``. Tokens are known only when a request ends, so
its tokens (input, cache writes and output — cache reads do not count, as on the Claude API) move
the token bucket's ``tat`` by ``tokens * 60 / tokens_per_minute`` then, and a request is refused
while that bucket is empty (``tat - now >= 60``) — a request may leave it in debt, which later
requests wait out.

What that allows: a burst of at most the limit at once, then the limit per minute, spread — at
most ``limit * (1 + s / 60)`` in any ``s`` seconds. The fixed UTC-minute windows this replaces
allowed twice the limit within a second across a minute boundary. Refusals say exactly how long
to wait (``retry-after``). The state is two floats per scope, so the same check is one locked row
in PostgreSQL (:mod:`clawback.gateway.schema`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["WINDOW_S", "RateLimit", "RateWindows", "minute_of", "retry_after", "wait_seconds"]

WINDOW_S = 60.0
"""A bucket holds one minute of its limit."""
_EPSILON = 1e-9


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
    """The UTC minute number ``now`` falls in."""
    return int(now // 60)


@dataclass(slots=True)
class _Buckets:
    requests_tat: float = 0.0
    tokens_tat: float = 0.0
    limit: RateLimit | None = None


def refusal_wait(
    limit: RateLimit, requests_tat: float, tokens_tat: float, now: float
) -> tuple[str, float] | None:
    """``(reason, seconds to wait)`` when a request in a scope whose buckets stand at
    ``requests_tat``/``tokens_tat`` may not pass at ``now``; None when it may."""
    rpm, tpm = limit.requests_per_minute, limit.tokens_per_minute
    if rpm is not None:
        if rpm <= 0:
            return f"{rpm} requests per minute", WINDOW_S
        wait = max(requests_tat, now) + WINDOW_S / rpm - now - WINDOW_S
        if wait > _EPSILON:
            return f"{rpm} requests per minute", wait
    if tpm is not None:
        if tpm <= 0:
            return f"{tpm} tokens per minute", WINDOW_S
        wait = tokens_tat - now - WINDOW_S
        if wait >= -_EPSILON:
            return f"{tpm} tokens per minute", max(wait, 0.0)
    return None


def wait_seconds(wait: float) -> int:
    """``retry-after`` for a wait of ``wait`` seconds: whole seconds, at least 1."""
    return max(1, math.ceil(wait - _EPSILON))


def retry_after(now: float, wait: float | None = None) -> int:
    """Whole seconds to wait (at least 1): ``wait`` rounded up, else until the next UTC minute."""
    if wait is not None:
        return wait_seconds(wait)
    return max(1, int(60 - now % 60 + 0.999))


class RateWindows:
    """Every scope's buckets, in memory (one process)."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Buckets] = {}

    def _get(self, scope: str) -> _Buckets:
        buckets = self._buckets.get(scope)
        if buckets is None:
            buckets = self._buckets[scope] = _Buckets()
        return buckets

    def check(self, scope: str, limit: RateLimit, now: float) -> str | None:
        """Why a request in ``scope`` would be refused now (None: it may pass); counts nothing."""
        refused = self.refusal(scope, limit, now)
        return None if refused is None else refused[0]

    def refusal(self, scope: str, limit: RateLimit, now: float) -> tuple[str, float] | None:
        """:meth:`check` with the seconds to wait before a request would pass."""
        buckets = self._get(scope)
        buckets.limit = limit
        return refusal_wait(limit, buckets.requests_tat, buckets.tokens_tat, now)

    def count(self, scope: str, now: float, limit: RateLimit | None = None) -> None:
        """Count one admitted request in ``scope`` (``limit``: the scope's limits, by default those
        it was last checked against)."""
        buckets = self._get(scope)
        rpm = (limit or buckets.limit or RateLimit()).requests_per_minute
        if rpm:
            buckets.requests_tat = max(buckets.requests_tat, now) + WINDOW_S / rpm

    def add_tokens(self, scope: str, tokens: int, now: float, limit: RateLimit | None = None) -> None:
        """Count ``tokens`` a finished request used against its scope."""
        buckets = self._get(scope)
        tpm = (limit or buckets.limit or RateLimit()).tokens_per_minute
        if tokens > 0 and tpm:
            buckets.tokens_tat = max(buckets.tokens_tat, now) + tokens * WINDOW_S / tpm

    def usage(self, scope: str, now: float) -> tuple[int, int]:
        """``(requests, tokens)`` the scope's buckets hold spent at ``now`` (rounded up)."""
        buckets = self._buckets.get(scope)
        limit = buckets.limit if buckets is not None else None
        if buckets is None or limit is None:
            return 0, 0
        requests = tokens = 0
        if limit.requests_per_minute:
            held = max(0.0, buckets.requests_tat - now)
            requests = math.ceil(held * limit.requests_per_minute / WINDOW_S - _EPSILON)
        if limit.tokens_per_minute:
            held = max(0.0, buckets.tokens_tat - now)
            tokens = math.ceil(held * limit.tokens_per_minute / WINDOW_S - _EPSILON)
        return requests, tokens
