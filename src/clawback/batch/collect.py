"""Collecting an ended batch: stream its results into the journal, page by page, idempotently.

Each page of up to 1,000 result lines is one transaction: the items it finishes (or sends back to
be retried), the chunk's running cost totals and the completion counter move together. A result
whose item is no longer assigned to this chunk was recorded by an earlier, interrupted collect and
is skipped, so collecting again after a crash adds nothing twice. Items the results file does not
mention are treated as errored (``missing_result``) and retried like any transient error.

A batch adopted while looking for a lost create is checked here: if its first result does not
carry this chunk's custom_id prefix, nothing is recorded and the chunk disowns it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from clawback.batch import _items
from clawback.batch.costs import CostTotals, price_result
from clawback.batch.ids import parse_custom_id
from clawback.batch.journal import JobRecord, Journal
from clawback.batch.ledger import BatchLedger, Processed
from clawback.batch.outcomes import ItemResult, classify_result, next_step
from clawback.batch.upstream import Upstream, UpstreamFailure, parse_result_line
from clawback.pricing.catalogue import Catalogue, ModelInfo
from clawback.pricing.cost import format_usd, parse_usage
from clawback.redact import redact_json

__all__ = ["CollectOutcome", "Collector", "resolve"]

_MISSING = {"type": "missing_result", "message": "the batch's results did not include this request"}
_ARCHIVED = {
    "type": "results_unavailable",
    "message": "the batch's results were archived (29 days after creation) before they were collected",
}


@dataclass(frozen=True, slots=True)
class CollectOutcome:
    """How a collect ended: ``collected``, or ``disowned`` (the batch was not this chunk's)."""

    kind: str
    results: int = 0
    foreign: int = 0


def _price(result: ItemResult, info: ModelInfo | None, at: date | None) -> tuple[str | None, CostTotals]:
    usage = result.usage
    if result.outcome != "succeeded" or usage is None or info is None:
        return None, CostTotals()
    totals = price_result(parse_usage(usage), info, at)
    return json.dumps(usage, separators=(",", ":")), totals


def resolve(
    result: ItemResult,
    item: _items.ItemRow,
    *,
    job: JobRecord,
    batch_id: str,
    info: ModelInfo | None,
    at: date | None,
) -> tuple[_items.ItemUpdate, CostTotals]:
    """The update one result makes to its item, and the cost it adds."""
    step = next_step(result, item.attempts, job.options.max_attempts, canceling=job.cancel_requested)
    # An error is masked before it is stored: an upstream may echo the API key in its message.
    payload = result.message if result.outcome == "succeeded" else redact_json(result.error)
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if step == "retry":
        return _items.ItemUpdate(item.line, final=False, result=text, batch_id=batch_id), CostTotals()
    usage, totals = _price(result, info, at)
    update = _items.ItemUpdate(
        item.line,
        final=True,
        outcome=result.outcome,
        result=text,
        usage=usage,
        cost=format_usd(totals.cost),
        batch_id=batch_id,
    )
    return update, totals


class Collector:
    """Streams one chunk's results into the journal."""

    def __init__(
        self,
        journal: Journal,
        upstream: Upstream,
        catalogue: Catalogue,
        *,
        crash: Callable[[str], None] | None = None,
        ledger: BatchLedger | None = None,
    ) -> None:
        self.journal = journal
        self.upstream = upstream
        self.catalogue = catalogue
        self.crash = crash or (lambda label: None)
        self.ledger = ledger
        self._models: dict[str, ModelInfo] = {}

    def _info(self, model: str | None) -> ModelInfo | None:
        if model is None:
            return None
        if model not in self._models:
            self._models[model] = self.catalogue.resolve(model)
        return self._models[model]

    def collect(self, name: str, seq: int) -> CollectOutcome:
        """Record every result of chunk ``seq``; :class:`UpstreamFailure` if the stream breaks."""
        job = self.journal.job(name)
        chunk = self.journal.chunk(name, seq)
        batch_id = chunk.view.batch_id
        assert batch_id is not None
        at = _date(chunk.batch_created_at)
        seen = foreign = 0
        if self.upstream.retrieve(batch_id).archived:
            self._missing(job, seq, batch_id, _ARCHIVED, retry=False)
            return CollectOutcome("collected")
        with self.upstream.results(batch_id) as lines:
            page: list[ItemResult] = []
            for line in lines:
                result = classify_or_fail(parse_result_line(line))
                if seen == 0 and chunk.view.adopted and not _ours(result.custom_id, job.tag, seq):
                    return CollectOutcome("disowned")
                seen += 1
                page.append(result)
                if len(page) >= _items.PAGE:
                    foreign += self._apply(job, seq, batch_id, page, at=at)
                    page = []
            foreign += self._apply(job, seq, batch_id, page, at=at)
        self._missing(job, seq, batch_id, _MISSING, retry=True)
        return CollectOutcome("collected", seen, foreign)

    def _apply(
        self, job: JobRecord, seq: int, batch_id: str, page: list[ItemResult], *, at: date | None
    ) -> int:
        if not page:
            return 0
        keyed: dict[str, ItemResult] = {}
        foreign = 0
        for result in page:
            parsed = parse_custom_id(result.custom_id)
            if parsed is None or parsed.tag != job.tag or parsed.chunk != seq:
                foreign += 1
                continue
            keyed[parsed.key] = result
        items = _items.items_by_key(self.journal.db, job.name, keyed)
        updates: list[_items.ItemUpdate] = []
        processed: list[Processed] = []
        delta = CostTotals()
        for key, result in keyed.items():
            item = items.get(key)
            if item is None or item.chunk != seq or item.status != "assigned":
                continue
            update, totals = resolve(
                result, item, job=job, batch_id=batch_id, info=self._info(item.model), at=at
            )
            updates.append(update)
            processed.append(Processed(result, item.model, item.line))
            delta += totals
        if self.ledger is not None:  # first: a crash before the commit records the page again, same ids
            self.ledger.results(self.journal.db, job, batch_id, processed)
            self.crash("collect:ledger")
        self._commit(job.name, seq, updates, delta)
        return foreign

    def _commit(self, name: str, seq: int, updates: list[_items.ItemUpdate], delta: CostTotals) -> None:
        if not updates:
            return
        with self.journal.db.transaction():
            order = self.journal.next_done_order(name)
            _items.apply_updates(self.journal.db, name, seq, updates, done_order=order)
            totals = self.journal.chunk(name, seq).totals + delta
            self.journal.db.execute(
                "UPDATE batch_chunks SET totals = ? WHERE job = ? AND seq = ?",
                (json.dumps(totals.to_json()), name, seq),
            )
        self.crash("collect:page")

    def _missing(
        self, job: JobRecord, seq: int, batch_id: str, error: Mapping[str, str], *, retry: bool
    ) -> None:
        """Items the results did not cover: errored, retried like a transient error when ``retry``."""
        final = job if retry else replace(job, options=replace(job.options, max_attempts=1))
        while True:
            rows = _items.leftovers(self.journal.db, job.name, seq)
            if not rows:
                return
            result = ItemResult("", "errored", error=error)
            updates = [
                resolve(result, item, job=final, batch_id=batch_id, info=None, at=None)[0] for item in rows
            ]
            self._commit(job.name, seq, updates, CostTotals())


def classify_or_fail(line: Mapping[str, Any]) -> ItemResult:
    """:func:`classify_result`, with a malformed line as an :class:`UpstreamFailure`."""
    try:
        return classify_result(line)
    except ValueError as exc:
        raise UpstreamFailure(f"malformed batch result: {exc}") from exc


def _ours(custom_id: str, tag: str, seq: int) -> bool:
    parsed = parse_custom_id(custom_id)
    return parsed is not None and parsed.tag == tag and parsed.chunk == seq


def is_ours(custom_ids: Iterable[str], tag: str, seq: int) -> bool:
    """True when the first of ``custom_ids`` belongs to chunk ``seq`` of the job tagged ``tag``."""
    first = next(iter(custom_ids), None)
    return first is not None and _ours(first, tag, seq)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None
