"""The ``anthropic-ratelimit-*`` headers, from fixed one-minute windows on the virtual clock.

Each workspace has a request, input-token and output-token budget per minute (``Limits``). Input
tokens are uncached input plus cache writes; cache reads do not count, as for most models. Every
``/v1`` response carries the limit, what remains and when the window resets (RFC 3339); with
``enforce_rate_limits`` a request over budget gets 429 ``rate_limit_error`` and ``retry-after``.
"""

from __future__ import annotations

import math

from clawback.emulator.clock import iso
from clawback.emulator.config import Limits
from clawback.emulator.wire import ApiError

__all__ = ["RateLimiter"]

_WINDOW = 60.0


class RateLimiter:
    """Per-workspace budgets in one-minute windows."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._used: dict[str, list[float]] = {}
        self._reset_text: tuple[int, str] = (-1, "")

    def _slot(self, workspace: str, now: float) -> list[float]:
        window = now // _WINDOW
        used = self._used.get(workspace)
        if used is None or used[0] != window:
            used = [window, 0.0, 0.0, 0.0]
            self._used[workspace] = used
        return used

    def check(self, workspace: str, now: float) -> None:
        """429 when enforcement is on and the workspace's budget is spent."""
        if not self.limits.enforce_rate_limits:
            return
        _, requests, inputs, outputs = self._slot(workspace, now)
        lim = self.limits
        if (
            requests >= lim.requests_per_minute
            or inputs >= lim.input_tokens_per_minute
            or outputs >= lim.output_tokens_per_minute
        ):
            wait = max(1, math.ceil((now // _WINDOW + 1) * _WINDOW - now))
            raise ApiError(
                429,
                "This request would exceed your organization's rate limit (emulated). "
                "Please wait before retrying.",
                headers={"retry-after": str(wait)},
            )

    def charge(self, workspace: str, now: float, *, input_tokens: int = 0, output_tokens: int = 0) -> None:
        """Count one request and its tokens."""
        used = self._slot(workspace, now)
        used[1] += 1
        used[2] += input_tokens
        used[3] += output_tokens

    def headers(self, workspace: str, now: float) -> dict[str, str]:
        """The rate-limit headers for a response."""
        _, requests, inputs, outputs = self._slot(workspace, now)
        lim = self.limits
        window = int(now // _WINDOW)
        if self._reset_text[0] != window:
            self._reset_text = (window, iso((window + 1) * _WINDOW))
        reset = self._reset_text[1]
        in_left = max(0, lim.input_tokens_per_minute - int(inputs))
        out_left = max(0, lim.output_tokens_per_minute - int(outputs))
        tighter = (
            (lim.input_tokens_per_minute, in_left)
            if in_left <= out_left
            else (lim.output_tokens_per_minute, out_left)
        )
        return {
            "anthropic-ratelimit-requests-limit": str(lim.requests_per_minute),
            "anthropic-ratelimit-requests-remaining": str(max(0, lim.requests_per_minute - int(requests))),
            "anthropic-ratelimit-requests-reset": reset,
            "anthropic-ratelimit-tokens-limit": str(tighter[0]),
            "anthropic-ratelimit-tokens-remaining": str(tighter[1]),
            "anthropic-ratelimit-tokens-reset": reset,
            "anthropic-ratelimit-input-tokens-limit": str(lim.input_tokens_per_minute),
            "anthropic-ratelimit-input-tokens-remaining": str(in_left),
            "anthropic-ratelimit-input-tokens-reset": reset,
            "anthropic-ratelimit-output-tokens-limit": str(lim.output_tokens_per_minute),
            "anthropic-ratelimit-output-tokens-remaining": str(out_left),
            "anthropic-ratelimit-output-tokens-reset": reset,
        }

    def clear(self) -> None:
        """Forget all usage."""
        self._used.clear()
