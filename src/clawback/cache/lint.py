"""Explain, block by block, what a request would cache and why not (pure).

:func:`lint_request` reads one Messages body and reports, for every block, its tokens, the prefix
up to it, any breakpoint on it and whether it would be cached, plus findings with a reason code:

=====================  =========  ==========================================================
code                   severity   meaning
=====================  =========  ==========================================================
too_many_breakpoints   error      more than 4 breakpoints (automatic caching takes one)
auto_no_slot           error      top-level ``cache_control`` with 4 block breakpoints already
auto_ttl_conflict      error      top-level TTL differs from the last block's own
ttl_order              error      a 1-hour breakpoint after a 5-minute one
uncacheable_marked     error      ``cache_control`` on a thinking or empty text block
below_minimum          warning    a breakpoint whose prefix is under the model's minimum
volatile_prefix        warning    per-call or per-user text in tools/system at or before a breakpoint
lookback               warning    a breakpoint 20+ blocks past the previous one (reads can't reach back)
param_change           warning    (with ``previous``) a parameter change that invalidates levels
prefix_changed         info       (with ``previous``) where the prefix first differs
daily_text             info       a date in tools/system: the prefix changes once a day
no_breakpoints         info       nothing is cached; the planner's suggestion is given
=====================  =========  ==========================================================

Errors are requests the API rejects with a 400; the rest cost money silently.

Work is bounded: a request of more than :data:`MAX_BLOCKS` content blocks is refused with a
one-line error before anything is computed (the rest is linear in the number of blocks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clawback.cache.blocks import body_blocks
from clawback.cache.history import PrefixHistory
from clawback.cache.lint_params import common_prefix, parameter_changes
from clawback.cache.planner import plan_breakpoints
from clawback.cache.rules import LOOKBACK_BLOCKS, breakpoints_of
from clawback.cache.volatile import Finding, volatile_blocks
from clawback.errors import CacheRuleError, UsageError
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import RequestShape, Ttl, request_shape

__all__ = ["MAX_BLOCKS", "BlockReport", "LintFinding", "LintReport", "lint_request"]

MAX_BLOCKS = 50_000
"""Most content blocks (tools, system and message blocks) one request may have to be explained."""

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One problem or remark, with a reason code and the position it concerns."""

    code: str
    severity: Severity
    message: str
    position: int | None = None


@dataclass(frozen=True, slots=True)
class BlockReport:
    """One block: where it is, its size, its breakpoint and whether it would be cached."""

    position: int
    location: str
    level: str
    kind: str
    tokens: int
    prefix_tokens: int
    breakpoint: Ttl | None
    automatic: bool
    cached: Literal["yes", "no", "write-only"]
    """``write-only``: written on every call but never read (volatile text in its prefix)."""
    why: str
    suggested: Ttl | None = None


@dataclass(frozen=True, slots=True)
class LintReport:
    """The whole explanation for one request."""

    model: str
    min_tokens: int
    total_tokens: int
    cached_tokens: int
    blocks: tuple[BlockReport, ...]
    findings: tuple[LintFinding, ...]
    suggested: Mapping[int, Ttl]

    @property
    def rejected(self) -> bool:
        """True when the API would reject the request (any error finding)."""
        return any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "model": self.model,
            "min_cacheable_tokens": self.min_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "rejected": self.rejected,
            "blocks": [
                {
                    "position": b.position,
                    "location": b.location,
                    "level": b.level,
                    "kind": b.kind,
                    "tokens": b.tokens,
                    "prefix_tokens": b.prefix_tokens,
                    "breakpoint": b.breakpoint,
                    "automatic": b.automatic,
                    "cached": b.cached,
                    "why": b.why,
                    "suggested": b.suggested,
                }
                for b in self.blocks
            ],
            "findings": [
                {"code": f.code, "severity": f.severity, "position": f.position, "message": f.message}
                for f in self.findings
            ],
            "suggested_breakpoints": {str(k): v for k, v in self.suggested.items()},
        }


