"""Prompt caching: the rules engine, the breakpoint planner, TTL and keep-alive arithmetic, replay."""

from __future__ import annotations

from clawback.cache.rules import (
    LOOKBACK_BLOCKS,
    MAX_BREAKPOINTS,
    TTL_SECONDS,
    Breakpoint,
    CacheEngine,
    CacheOutcome,
    Entry,
    breakpoints_of,
)

__all__ = [
    "LOOKBACK_BLOCKS",
    "MAX_BREAKPOINTS",
    "TTL_SECONDS",
    "Breakpoint",
    "CacheEngine",
    "CacheOutcome",
    "Entry",
    "breakpoints_of",
]
