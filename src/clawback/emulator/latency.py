"""The latency model: time to first token plus tokens per second, faster when the prefix is cached.

Time to first token is a fixed start-up cost plus prefill: fresh input (uncached tokens and cache
writes) at ``prefill_tokens_per_second``, cache reads ``cache_read_speedup`` times faster. Output
then streams at ``output_tokens_per_second``. With the model disabled every timing is zero. The
timings are virtual: the core uses time to first token for cache-entry visibility, and the HTTP
layer waits them out on the clock (really on a real clock, not at all on a manual one).
"""

from __future__ import annotations

from dataclasses import dataclass

from clawback.emulator.config import LatencyConfig

__all__ = ["LatencyModel", "Timing"]


@dataclass(frozen=True, slots=True)
class Timing:
    """How long one request takes, in seconds."""

    ttft: float = 0.0
    generation: float = 0.0

    @property
    def total(self) -> float:
        """Time to the last token."""
        return self.ttft + self.generation


_ZERO = Timing()


class LatencyModel:
    """Computes :class:`Timing` from a request's token counts."""

    def __init__(self, config: LatencyConfig | None = None) -> None:
        self.config = config or LatencyConfig()

    @property
    def enabled(self) -> bool:
        """False when every timing is zero."""
        return self.config.enabled

    def modelled_ttft(self, *, fresh_input: int, cache_read: int) -> float:
        """Time to first token as configured, even when the model is disabled (nothing waits for it)."""
        c = self.config
        return (
            c.ttft_seconds + (fresh_input + cache_read / c.cache_read_speedup) / c.prefill_tokens_per_second
        )

    def timing(self, *, fresh_input: int, cache_read: int, output_tokens: int) -> Timing:
        """Time to first token and generation time for these counts."""
        c = self.config
        if not c.enabled:
            return _ZERO
        prefill = (fresh_input + cache_read / c.cache_read_speedup) / c.prefill_tokens_per_second
        return Timing(c.ttft_seconds + prefill, output_tokens / c.output_tokens_per_second)
