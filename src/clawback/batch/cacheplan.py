"""Cache-aware batching: find the prefix requests share, and put a breakpoint on it (pure).

For every request, the *candidates* are the places where a breakpoint could sit: the end of the
tools, the end of the system prompt, and the end of each of the first messages — never the last
block, which is what varies — and only where the prefix reaches the model's minimum cacheable
length (below it the API silently caches nothing). Counting how many requests share each
candidate's prefix hash (the journal does that over the whole input) gives each request its
*group*, chosen by the same valuation the cache planner uses (:func:`clawback.cache.valuation.write_options`):
the deepest write worth it when the ``k`` requests sharing a prefix read it ``k - 1`` times, at the
job's TTL and the model's rates. A prefix two requests share pays for a 5-minute write (one read
saves more than the 0.25x premium) but not for an hour's (one read saves less than the 1x premium).

:func:`add_breakpoint` then puts ``cache_control`` on that block, unless the request already has
one there, already uses the four breakpoints the API allows, or the TTL would break the rule that
1-hour breakpoints come before 5-minute ones — then the request is sent as it came. Converting a
string ``system`` or message ``content`` into one text block changes nothing the cache matches on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from clawback.cache.economics import Ratios
from clawback.cache.prewarm import prewarm_params
from clawback.cache.valuation import Candidate as WriteCandidate
from clawback.cache.valuation import write_options
from clawback.shapes import RequestShape, Ttl

__all__ = [
    "MAX_MESSAGE_CANDIDATES",
    "CachePlanInput",
    "Candidate",
    "add_breakpoint",
    "choose_group",
    "plan_input",
    "warmup_params",
]

MAX_MESSAGE_CANDIDATES: Final = 16
_MAX_BREAKPOINTS: Final = 4
_LEVEL_CODE: Final = {"tools": "t", "system": "s", "messages": "m"}
_TYPICAL: Final = Ratios(premium_5m=0.25, premium_1h=1.0, read_saving=0.9, read=0.1)
"""Current models' write premiums and read saving, for callers that pass no model's own."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A block where a shared-prefix breakpoint could go."""

    position: int
    level: Literal["t", "s", "m"]
    message_index: int | None
    index: int
    prefix_hash: str
    prefix_tokens: int

    def to_json(self) -> list[Any]:
        """A compact list for the journal."""
        return [
            self.position,
            self.level,
            self.message_index,
            self.index,
            self.prefix_hash,
            self.prefix_tokens,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> Candidate:
        """Inverse of :meth:`to_json`."""
        return cls(int(row[0]), row[1], row[2], int(row[3]), str(row[4]), int(row[5]))


@dataclass(frozen=True, slots=True)
class CachePlanInput:
    """What planning needs of one request: its candidates and the breakpoints it already has."""

    candidates: tuple[Candidate, ...]
    marks: tuple[tuple[int, Ttl], ...] = ()
    auto: tuple[int, Ttl] | None = None

    def to_json(self) -> dict[str, Any]:
        """A compact mapping for the journal."""
        return {
            "c": [c.to_json() for c in self.candidates],
            "m": [list(m) for m in self.marks],
            "a": list(self.auto) if self.auto else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CachePlanInput:
        """Inverse of :meth:`to_json`."""
        auto = data.get("a")
        return cls(
            tuple(Candidate.from_json(r) for r in data.get("c", ())),
            tuple((int(p), t) for p, t in data.get("m", ())),
            (int(auto[0]), auto[1]) if auto else None,
        )


def plan_input(shape: RequestShape, min_tokens: int) -> CachePlanInput:
    """The candidates of one request and its existing breakpoints."""
    blocks = shape.blocks
    ends: dict[tuple[str, int | None], int] = {}
    for b in blocks[:-1]:
        ends[(b.level, b.message_index if b.level == "messages" else None)] = b.position
    out: list[Candidate] = []
    messages_seen = 0
    for (level, message_index), position in ends.items():
        if level == "messages":
            messages_seen += 1
            if messages_seen > MAX_MESSAGE_CANDIDATES:
                continue
        b = blocks[position]
        tokens = shape.prefix_tokens(position)
        if b.cacheable and tokens >= min_tokens:
            code = _LEVEL_CODE[b.level]
            out.append(Candidate(position, code, message_index, b.index, b.prefix_hash, tokens))  # type: ignore[arg-type]
    marks = tuple((b.position, b.cache_ttl) for b in blocks if b.cache_ttl is not None)
    auto = None
    if shape.auto_cache_ttl is not None:
        last = next((b for b in reversed(blocks) if b.cacheable), None)
        if last is not None:
            auto = (last.position, shape.auto_cache_ttl)
    return CachePlanInput(tuple(sorted(out, key=lambda c: c.position)), marks, auto)


def choose_group(
    plan: CachePlanInput,
    shared: Mapping[str, int],
    min_members: int = 2,
    *,
    ttl: Ttl = "5m",
    ratios: Ratios = _TYPICAL,
) -> Candidate | None:
    """The candidate, among those at least ``min_members`` requests share, whose write at ``ttl`` the
    cache planner values most (:func:`~clawback.cache.valuation.write_options`: each shared prefix is
    read by the other requests that share it), or None when no write is worth it. ``ratios`` are the
    model's (``CacheRates.of(model).ratios()``).
    """
    chosen = [c for c in plan.candidates if shared.get(c.prefix_hash, 0) >= min_members]
    if not chosen:
        return None
    cum = [c.prefix_tokens for c in chosen]
    cands = []
    for i, c in enumerate(chosen):
        q = 1.0 - 1.0 / shared[c.prefix_hash]  # the others read it: k - 1 reads per write
        cands.append(WriteCandidate(i, "recurring", q, q, True))
    options = [o for o in write_options(cands, cum, ratios, live=None, survivor=None) if o.ttl == ttl]
    return chosen[options[0].cand] if options else None


def _marks_allow(plan: CachePlanInput, position: int, ttl: Ttl) -> bool:
    marks = dict(plan.marks)
    if position in marks:
        return False
    if plan.auto is not None:
        marks.setdefault(plan.auto[0], plan.auto[1])
    if len(marks) >= _MAX_BREAKPOINTS:
        return False
    marks[position] = ttl
    seen_5m = False
    for _, mark_ttl in sorted(marks.items()):
        if mark_ttl == "1h" and seen_5m:
            return False
        seen_5m = seen_5m or mark_ttl == "5m"
    return True


def _as_block_list(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def _marked(block: Any, ttl: Ttl) -> dict[str, Any]:
    control: dict[str, str] = {"type": "ephemeral"}
    if ttl == "1h":
        control["ttl"] = "1h"
    return {**block, "cache_control": control}


def add_breakpoint(
    params: Mapping[str, Any], plan: CachePlanInput, candidate: Candidate, ttl: Ttl
) -> dict[str, Any] | None:
    """A copy of ``params`` with a breakpoint on ``candidate``'s block, or None when none can be added."""
    if not _marks_allow(plan, candidate.position, ttl):
        return None
    out = dict(params)
    if candidate.level == "t":
        tools = list(out["tools"])
        tools[candidate.index] = _marked(tools[candidate.index], ttl)
        out["tools"] = tools
    elif candidate.level == "s":
        system = _as_block_list(out["system"])
        system[candidate.index] = _marked(system[candidate.index], ttl)
        out["system"] = system
    else:
        assert candidate.message_index is not None
        messages = list(out["messages"])
        message = dict(messages[candidate.message_index])
        content = _as_block_list(message["content"])
        content[candidate.index] = _marked(content[candidate.index], ttl)
        message["content"] = content
        messages[candidate.message_index] = message
        out["messages"] = messages
    return out


def warmup_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The warm-up request for a group: its first request, unchanged but for ``max_tokens``.

    Its answer is discarded, so it asks for as little output as the API accepts for it
    (:func:`clawback.cache.prewarm.prewarm_params`: ``0``, or ``1`` with ``output_config.format`` or a
    forced ``tool_choice``, or the request's own ``max_tokens`` with thinking on).
    """
    return prewarm_params(params)
