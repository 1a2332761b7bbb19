"""A cache plan: where a request's breakpoints go and why, and helpers to set marks on a shape (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from clawback.shapes import BlockShape, RequestShape, Ttl

__all__ = ["Action", "CachePlan", "Decision", "ordered_marks", "with_marks"]

Action = Literal["mark", "keep", "skip"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision about one position: marked, kept (the caller's) or skipped, and why."""

    position: int | None
    action: Action
    code: str
    detail: str
    ttl: Ttl | None = None


@dataclass(frozen=True, slots=True)
class CachePlan:
    """Where the request's breakpoints go (caller's included) and the reasons."""

    marks: Mapping[int, Ttl]
    auto: Ttl | None = None
    added: tuple[int, ...] = ()
    decisions: tuple[Decision, ...] = ()
    expected_read: int | None = None
    worst_extra_usd: Decimal = Decimal(0)
    keepalive: tuple[int, ...] = ()

    def apply_to(self, shape: RequestShape) -> RequestShape:
        """The shape with exactly this plan's breakpoints."""
        return with_marks(shape, self.marks, auto=self.auto)


def with_marks(shape: RequestShape, marks: Mapping[int, Ttl], *, auto: Ttl | None = None) -> RequestShape:
    """Like ``RequestShape.with_breakpoints`` but copies only the blocks whose mark changes."""
    blocks = list(shape.blocks)
    n = len(blocks)
    todo = set(marks)
    for i, b in enumerate(blocks):
        if b.cache_ttl is not None:
            todo.add(i)
    for i in todo:
        if i < n:
            b = blocks[i]
            ttl = marks.get(i)
            if b.cache_ttl != ttl:
                blocks[i] = _marked(b, ttl)
    return RequestShape(shape.model, tuple(blocks), auto, shape.overhead_tokens)


_MARKED: dict[tuple[int, Ttl | None], tuple[BlockShape, BlockShape]] = {}
_MARKED_LIMIT = 1024


def _marked(b: BlockShape, ttl: Ttl | None) -> BlockShape:
    """``replace(b, cache_ttl=ttl)``, built directly (``dataclasses.replace`` is slow on a hot path).

    Remembered by the block's identity (the shape memo hands out the same block for the same
    system prompt call after call, and the plan marks it every time); the entry holds the block,
    so its id can't be reused while the entry lives.
    """
    key = (id(b), ttl)
    found = _MARKED.get(key)
    if found is not None and found[0] is b:
        return found[1]
    made = BlockShape(
        b.level,
        b.position,
        b.kind,
        b.content_hash,
        b.prefix_hash,
        b.tokens,
        ttl,
        b.cacheable,
        b.message_index,
        b.role,
        b.index,
    )
    if len(_MARKED) >= _MARKED_LIMIT:
        _MARKED.clear()
    _MARKED[key] = (b, made)
    return made


def ordered_marks(marks: dict[int, Ttl], caller: Mapping[int, Ttl]) -> dict[int, Ttl]:
    """Make 1-hour marks precede 5-minute ones without touching the caller's marks.

    A planner 1-hour mark after a caller 5-minute mark becomes 5 minutes; a planner 5-minute mark
    before any 1-hour mark becomes 1 hour, which is free: that span is billed at 1 hour anyway.
    """
    out = dict(marks)
    first_caller_5m = (
        min((pos for pos, ttl in caller.items() if ttl == "5m"), default=None) if caller else None
    )
    if first_caller_5m is not None:
        for pos, ttl in out.items():
            if pos > first_caller_5m and ttl == "1h" and pos not in caller:
                out[pos] = "5m"
    if "1h" not in out.values():  # the common case: nothing to move before an hour-long mark
        return dict(sorted(out.items()))
    last_1h = max((pos for pos, ttl in out.items() if ttl == "1h"), default=None)
    if last_1h is not None:
        for pos, ttl in out.items():
            if pos < last_1h and ttl == "5m" and pos not in caller:
                out[pos] = "1h"
    return dict(sorted(out.items()))
