"""The whole audit as one value, and its ``--json`` form (pure).

JSON keys (money as decimal strings in USD over the audited window unless named ``monthly``)::

    calls, buckets, total_usd, unpriced_calls, unpriced[], window{first, last, seconds,
    monthly_factor, monthly_usd}, by_model{}, by_task{}, by_day{}, by_token_kind{}, savings{route,
    batch, cache, output_cap, stacked}, policies{none, auto, planner, first-sighting oracle, oracle,
    clairvoyant} and policies_as_logged (the same calls as billed; both when calls have shapes),
    recommendations[], inputs[], input_issues{}, warnings[], templates{}, usage{daily, weekly,
    monthly, session, blocks}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from clawback.audit.results import CachingReport, PolicyResult, Recommendation, Spend, Technique, money, usd

if TYPE_CHECKING:
    from clawback.audit.usage_views import UsageView

__all__ = ["AuditSummary", "InputFile", "TemplateInfo"]

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input and the format it was read as."""

    path: str
    format: str
    records: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"path": self.path, "format": self.format, "records": self.records}


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """What a task found from a prompt template looks like: its first words and one place it occurs."""

    first_words: str | None
    where: str | None
    """``file:line`` of the first call built from the template (a ledger's record number as the line)."""

    def label(self) -> str:
        """``“first words…” at file:line`` (what is known of it)."""
        parts = [f"“{self.first_words}”"] if self.first_words else []
        if self.where:
            parts.append(f"at {self.where}")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"first_words": self.first_words, "where": self.where}


@dataclass(frozen=True, slots=True)
class AuditSummary:
    """Everything the audit found, already computed; renderers only read it."""

    inputs: tuple[InputFile, ...]
    spend: Spend
    techniques: tuple[Technique, ...]
    stacked_saving: Decimal
    recommendations: tuple[Recommendation, ...]
    monthly_factor: Decimal
    caching: CachingReport
    issues: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    generated: datetime | None = None
    templates: dict[str, TemplateInfo] = field(default_factory=dict)
    """Tasks found from prompt templates (``template:<hash>``): their first words and where one occurs."""
    usage: dict[str, UsageView] = field(default_factory=dict)
    """The usage views (daily, weekly, monthly, session, blocks) of the same calls."""

    @property
    def monthly_spend(self) -> Decimal:
        """The audited window's spend scaled to 30 days (by :attr:`monthly_factor`)."""
        return self.spend.total * self.monthly_factor

    def no_recommendation(self) -> str:
        """Why the list of recommendations is empty: nothing saves money, or no saving is worth a change."""
        if self.stacked_saving <= 0:
            return "No change saves money on these calls."
        monthly = self.stacked_saving * self.monthly_factor
        return (
            f"No single change is worth recommending: together the changes above save {money(self.stacked_saving)} "
            f"in this window ({money(monthly)} a month), and none saves both a cent a month and 0.1% of the spend."
        )

    def task_label(self, task: str) -> str:
        """``task`` with what is known of its template, for people (the key stays ``task``)."""
        info = self.templates.get(task)
        return f"{task} {info.label()}".rstrip() if info else task

    @property
    def stacked_total(self) -> Decimal:
        """The audited window's cost with every applicable technique stacked."""
        return self.spend.total - self.stacked_saving

    @property
    def policies(self) -> dict[str, PolicyResult]:
        """Cost of the calls with shapes under each caching policy (empty when none have shapes)."""
        return self.caching.policies

    @property
    def window_seconds(self) -> float:
        """Seconds between the first and the last call."""
        s = self.spend
        return (s.last - s.first).total_seconds() if s.first and s.last else 0.0

    def _savings_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {t.name: t.to_json() for t in self.techniques}
        total = self.spend.total
        out["stacked"] = {
            "today_usd": usd(total),
            "after_usd": usd(self.stacked_total),
            "saving_usd": usd(self.stacked_saving),
            "saving_pct": f"{(self.stacked_saving / total * 100):.2f}" if total else "0.00",
            "monthly_saving_usd": usd(self.stacked_saving * self.monthly_factor),
            "order": [t.name for t in self.techniques],
        }
        return out

    def to_json(self) -> dict[str, Any]:
        """The documented ``--json`` document."""
        s = self.spend
        data: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "calls": s.calls,
            "buckets": s.buckets,
            "total_usd": usd(s.total),
            "unpriced_calls": s.unpriced_calls,
            "unpriced": [row.to_json() for row in s.unpriced],
            "window": {
                "first": s.first.isoformat() if s.first else None,
                "last": s.last.isoformat() if s.last else None,
                "seconds": self.window_seconds,
                "monthly_factor": format(self.monthly_factor.quantize(Decimal("0.0001")), "f"),
                "monthly_usd": usd(self.monthly_spend),
            },
            "by_model": {row.key: row.to_json() for row in s.by_model},
            "by_task": {row.key: row.to_json() for row in s.by_task},
            "by_day": {row.key: row.to_json() for row in s.by_day},
            "by_token_kind": {k: usd(v) for k, v in s.by_kind.items()},
            "cache_hit_rate": None if s.hit_rate is None else round(s.hit_rate, 6),
            "savings": self._savings_json(),
            "recommendations": [r.to_json() for r in self.recommendations],
            "inputs": [i.to_json() for i in self.inputs],
            "input_issues": self.issues,
            "warnings": list(self.warnings),
            "templates": {name: info.to_json() for name, info in sorted(self.templates.items())},
            "usage": {name: view.to_json() for name, view in self.usage.items()},
        }
        if self.caching.policies:
            data["policies"] = {name: p.to_json() for name, p in self.caching.policies.items()}
            logged = self.caching.logged
            data["policies_as_logged"] = None if logged is None else logged.to_json()
        return data