def _marks(shape: RequestShape) -> tuple[dict[int, Ttl], int | None]:
    marks = {b.position: b.cache_ttl for b in shape.blocks if b.cache_ttl is not None}
    auto = None
    if shape.auto_cache_ttl is not None:
        auto = next((b.position for b in reversed(shape.blocks) if b.cacheable), None)
    return marks, auto


def _rule_findings(shape: RequestShape, marks: Mapping[int, Ttl], auto: int | None) -> list[LintFinding]:
    out: list[LintFinding] = []
    try:
        breakpoints_of(shape)
    except CacheRuleError as exc:
        text = str(exc)
        code = (
            "uncacheable_marked"
            if "cannot be set" in text
            else "auto_ttl_conflict"
            if "top-level cache_control has ttl" in text
            else "auto_no_slot"
            if "free breakpoint" in text
            else "ttl_order"
            if "cannot come after" in text
            else "too_many_breakpoints"
        )
        out.append(LintFinding(code, "error", f"the API rejects this request: {text}"))
    positions = sorted({*marks, *([auto] if auto is not None else [])})
    previous = -1
    for position in positions:
        if position - previous >= LOOKBACK_BLOCKS and previous >= 0:
            out.append(
                LintFinding(
                    "lookback",
                    "warning",
                    f"breakpoint at {position} is {position - previous} blocks after the one at {previous}: "
                    f"a read walks back only {LOOKBACK_BLOCKS} blocks, so entries written in between are missed",
                    position,
                )
            )
        previous = position
    return out


def _volatile_findings(
    flagged: Mapping[int, tuple[Finding, ...]], last_mark: int | None
) -> list[LintFinding]:
    out: list[LintFinding] = []
    for position, findings in sorted(flagged.items()):
        worst = findings[0]
        same = [f for f in findings if f.severity == worst.severity]
        excerpt = " and ".join(f"{f.kind} {f.excerpt!r}" for f in same)
        if worst.severity == "daily":
            out.append(
                LintFinding(
                    "daily_text",
                    "info",
                    f"{excerpt} change{'s' if len(same) == 1 else ''} once a day: the cached prefix from here on is rewritten daily",
                    position,
                )
            )
        elif last_mark is not None and position <= last_mark:
            out.append(
                LintFinding(
                    "volatile_prefix",
                    "warning",
                    f"{excerpt} look{'s' if len(same) == 1 else ''} {worst.severity}: if {'it changes' if len(same) == 1 else 'they change'} between calls, every breakpoint at or "
                    f"after position {position} writes an entry that is never read; move it after the last breakpoint",
                    position,
                )
            )
    return out


def lint_request(
    body: Mapping[str, Any],
    model: ModelInfo,
    *,
    previous: Mapping[str, Any] | None = None,
    count: Callable[[Mapping[str, Any]], int] | None = None,
) -> LintReport:
    """Explain what ``body`` would cache on ``model``; ``previous`` is an earlier request to compare with."""
    for name, request in (("the request", body), ("the previous request", previous)):
        size = 0 if request is None else sum(1 for _ in body_blocks(request))
        if size > MAX_BLOCKS:
            raise UsageError(
                f"{name} has {size:,} content blocks; clawback lint explains at most {MAX_BLOCKS:,} "
                "(lint a shorter prefix of it: the cache matches prefixes)"
            )
    shape = request_shape(body, tokenizer=model.tokenizer, count=count)
    minimum = model.min_cacheable_tokens
    marks, auto = _marks(shape)
    flagged = volatile_blocks(body)
    all_marks = {
        **marks,
        **({auto: shape.auto_cache_ttl} if auto is not None and shape.auto_cache_ttl else {}),
    }
    eligible = [p for p in sorted(all_marks) if shape.prefix_tokens(p) >= minimum]
    last = eligible[-1] if eligible else None
    findings = _rule_findings(shape, marks, auto)
    findings += _volatile_findings(flagged, max(all_marks) if all_marks else None)
    for position in sorted(all_marks):
        if position not in eligible:
            findings.append(
                LintFinding(
                    "below_minimum",
                    "warning",
                    f"breakpoint at {position} covers {shape.prefix_tokens(position):,} tokens, below "
                    f"{model.id}'s {minimum:,}-token minimum: not cached, and no error is returned",
                    position,
                )
            )
    if previous is not None:
        before = request_shape(previous, tokenizer=model.tokenizer, count=count)
        findings += _previous_findings(previous, body, before, shape)
    plan = plan_breakpoints(
        shape.with_breakpoints({}), model, PrefixHistory(), now=0.0, volatile=flagged, cautious=False
    )
    if not all_marks:
        where = ", ".join(str(p) for p in plan.marks) or "none (nothing reaches the minimum)"
        findings.append(
            LintFinding("no_breakpoints", "info", f"nothing is cached; suggested breakpoints: {where}")
        )
    per_call = [pos for pos, fs in flagged.items() if any(f.severity != "daily" for f in fs)]
    volatile_at = min(per_call) if per_call and last is not None and min(per_call) <= last else None
    blocks = _block_reports(
        body, shape, (marks, all_marks), (auto, last, volatile_at), minimum=minimum, suggested=plan.marks
    )
    cached = shape.prefix_tokens(last) if last is not None and volatile_at is None else 0
    return LintReport(
        model.id, minimum, shape.total_tokens, cached, blocks, tuple(findings), dict(plan.marks)
    )


