"""The usage views in the HTML report: cost per day, week, month, session and 5-hour block, by model.

The same views as ``clawback usage`` (:mod:`clawback.audit.usage_views`), drawn as stacked bars
(the costliest models, the rest as "other") with a line under each chart giving its totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from clawback.audit.report import svg
from clawback.audit.results import money
from clawback.audit.usage_views import UsageRow, UsageView

__all__ = ["usage_section"]

_MODELS = 6
_SESSIONS = 12
_TITLES: Mapping[str, str] = {
    "daily": "Cost per day",
    "weekly": "Cost per week (ISO weeks, by their Monday)",
    "monthly": "Cost per month",
    "session": f"The {_SESSIONS} costliest sessions",
    "blocks": "Cost per 5-hour usage block",
}


def _label(view: str, row: UsageRow) -> str:
    if view == "session":
        return row.key[:8]
    if view == "blocks":
        return row.key[5:16].replace("T", " ")
    return row.key


def _chart(view: UsageView) -> str:
    rows: Sequence[UsageRow] = view.rows[:_SESSIONS] if view.view == "session" else view.rows
    totals: dict[str, float] = {}
    for row in rows:
        for sub in row.breakdown:
            totals[sub.key] = totals.get(sub.key, 0.0) + float(sub.cost)
    models = sorted(totals, key=lambda m: -totals[m])
    top, rest = models[:_MODELS], models[_MODELS:]
    keys = top + (["other"] if rest else [])
    stacks = []
    for row in rows:
        by = {sub.key: float(sub.cost) for sub in row.breakdown}
        stack = {m: by.get(m, 0.0) for m in top}
        if rest:
            stack["other"] = sum(by.get(m, 0.0) for m in rest)
        stacks.append(stack)
    labels = [_label(view.view, r) for r in rows]
    return svg.stacked_bars(labels, stacks, keys, label=_TITLES[view.view].lower(), fmt=money)


def _note(view: UsageView) -> str:
    t = view.totals
    hit = "" if t.hit_rate is None else f", cache hit rate {t.hit_rate:.0%}"
    unit = {
        "daily": "days",
        "weekly": "weeks",
        "monthly": "months",
        "session": "sessions",
        "blocks": "blocks",
    }
    text = (
        f"{len(view.rows):,} {unit[view.view]}; {t.calls:,} calls, "
        f"{t.total_tokens:,} tokens, {money(t.cost)}{hit}"
    )
    active = next((b for b in view.blocks if b.active), None)
    if active is not None and active.cost_per_hour is not None and active.projected_cost is not None:
        text += (
            f". Active block until {active.end:%Y-%m-%d %H:%M} UTC: {money(active.row.cost)} so far, "
            f"{money(active.cost_per_hour)} an hour, projected {money(active.projected_cost)}"
        )
    return f'<p class="note">{escape(text)}.</p>'


def usage_section(views: Mapping[str, UsageView]) -> str:
    """The usage charts (nothing when the audit has no views)."""
    parts = []
    for name in ("daily", "weekly", "monthly", "session", "blocks"):
        view = views.get(name)
        if view is None or not view.rows:
            continue
        zone = f" ({escape(view.timezone)})" if name in ("daily", "weekly", "monthly") else ""
        parts.append(f"<section><h2>{escape(_TITLES[name])}{zone}</h2>{_chart(view)}{_note(view)}</section>")
    return "".join(parts)
