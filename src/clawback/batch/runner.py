"""The batch runner: a thin loop around the journal and the state machine.

Each turn reads the job back from the journal (:meth:`Journal.view`), asks
:func:`~clawback.batch.machine.decide` for the one next effect, records the intent, performs the
effect against the API, and records the outcome. Nothing is kept in memory between turns, so a
runner killed anywhere is replaced by ``resume``, which runs the same loop from the same journal.

Crash points: ``crash`` (a callable taking a label) is called after every journal write and after
every API call that has an effect — the tests pass one that kills the process at the N-th call.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from clawback.batch import _items
from clawback.batch.cacheplan import warmup_params
from clawback.batch.chunking import split_into_chunks
from clawback.batch.collect import Collector, classify_or_fail
from clawback.batch.costs import CostTotals, warmup_totals
from clawback.batch.ids import chunk_prefix, new_tag, parse_custom_id
from clawback.batch.ingest import IngestReport, ingest
from clawback.batch.journal import JobRecord, Journal
from clawback.batch.ledger import BatchLedger
from clawback.batch.machine import (
    Backoff,
    CancelPending,
    ChunkView,
    Collect,
    Create,
    Effect,
    Event,
    Finish,
    GiveUp,
    Phase,
    Plan,
    Poll,
    Recover,
    SendCancel,
    Sleep,
    Warm,
    Withdraw,
    WriteOutput,
    decide,
    transition,
)
from clawback.batch.options import JobOptions
from clawback.batch.output import OutputFile
from clawback.batch.recovery import candidates, judge
from clawback.batch.report import JobSummary, summarize
from clawback.batch.upstream import Upstream, UpstreamFailure, parse_result_line
from clawback.errors import BatchJobError, UpstreamError, UsageError
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.cost import parse_usage

__all__ = ["BatchRunner"]

_HEAD = b'{"requests":['
_TAIL = b"]}"
_ITEM_FRAMING = len('{"custom_id":"","params":}')

WARM_ATTEMPTS = 3


def _no_crash(label: str) -> None:
    return None


class BatchRunner:
    """Creates, runs, resumes and cancels batch jobs recorded in a :class:`Journal`."""

    def __init__(
        self,
        journal: Journal,
        upstream: Upstream,
        *,
        catalogue: Catalogue,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
        policy: Backoff | None = None,
        crash: Callable[[str], None] | None = None,
        progress: Callable[[JobSummary], None] | None = None,
        notice: Callable[[str], None] | None = None,
        entropy: Callable[[int], bytes] = os.urandom,
        ledger: BatchLedger | None = None,
    ) -> None:
        self.journal = journal
        self.upstream = upstream
        self.catalogue = catalogue
        self.clock = clock
        self.sleep = sleep
        self.policy = policy or Backoff()
        self.crash = crash or _no_crash
        self.progress = progress
        self.notice = notice
        """Told, in one line, of each transient failure and when the next try is (the CLI prints it)."""
        self.entropy = entropy
        self.ledger = ledger
        """Where each result and warm-up is recorded as a call (``clawback ledger``); None: nowhere."""
        self.collector = Collector(journal, upstream, catalogue, crash=self.crash, ledger=ledger)

    # -- creating a job ------------------------------------------------------------------------
    def today(self) -> date:
        """The runner clock's date (UTC)."""
        return datetime.fromtimestamp(self.clock(), UTC).date()

    def new_job(
        self, source: Path, out: Path, *, name: str | None = None, options: JobOptions | None = None
    ) -> JobRecord:
        """A job record with a fresh tag (and a generated name when ``name`` is None); not stored."""
        options = options or JobOptions()
        tag = new_tag(self.entropy(8))
        while self.journal.tag_in_use(tag):
            tag = new_tag(self.entropy(8))
        now = self.clock()
        if name is None:
            name = f"{datetime.fromtimestamp(now, UTC):%Y%m%d-%H%M%S}-{tag}"
        if not name or len(name) > 100 or any(ch.isspace() for ch in name):
            raise UsageError(f"a job name must be 1-100 characters without spaces, got {name!r}")
        return JobRecord(
            name=name,
            tag=tag,
            created_at=now,
            input_path=str(source),
            output_path=str(out),
            options=options,
            updated_at=now,
        )

    def create(self, job: JobRecord, *, strict: bool = True) -> IngestReport:
        """Validate the input and record the job (nothing is sent); raises and records nothing on refusal."""
        return ingest(
            self.journal,
            job,
            Path(job.input_path),
            catalogue=self.catalogue,
            today=self.today(),
            strict=strict,
        )

    # -- running -----------------------------------------------------------------------------
    def run(self, name: str) -> JobSummary:
        """Run (or resume) the job until every item is final and written."""
        with self.journal.runner_lock(name):
            self.journal.check_sound()  # a damaged index would otherwise make the loop act on wrong counts
            job = self.journal.job(name)
            output = OutputFile(self.journal, name, Path(job.output_path), crash=self.crash)
            output.prepare()
            self.journal.log(name, "runner_started", data={"pid": os.getpid()})
            while True:
                effect = decide(self.journal.view(name), self.clock(), self.policy)
                if isinstance(effect, Finish):
                    return self._finish(name)
                if isinstance(effect, GiveUp):
                    chunk = self.journal.chunk(name, effect.seq)
                    message = (
                        f"batch job {name!r}: chunk {effect.seq} failed {effect.failures} times in a row"
                    )
                    detail = f" (last: {chunk.last_error})" if chunk.last_error else ""
                    self.journal.update_job(name, last_error=message + detail)
                    raise UpstreamError(
                        f"{message}{detail}; resume it later with: clawback batch resume {name}"
                    )
                if isinstance(effect, Sleep):
                    self.sleep(min(self.policy.max_sleep, max(0.0, effect.until - self.clock())))
                    continue
                self._perform(name, effect, output)
                if self.progress is not None:
                    self.progress(self.summary(name))

    def summary(self, name: str) -> JobSummary:
        """The job's counts, costs and state."""
        return summarize(self.journal, name)

    def cancel(self, name: str) -> bool:
        """Record a cancel; True when this process may run the job to its end (no other runner holds it)."""
        self.journal.request_cancel(name)
        for chunk in self.journal.chunks(name):
            if chunk.view.phase is Phase.SUBMITTED and chunk.view.adopted and chunk.view.batch_id:
                self._note_unproved(name, chunk.view.seq, chunk.view.batch_id)
        if self.journal.try_lock(name):
            self.journal.release_lock(name)
            return True
        return False

    def _note_unproved(self, name: str, seq: int, batch_id: str) -> None:
        if self.notice is not None:
            self.notice(
                f"batch job {name}, chunk {seq}: {batch_id} was found after an interrupted create and cannot "
                "be proved to be this job's before it ends, so it is not canceled (it might be another "
                "program's); the job waits for it to end (at most 24 h) and keeps or disowns it then"
            )

    def _finish(self, name: str) -> JobSummary:
        job = self.journal.job(name)
        if not job.finished:
            state = "canceled" if job.cancel_requested else "done"
            self.journal.update_job(name, state=state, finished_at=self.clock(), last_error=None)
            self.journal.log(name, "finished", data={"state": state})
        return self.summary(name)

    def _perform(self, name: str, effect: Effect, output: OutputFile) -> None:
        handlers: dict[type, Callable[[str, Any], None]] = {
            Plan: self._plan,
            Warm: self._warm,
            Create: self._create,
            Recover: self._recover,
            Poll: self._poll,
            SendCancel: self._send_cancel,
            Collect: self._collect,
            Withdraw: self._withdraw,
            CancelPending: self._cancel_pending,
        }
        if isinstance(effect, WriteOutput):
            if not output.flush():  # the counts said items wait to be written, yet none can be read
                raise self.journal.contradiction("finished items are counted but none can be read")
            return
        handlers[type(effect)](name, effect)

    # -- chunk state helpers ---------------------------------------------------------------------
    def _move(
        self, name: str, view: ChunkView, event: Event, *, log: dict[str, Any] | None = None, **extra: Any
    ) -> ChunkView:
        new = transition(view, event, self.clock(), self.policy)
        with self.journal.db.transaction():
            self.journal.save_chunk(name, new, **extra)
            self.journal.log(name, event.kind, view.seq, log)
        self.crash(f"chunk:{event.kind}")
        return new

    def _failed(
        self, name: str, view: ChunkView, failure: UpstreamFailure, kind: str = "check_failed"
    ) -> None:
        if not failure.transient and not failure.not_found:
            self.journal.update_job(name, last_error=str(failure))
            raise failure
        new = self._move(
            name,
            view,
            Event(kind, retry_after=failure.retry_after),
            log={"error": str(failure), "status": failure.status},
            last_error=str(failure),
        )
        if self.notice is not None:
            wait = max(0.0, new.next_check_at - self.clock())
            tries = f"failure {new.failures} of {self.policy.max_failures} in a row; " if new.failures else ""
            self.notice(f"batch job {name}, chunk {view.seq}: {failure} ({tries}next try in {wait:.0f} s)")

    # -- effects ----------------------------------------------------------------------------
    def _plan(self, name: str, effect: Plan) -> None:
        job = self.journal.job(name)
        db = self.journal.db

        def pending() -> Iterator[tuple[tuple[int, int], int]]:
            after = ("", 0)
            while True:
                page = _items.pending_page(db, name, after)
                if not page:
                    return
                yield from (((line, nbytes), nbytes) for _, line, nbytes in page)
                after = (page[-1][0], page[-1][1])

        with db.transaction():
            seq = job.next_chunk
            for chunk in split_into_chunks(pending(), job.options.limits):
                prefix = chunk_prefix(job.tag, seq)
                self.journal.insert_chunk(name, seq, len(chunk), sum(n for _, n in chunk))
                _items.assign_chunk(db, name, seq, prefix=prefix, lines=[line for line, _ in chunk])
                self.journal.log(name, "planned", seq, {"size": len(chunk)})
                seq += 1
            if seq == job.next_chunk:  # the counts said items wait for a chunk, yet none can be read
                raise self.journal.contradiction("items wait for a batch but none can be read")
            self.journal.update_job(name, next_chunk=seq)
        self.crash("plan")

    def _create(self, name: str, effect: Create) -> None:
        view = self.journal.chunk(name, effect.seq).view
        try:
            anchor = self.upstream.newest_batch_id()
        except UpstreamFailure as failure:
            self._failed(name, view, failure)
            return
        view = self._move(
            name, view, Event("intend"), log={"size": view.size, "anchor": anchor}, anchor=anchor
        )
        body, length = self._body(name, view.seq)
        try:
            info = self.upstream.create(body, length)
        except UpstreamFailure as failure:
            if failure.transient:
                self._failed(name, view, failure, "unknown")
                return
            self._move(name, view, Event("rejected"), log={"error": str(failure)}, last_error=str(failure))
            self.journal.update_job(name, last_error=str(failure))
            if failure.error_code == "enforced_spend_limit_reached":
                raise BatchJobError(
                    f"the monthly spend limit is reached, so chunk {view.seq} of job {name!r} was not sent; "
                    f"once it resets: clawback batch resume {name}"
                ) from failure
            raise BatchJobError(f"the API refused chunk {view.seq} of job {name!r}: {failure}") from failure
        self.crash("create:returned")
        self._move(
            name,
            view,
            Event("created", batch_id=info.id),
            log={"batch_id": info.id},
            batch_created_at=info.created_at,
            status=info.status,
            counts=dict(info.counts),
        )

    def _body(self, name: str, seq: int) -> tuple[Iterator[bytes], int]:
        """The create body streamed from the journal, and its exact length in bytes."""
        row = self.journal.db.one(
            "SELECT COUNT(*), SUM(nbytes), SUM(LENGTH(custom_id)) FROM batch_items "
            "WHERE job = ? AND chunk = ? AND status = 'assigned'",
            (name, seq),
        )
        count, params_bytes, id_bytes = (int(v or 0) for v in (row or (0, 0, 0)))
        length = len(_HEAD) + len(_TAIL) + max(0, count - 1) + params_bytes + id_bytes + count * _ITEM_FRAMING
        return self._body_parts(name, seq), length

    def _body_parts(self, name: str, seq: int) -> Iterator[bytes]:
        yield _HEAD
        after, first = 0, True
        while True:
            page = _items.chunk_requests(self.journal.db, name, seq, after)
            if not page:
                break
            parts = []
            for _, cid, params in page:
                parts.append(f'{"" if first else ","}{{"custom_id":"{cid}","params":{params}}}')
                first = False
            yield "".join(parts).encode("utf-8")
            after = page[-1][0]
        yield _TAIL

    def _recover(self, name: str, effect: Recover) -> None:
        job = self.journal.job(name)
        chunk = self.journal.chunk(name, effect.seq)
        view = chunk.view
        try:
            listed = self.upstream.list_since(chunk.anchor)
        except UpstreamFailure as failure:
            self._failed(name, view, failure, "still_looking")
            return
        found = candidates(
            listed, size=view.size, claimed=self.journal.claimed_batch_ids(), excluded=view.excluded
        )
        peeks: dict[str, bool] = {}
        for batch in found:
            if batch.ended:
                first = self._peek(batch.id)
                if first is not None:
                    parsed = parse_custom_id(first)
                    peeks[batch.id] = (
                        parsed is not None and parsed.tag == job.tag and parsed.chunk == view.seq
                    )
        verdict = judge(
            found, peeks, intent_at=view.intent_at or 0.0, now=self.clock(), grace=self.policy.recover_grace
        )
        log = {"candidates": [b.id for b in found], "verdict": verdict.kind, "batch_id": verdict.batch_id}
        if verdict.kind == "found":
            assert verdict.batch_id is not None
            new = self._move(name, view, Event("found", batch_id=verdict.batch_id), log=log)
            if verdict.proved:
                self.journal.save_chunk(name, replace(new, adopted=False))
            elif job.cancel_requested:
                self._note_unproved(name, view.seq, verdict.batch_id)
        elif verdict.kind == "absent":
            self._move(name, view, Event("not_created"), log=log)
        else:
            self._move(name, view, Event("still_looking"), log=log)

    def _peek(self, batch_id: str) -> str | None:
        try:
            with self.upstream.results(batch_id) as lines:
                for line in lines:
                    return classify_or_fail(parse_result_line(line)).custom_id
        except UpstreamFailure:
            return None
        return None

    def _poll(self, name: str, effect: Poll) -> None:
        chunk = self.journal.chunk(name, effect.seq)
        view = chunk.view
        assert view.batch_id is not None
        try:
            info = self.upstream.retrieve(view.batch_id)
        except UpstreamFailure as failure:
            self._failed(name, view, failure)
            return
        self._move(
            name,
            view,
            Event("polled", ended=info.ended),
            log={"status": info.status, "counts": dict(info.counts)} if info.ended else None,
            status=info.status,
            counts=dict(info.counts),
            batch_created_at=chunk.batch_created_at or info.created_at,
            last_error=None,
        )

    def _send_cancel(self, name: str, effect: SendCancel) -> None:
        view = self.journal.chunk(name, effect.seq).view
        assert view.batch_id is not None
        self.journal.log(name, "cancel_intent", view.seq, {"batch_id": view.batch_id})
        try:
            info = self.upstream.cancel(view.batch_id)
        except UpstreamFailure as failure:
            if failure.transient or failure.not_found:
                self._failed(name, view, failure)
                return
            info = None  # e.g. 400: it has already ended; nothing to cancel
        self.crash("cancel:returned")
        status = info.status if info else None
        self._move(
            name, view, Event("cancel_sent"), log={"status": status}, **({"status": status} if status else {})
        )

    def _collect(self, name: str, effect: Collect) -> None:
        view = self.journal.chunk(name, effect.seq).view
        try:
            outcome = self.collector.collect(name, effect.seq)
        except UpstreamFailure as failure:
            self._failed(name, view, failure)
            return
        if outcome.kind == "disowned":
            self._move(name, view, Event("disowned"), log={"batch_id": view.batch_id})
            return
        self._move(
            name, view, Event("collected"), log={"results": outcome.results, "foreign": outcome.foreign}
        )

    def _withdraw(self, name: str, effect: Withdraw) -> None:
        view = self.journal.chunk(name, effect.seq).view
        with self.journal.db.transaction():
            order = self.journal.next_done_order(name)
            _items.cancel_items(
                self.journal.db, name, "chunk = ? AND status = 'assigned'", (effect.seq,), done_order=order
            )
            self._move(name, view, Event("withdrawn"))

    def _cancel_pending(self, name: str, effect: CancelPending) -> None:
        with self.journal.db.transaction():
            order = self.journal.next_done_order(name)
            count = _items.cancel_items(self.journal.db, name, "status = 'pending'", (), done_order=order)
            self.journal.log(name, "pending_canceled", data={"items": count})
        self.crash("cancel_pending")

    def _warm(self, name: str, effect: Warm) -> None:
        view = self.journal.chunk(name, effect.seq).view
        row = self.journal.db.one(
            "SELECT g.hash, g.model, i.params, g.warm_attempts FROM batch_groups g JOIN batch_items i "
            "ON i.job = g.job AND i.line = g.first_line WHERE g.job = ? AND g.n >= 2 "
            "AND (g.warm_state IS NULL OR g.warm_state = 'sending') AND g.hash IN "
            "(SELECT group_hash FROM batch_items WHERE job = ? AND chunk = ? AND status = 'assigned') "
            "ORDER BY g.first_line LIMIT 1",
            (name, name, effect.seq),
        )
        if row is None:
            return
        group, model, params_text, attempts = row
        params = warmup_params(json.loads(params_text))
        with self.journal.db.transaction():
            self.journal.db.execute(
                "UPDATE batch_groups SET warm_state = 'sending', warm_attempts = warm_attempts + 1 "
                "WHERE job = ? AND hash = ?",
                (name, group),
            )
            self.journal.log(name, "warm_intent", view.seq, {"group": group})
        self.crash("warm:intent")
        try:
            usage = self.upstream.warm(params)
        except UpstreamFailure as failure:
            if failure.transient and int(attempts) + 1 < WARM_ATTEMPTS:
                self._failed(name, view, failure)
                return
            self._set_warm(name, group, "failed", totals=None, data={"error": str(failure)})
            return
        self.crash("warm:returned")
        if self.ledger is not None:  # before the journal: a crash here records it again under the same id
            self.ledger.warmup(self.journal.job(name), group, int(attempts) + 1, model, usage)
        totals = warmup_totals(parse_usage(usage), self.catalogue.resolve(model), self.today())
        self._set_warm(name, group, "done", totals=totals, data={"usage": dict(usage)})

    def _set_warm(
        self, name: str, group: str, state: str, *, totals: CostTotals | None, data: dict[str, Any]
    ) -> None:
        with self.journal.db.transaction():
            self.journal.db.execute(
                "UPDATE batch_groups SET warm_state = ?, warm_totals = ? WHERE job = ? AND hash = ?",
                (state, json.dumps(totals.to_json()) if totals else None, name, group),
            )
            self.journal.log(name, f"warm_{state}", data={"group": group, **data})
        self.crash(f"warm:{state}")
