"""The planner's reasons: one :class:`~clawback.cache.plan.Decision` per mark added or candidate passed over (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from clawback.cache.valuation import Candidate, Option
from clawback.shapes import Ttl

if TYPE_CHECKING:
    from clawback.cache.planner import _Planner

__all__ = ["explain", "odds_text"]


def explain(p: _Planner, marks: Mapping[int, Ttl], option: Option | None) -> None:
    """Note why each mark the planner added is there and why each other candidate is not."""
    chosen = p.candidates[option.cand].position if option is not None else None
    by_position = {c.position: c for c in p.candidates}
    for position, ttl in marks.items():
        if position in p.caller:
            continue
        c = by_position.get(position)
        if option is not None and position == chosen:
            detail = (
                f"deepest write worth it: {odds_text(c)}; "
                f"expected saving {option.value:,.0f} input-token equivalents"
            )
            p.note(position, "mark", c.code if c else "recurring", detail, ttl=ttl)
        elif c is not None:
            p.note(
                position,
                "mark",
                c.code,
                f"free extra breakpoint before the deepest write: {odds_text(c)}",
                ttl=ttl,
            )
        elif position == p.live:
            p.note(
                position, "mark", "anchor", "reads the live entry the lookback would otherwise miss", ttl=ttl
            )
        else:
            p.note(position, "mark", "refresh", "keeps a live entry behind the read refreshed", ttl=ttl)
    for c in p.candidates:
        if c.position in marks:
            continue
        if chosen is None or c.position > chosen:
            p.note(c.position, "skip", "unprofitable", f"a write here is not expected to pay: {odds_text(c)}")
        else:
            p.note(c.position, "skip", "no_slot", "all four breakpoints are taken by better positions")


def odds_text(c: Candidate | None) -> str:
    """The odds of a candidate, in words."""
    if c is None:
        return "seen before"
    return f"seen again within 5 min {c.q5:.0%}, within 1 h {c.q60:.0%}"