def _previous_findings(
    previous: Mapping[str, Any], body: Mapping[str, Any], before: RequestShape, shape: RequestShape
) -> list[LintFinding]:
    out = [
        LintFinding(
            "param_change", "warning", f"{name} changed since the previous request: invalidates {levels}"
        )
        for name, levels in parameter_changes(previous, body)
    ]
    common = common_prefix(before, shape)
    if common < len(before.blocks):
        where = f"position {common}" if common < len(shape.blocks) else "the end of this request"
        reach = (
            f"entries up to position {common - 1} can still be read"
            if common
            else "no earlier entry can be read"
        )
        message = f"the prefix differs from the previous request at {where}: {reach}"
        out.append(LintFinding("prefix_changed", "info", message, common))
    return out


def _block_reports(
    body: Mapping[str, Any],
    shape: RequestShape,
    both: tuple[Mapping[int, Ttl], Mapping[int, Ttl]],
    where: tuple[int | None, int | None, int | None],
    *,
    minimum: int,
    suggested: Mapping[int, Ttl],
) -> tuple[BlockReport, ...]:
    explicit, marks = both
    auto, last, volatile_at = where
    out: list[BlockReport] = []
    locations = {item.position: _location(item.level, item.item, item.message) for item in body_blocks(body)}
    prefix = shape.overhead_tokens
    for b in shape.blocks:
        prefix += b.tokens
        ttl = marks.get(b.position)
        if not b.cacheable:
            why = f"{b.kind} blocks cannot carry cache_control (cached only inside an earlier turn's prefix)"
        elif ttl is not None and prefix < minimum:
            why = f"breakpoint below the {minimum:,}-token minimum"
        elif last is not None and b.position <= last and volatile_at is not None:
            why = f"written every call, never read: volatile text at {volatile_at} is in the prefix"
        elif last is not None and b.position <= last:
            why = (
                "written at the breakpoint, read on repeat"
                if b.position == last
                else f"in the prefix cached at {last}"
            )
        elif last is None:
            why = "no breakpoint reaches the minimum" if marks else "no breakpoint"
        else:
            why = "after the last breakpoint: sent uncached every time"
        out.append(
            BlockReport(
                position=b.position,
                location=locations.get(b.position, "?"),
                level=b.level,
                kind=b.kind,
                tokens=b.tokens,
                prefix_tokens=prefix,
                breakpoint=ttl,
                automatic=b.position == auto and b.position not in explicit,
                cached="no"
                if last is None or b.position > last
                else "write-only"
                if volatile_at is not None
                else "yes",
                why=why,
                suggested=suggested.get(b.position),
            )
        )
    return tuple(out)


def _location(level: str, item: int, message: int | None) -> str:
    if level == "messages":
        return f"messages[{message}].content[{item}]"
    return f"{level}[{item}]"
