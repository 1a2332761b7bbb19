"""Prompt caching: the rules engine, the breakpoint planner, TTL and keep-alive arithmetic, replay."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clawback._exports import lazy_exports
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

# The planner, history, keep-alive, lint and replay load on first use, so importing the rules
# engine (as the emulator does) stays cheap.
_LAZY: dict[str, str] = {
    "AutoCaching": "clawback.cache.policies",
    "CachePlan": "clawback.cache.plan",
    "CallResult": "clawback.cache.replay",
    "ClairvoyantBound": "clawback.cache.bound",
    "Decision": "clawback.cache.plan",
    "KeepAliveDecision": "clawback.cache.keepalive",
    "KeepAliveSettings": "clawback.cache.keepalive",
    "Keeper": "clawback.cache.keeper",
    "LintReport": "clawback.cache.lint",
    "NoCaching": "clawback.cache.policies",
    "OraclePolicy": "clawback.cache.policies",
    "PlannerPolicy": "clawback.cache.policies",
    "Policy": "clawback.cache.replay",
    "PrefixHistory": "clawback.cache.history",
    "ReplayTotals": "clawback.cache.replay",
    "SeedRecord": "clawback.cache.history",
    "TimedShape": "clawback.cache.replay",
    "apply_plan": "clawback.cache.apply",
    "break_even_pings": "clawback.cache.keepalive",
    "decide_keepalive": "clawback.cache.keepalive",
    "lint_request": "clawback.cache.lint",
    "make_policy": "clawback.cache.policies",
    "ping_cost": "clawback.cache.keepalive",
    "plan_breakpoints": "clawback.cache.planner",
    "replay": "clawback.cache.replay",
    "rewrite_cost": "clawback.cache.keepalive",
    "summarize": "clawback.cache.replay",
    "trace_calls": "clawback.cache.replay",
    "volatile_blocks": "clawback.cache.volatile",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = [
    "LOOKBACK_BLOCKS",
    "MAX_BREAKPOINTS",
    "TTL_SECONDS",
    "AutoCaching",
    "Breakpoint",
    "CacheEngine",
    "CacheOutcome",
    "CachePlan",
    "CallResult",
    "ClairvoyantBound",
    "Decision",
    "Entry",
    "KeepAliveDecision",
    "KeepAliveSettings",
    "Keeper",
    "LintReport",
    "NoCaching",
    "OraclePolicy",
    "PlannerPolicy",
    "Policy",
    "PrefixHistory",
    "ReplayTotals",
    "SeedRecord",
    "TimedShape",
    "apply_plan",
    "break_even_pings",
    "breakpoints_of",
    "decide_keepalive",
    "lint_request",
    "make_policy",
    "ping_cost",
    "plan_breakpoints",
    "replay",
    "rewrite_cost",
    "summarize",
    "trace_calls",
    "volatile_blocks",
]


if TYPE_CHECKING:
    from clawback.cache.apply import apply_plan
    from clawback.cache.bound import ClairvoyantBound
    from clawback.cache.history import PrefixHistory, SeedRecord
    from clawback.cache.keepalive import (
        KeepAliveDecision,
        KeepAliveSettings,
        break_even_pings,
        decide_keepalive,
        ping_cost,
        rewrite_cost,
    )
    from clawback.cache.keeper import Keeper
    from clawback.cache.lint import LintReport, lint_request
    from clawback.cache.plan import CachePlan, Decision
    from clawback.cache.planner import plan_breakpoints
    from clawback.cache.policies import (
        AutoCaching,
        NoCaching,
        OraclePolicy,
        PlannerPolicy,
        make_policy,
    )
    from clawback.cache.replay import (
        CallResult,
        Policy,
        ReplayTotals,
        TimedShape,
        replay,
        summarize,
        trace_calls,
    )
    from clawback.cache.volatile import volatile_blocks
