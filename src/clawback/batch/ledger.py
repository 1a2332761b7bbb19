"""The batch runner's calls in the call ledger: one row per processed result and per warm-up.

Rows are written *before* the journal records the page (or the warm-up) they come from, with an id
derived from the job's tag and the request's ``custom_id`` (which is never sent twice): a runner
killed between the two writes collects the page again on resume, and the ledger's idempotent insert
stores each row once. The writer commits each page in one transaction, or keeps it in its pending
file when the ledger is down, so no result's row is lost and none is counted twice.

A result's row: its job's ``task`` and ``source`` (``batch``, or ``eval`` for ``clawback eval``),
the model the line asked for and the one that answered, usage and cost at batch prices
(``service_tier: batch``), and a baseline (:mod:`clawback.ledger.baseline`) at the standard tier with
the cache breakpoint the job added, if any, turned back into uncached input. Expired and canceled
requests were never processed and get no row; errored ones get a row without cost. Warm-ups are
standard-price calls only the job makes: their baseline is 0.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from clawback.ledger.record import CallRecord, stable_record_id
from clawback.ledger.results import result_record
from clawback.pricing.catalogue import Catalogue

if TYPE_CHECKING:
    from clawback.batch._db import Database
    from clawback.batch.journal import JobRecord
    from clawback.batch.outcomes import ItemResult

__all__ = ["BatchLedger", "RecordSink", "open_batch_ledger"]


class RecordSink(Protocol):
    """Where rows go: a :class:`~clawback.ledger.writer.LedgerWriter` (never raises)."""

    def record_many(self, records: Sequence[CallRecord]) -> None:
        """Write the records (or keep them pending); returns when they are safe."""
        ...


@dataclass(frozen=True, slots=True)
class Processed:
    """One result applied to its item: the line's model and whether the job added a breakpoint to it."""

    result: ItemResult
    model: str | None
    line: int


class BatchLedger:
    """Turns a job's results and warm-ups into ledger rows and writes them."""

    def __init__(
        self, sink: RecordSink, catalogue: Catalogue, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.sink = sink
        self.catalogue = catalogue
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def results(self, db: Database, job: JobRecord, batch_id: str, processed: Sequence[Processed]) -> None:
        """Record a page of processed results (before the journal commits it)."""
        ran = [p for p in processed if p.result.outcome in ("succeeded", "errored")]
        if not ran:
            return
        planned = _planned_lines(db, job.name, (p.line for p in ran))
        now = self._now()
        records = [
            result_record(
                self.catalogue,
                record_id=stable_record_id("batch", job.tag, p.result.custom_id),
                ts=now,
                requested_model=p.model or str((p.result.message or {}).get("model") or "unknown"),
                message=p.result.message,
                error=p.result.error if p.result.outcome == "errored" else None,
                source=job.options.source,
                task=job.options.task,
                keep=0 if p.line in planned else None,
                extra={"batch_job": job.name, "batch_id": batch_id, "custom_id": p.result.custom_id},
            )
            for p in ran
        ]
        self.sink.record_many(records)

    def warmup(self, job: JobRecord, group: str, attempt: int, model: str, usage: Mapping[str, Any]) -> None:
        """Record one warm-up request (before the journal records it)."""
        record = result_record(
            self.catalogue,
            record_id=stable_record_id("batch", job.tag, "warm-up", group, str(attempt)),
            ts=self._now(),
            requested_model=model,
            message={"model": model, "usage": dict(usage), "stop_reason": "max_tokens"},
            source=job.options.source,
            task=job.options.task,
            extra_call="warmup",
            extra={"batch_job": job.name, "warm_up": group},
        )
        self.sink.record_many([record])


def _planned_lines(db: Database, job: str, lines: Iterable[int]) -> set[int]:
    """Lines the job put a cache breakpoint on (a shared-prefix group, no breakpoint of the caller's own)."""
    wanted = sorted(set(lines))
    out: set[int] = set()
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        rows = db.all(
            f"SELECT line, plan FROM batch_items WHERE job = ? AND group_hash IS NOT NULL "
            f"AND line IN ({', '.join('?' for _ in part)})",
            (job, *part),
        )
        for line, plan in rows:
            caller = json.loads(plan) if plan else {}
            if not caller.get("m") and not caller.get("a"):
                out.add(int(line))
    return out


def open_batch_ledger(
    location: Any, catalogue: Catalogue, *, settings: Any = None, clock: Callable[[], float] = time.time
) -> BatchLedger:
    """A :class:`BatchLedger` writing to ``location`` (None: the settings' ledger), committing each page."""
    from clawback.ledger.api import open_writer
    from clawback.ledger.options import WriterOptions

    writer = open_writer(location, settings=settings, options=WriterOptions(mode="sync"))
    return BatchLedger(writer, catalogue, clock=clock)
