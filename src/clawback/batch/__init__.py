"""Durable half-price batches: a pure state machine, a journal (SQLite/PostgreSQL), and a thin runner.

Pure (no I/O): :mod:`~clawback.batch.machine` (chunk phases, events, next effect),
:mod:`~clawback.batch.ids` (custom_ids), :mod:`~clawback.batch.inputs` (line validation),
:mod:`~clawback.batch.chunking` (limits), :mod:`~clawback.batch.cacheplan` (shared prefixes),
:mod:`~clawback.batch.costs`, :mod:`~clawback.batch.outcomes`, :mod:`~clawback.batch.recovery`.
At the edges: :mod:`~clawback.batch.journal`, :mod:`~clawback.batch.upstream` (the SDK),
:mod:`~clawback.batch.runner`. Names below are imported lazily::

    from clawback.batch import BatchRunner, Journal, JobOptions, SdkUpstream
    import anthropic

    with Journal.open("batches.sqlite3") as journal:
        runner = BatchRunner(journal, SdkUpstream(anthropic.Anthropic()), catalogue=load_catalogue())
        job = runner.new_job(Path("in.jsonl"), Path("out.jsonl"), name="nightly")
        runner.create(job)             # validates, plans and records; nothing is sent
        summary = runner.run(job.name) # or later, after a crash: runner.run("nightly")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clawback._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Backoff": "clawback.batch.machine",
    "BatchRunner": "clawback.batch.runner",
    "CostTotals": "clawback.batch.costs",
    "EstimateTotals": "clawback.batch.costs",
    "IngestReport": "clawback.batch.ingest",
    "JobOptions": "clawback.batch.options",
    "JobRecord": "clawback.batch.journal",
    "JobSummary": "clawback.batch.report",
    "Journal": "clawback.batch.journal",
    "Limits": "clawback.batch.chunking",
    "SdkUpstream": "clawback.batch.upstream",
    "Upstream": "clawback.batch.upstream",
    "UpstreamFailure": "clawback.batch.upstream",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "Backoff",
    "BatchRunner",
    "CostTotals",
    "EstimateTotals",
    "IngestReport",
    "JobOptions",
    "JobRecord",
    "JobSummary",
    "Journal",
    "Limits",
    "SdkUpstream",
    "Upstream",
    "UpstreamFailure",
]


if TYPE_CHECKING:
    from clawback.batch.chunking import Limits
    from clawback.batch.costs import CostTotals, EstimateTotals
    from clawback.batch.ingest import IngestReport
    from clawback.batch.journal import JobRecord, Journal
    from clawback.batch.machine import Backoff
    from clawback.batch.options import JobOptions
    from clawback.batch.report import JobSummary
    from clawback.batch.runner import BatchRunner
    from clawback.batch.upstream import SdkUpstream, Upstream, UpstreamFailure
