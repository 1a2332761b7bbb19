"""A job's summary: counts by outcome, requests sent, cost so far and the saving against standard prices."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clawback.batch.costs import CostTotals, EstimateTotals
from clawback.batch.journal import Journal
from clawback.batch.outcomes import FINAL_OUTCOMES
from clawback.batch.output import output_problem
from clawback.pricing.cost import format_usd

__all__ = ["JobSummary", "summarize"]


@dataclass(frozen=True, slots=True)
class JobSummary:
    """Everything ``status``, ``list``, the progress bar and the final table show."""

    name: str
    state: str
    created_at: float
    input_path: str
    output_path: str
    items: int
    outcomes: Mapping[str, int]
    written: int
    submitted: int
    batches: int
    phases: Mapping[str, int]
    totals: CostTotals
    estimate: EstimateTotals
    cancel_requested: bool = False
    last_error: str | None = None
    journal: str = ""
    warmups: int = 0
    chunk_ids: tuple[str, ...] = field(default=())
    output_problem: str | None = None
    """What is wrong with the output file against the journal (missing, cut short), or None."""

    @property
    def finished(self) -> int:
        """Items with a final outcome."""
        return sum(self.outcomes.values())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (money as decimal strings)."""
        t = self.totals
        return {
            "job": self.name,
            "state": self.state,
            "input": self.input_path,
            "output": self.output_path,
            "journal": self.journal,
            "items": self.items,
            "outcomes": dict(self.outcomes),
            "finished": self.finished,
            "written": self.written,
            "output_ok": self.output_problem is None,
            "output_problem": self.output_problem,
            "submitted_requests": self.submitted,
            "batches": self.batches,
            "batch_ids": list(self.chunk_ids),
            "chunks": dict(self.phases),
            "cancel_requested": self.cancel_requested,
            "last_error": self.last_error,
            "cost_usd": format_usd(t.total_cost),
            "standard_cost_usd": format_usd(t.standard_no_cache),
            "saving_vs_standard_usd": format_usd(t.saving_vs_standard),
            "batch_saving_usd": format_usd(t.batch_saving),
            "no_cache_cost_usd": format_usd(t.no_cache),
            "cache_saving_usd": format_usd(t.cache_saving),
            "tokens": {
                "input": t.input_tokens,
                "output": t.output_tokens,
                "cache_read": t.cache_read_tokens,
                "cache_write_5m": t.cache_write_5m_tokens,
                "cache_write_1h": t.cache_write_1h_tokens,
            },
            "warmups": t.warmups,
            "warmup_cost_usd": format_usd(t.warmup_cost),
            "estimate": self.estimate.to_json(),
        }


def summarize(journal: Journal, name: str) -> JobSummary:
    """The summary of job ``name`` from the journal."""
    job = journal.job(name)
    counts = journal.status_counts(name)
    chunks = journal.chunks(name)
    totals = CostTotals()
    phases: dict[str, int] = {}
    submitted = batches = 0
    ids: list[str] = []
    for chunk in chunks:
        totals += chunk.totals
        phase = chunk.view.phase.value
        phases[phase] = phases.get(phase, 0) + 1
        if chunk.view.batch_id:
            batches += 1
            submitted += chunk.view.size
            ids.append(chunk.view.batch_id)
    for (raw,) in journal.db.all(
        "SELECT warm_totals FROM batch_groups WHERE job = ? AND warm_totals IS NOT NULL", (name,)
    ):
        totals += CostTotals.from_json(json.loads(raw))
    return JobSummary(
        name=job.name,
        state=job.state,
        created_at=job.created_at,
        input_path=job.input_path,
        output_path=job.output_path,
        items=job.items,
        outcomes={k: counts[f"outcome:{k}"] for k in FINAL_OUTCOMES if counts.get(f"outcome:{k}")},
        written=counts.get("status:written", 0),
        submitted=submitted,
        batches=batches,
        phases=phases,
        totals=totals,
        estimate=job.estimate,
        cancel_requested=job.cancel_requested,
        last_error=job.last_error,
        journal=journal.display,
        warmups=totals.warmups,
        chunk_ids=tuple(ids),
        output_problem=output_problem(job),
    )
