"""The batch journal: every job, chunk, item and event, in SQLite (default) or PostgreSQL.

The journal is the only memory a runner has. Each effect on the outside world is bracketed by
two journal writes — the *intent* before it (for a create: the chunk, its exact custom_ids via
the items assigned to it, the anchor batch and the time) and the *outcome* after it — each one
committed transaction, so a process killed at any instant leaves either the state before a step
or the state after it. :mod:`clawback.batch.runner` reads it back with :meth:`Journal.view` and
lets :func:`clawback.batch.machine.decide` choose what to do next.

Locations: a path (SQLite, WAL mode) or a ``postgresql://`` URL, exactly as for the ledger
(:mod:`clawback.storage`). The default is ``$CLAWBACK_HOME/batches.sqlite3``; ``CLAWBACK_JOURNAL``
or ``--journal`` change it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clawback.batch._db import Database, open_database
from clawback.batch._schema import MIGRATIONS
from clawback.batch.costs import CostTotals, EstimateTotals
from clawback.batch.machine import ChunkView, JobView, Phase
from clawback.batch.options import JobOptions
from clawback.errors import BatchJobError, StoreError
from clawback.redact import redact, redact_json
from clawback.settings import Settings

__all__ = ["ChunkRecord", "JobRecord", "Journal", "default_journal_location"]

_JOB_COLUMNS = (
    "name, tag, created_at, input_path, output_path, options, state, cancel_requested, estimate, items, "
    "invalid, next_chunk, done_counter, out_offset, out_lines, last_error, updated_at, finished_at"
)
_CHUNK_COLUMNS = (
    "seq, phase, size, batch_id, next_check_at, delay, failures, cancel_sent, adopted, intent_at, "
    "create_attempts, excluded, nbytes, anchor, batch_created_at, status, counts, totals, last_error"
)


def default_journal_location(settings: Settings, env: Mapping[str, str]) -> str:
    """``CLAWBACK_JOURNAL`` if set, else ``batches.sqlite3`` in the data directory."""
    return env.get("CLAWBACK_JOURNAL") or str(settings.home / "batches.sqlite3")


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as the journal holds it."""

    name: str
    tag: str
    created_at: float
    input_path: str
    output_path: str
    options: JobOptions
    state: str = "running"
    cancel_requested: bool = False
    estimate: EstimateTotals = field(default_factory=EstimateTotals)
    items: int = 0
    invalid: int = 0
    next_chunk: int = 1
    done_counter: int = 0
    out_offset: int = 0
    out_lines: int = 0
    last_error: str | None = None
    updated_at: float = 0.0
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        """True once every item is final and written."""
        return self.state in ("done", "canceled")


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk: its state-machine view plus what only reports need."""

    view: ChunkView
    nbytes: int = 0
    anchor: str | None = None
    batch_created_at: str | None = None
    status: str | None = None
    counts: Mapping[str, int] | None = None
    totals: CostTotals = field(default_factory=CostTotals)
    last_error: str | None = None


def _mask_error(fields: dict[str, Any]) -> None:
    """Mask any API key or password in an error message about to be stored (issue #11, S1)."""
    if isinstance(fields.get("last_error"), str):
        fields["last_error"] = redact(fields["last_error"])


def _job(row: tuple[Any, ...]) -> JobRecord:
    return JobRecord(
        name=row[0],
        tag=row[1],
        created_at=float(row[2]),
        input_path=row[3],
        output_path=row[4],
        options=JobOptions.from_json(json.loads(row[5])),
        state=row[6],
        cancel_requested=bool(row[7]),
        estimate=EstimateTotals.from_json(json.loads(row[8]) if row[8] else None),
        items=int(row[9]),
        invalid=int(row[10]),
        next_chunk=int(row[11]),
        done_counter=int(row[12]),
        out_offset=int(row[13]),
        out_lines=int(row[14]),
        last_error=None if row[15] is None else redact(row[15]),
        updated_at=float(row[16]),
        finished_at=None if row[17] is None else float(row[17]),
    )


def _chunk(row: tuple[Any, ...], unwarmed: int = 0) -> ChunkRecord:
    view = ChunkView(
        seq=int(row[0]),
        phase=Phase(row[1]),
        size=int(row[2]),
        batch_id=row[3],
        next_check_at=float(row[4]),
        delay=float(row[5]),
        failures=int(row[6]),
        cancel_sent=bool(row[7]),
        adopted=bool(row[8]),
        unwarmed=unwarmed,
        intent_at=None if row[9] is None else float(row[9]),
        create_attempts=int(row[10]),
        excluded=tuple(json.loads(row[11] or "[]")),
    )
    return ChunkRecord(
        view=view,
        nbytes=int(row[12]),
        anchor=row[13],
        batch_created_at=row[14],
        status=row[15],
        counts=json.loads(row[16]) if row[16] else None,
        totals=CostTotals.from_json(json.loads(row[17]) if row[17] else None),
        last_error=None if row[18] is None else redact(row[18]),
    )


class Journal:
    """Jobs, chunks, items and events in one store; every method is one committed step."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    @classmethod
    def open(
        cls, location: str | Path, *, create: bool = True, clock: Callable[[], float] = time.time
    ) -> Journal:
        """The journal at a path or ``postgresql://`` URL, migrated to the current schema."""
        return cls(open_database(location, MIGRATIONS, create=create), clock=clock)

    @property
    def display(self) -> str:
        """Where the journal lives, password masked."""
        return self.db.location.display

    def close(self) -> None:
        """Close the store."""
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs ---------------------------------------------------------------------------------
    def insert_job(self, job: JobRecord) -> None:
        """Record a new job; a name already used is a :class:`BatchJobError`."""
        if self.db.one("SELECT 1 FROM batch_jobs WHERE name = ?", (job.name,)):
            raise BatchJobError(
                f"a batch job named {job.name!r} already exists; resume it or pick another --job"
            )
        self.db.execute(
            f"INSERT INTO batch_jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 18)})",
            (
                job.name,
                job.tag,
                job.created_at,
                job.input_path,
                job.output_path,
                json.dumps(job.options.to_json()),
                job.state,
                int(job.cancel_requested),
                json.dumps(job.estimate.to_json()),
                job.items,
                job.invalid,
                job.next_chunk,
                job.done_counter,
                job.out_offset,
                job.out_lines,
                job.last_error,
                job.created_at,
                job.finished_at,
            ),
        )

    def has_job(self, name: str) -> bool:
        """True when a job of that name exists."""
        return self.db.one("SELECT 1 FROM batch_jobs WHERE name = ?", (name,)) is not None

    def tag_in_use(self, tag: str) -> bool:
        """True when another job already uses ``tag``."""
        return self.db.one("SELECT 1 FROM batch_jobs WHERE tag = ?", (tag,)) is not None

    def job(self, name: str) -> JobRecord:
        """The job, or a :class:`BatchJobError` naming the known ones."""
        row = self.db.one(f"SELECT {_JOB_COLUMNS} FROM batch_jobs WHERE name = ?", (name,))
        if row is None:
            known = [
                r[0] for r in self.db.all("SELECT name FROM batch_jobs ORDER BY created_at DESC LIMIT 5")
            ]
            hint = f"; recent jobs: {', '.join(known)}" if known else "; the journal has no jobs"
            raise BatchJobError(f"no batch job named {name!r} in {self.display}{hint}")
        return _job(row)

    def jobs(self, limit: int = 100) -> list[JobRecord]:
        """The newest jobs first."""
        rows = self.db.all(
            f"SELECT {_JOB_COLUMNS} FROM batch_jobs ORDER BY created_at DESC LIMIT ?", (limit,)
        )
        return [_job(r) for r in rows]

    def update_job(self, name: str, **fields: Any) -> None:
        """Set columns of the job row (``updated_at`` too); an error message is stored masked."""
        _mask_error(fields)
        fields["updated_at"] = self.clock()
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE batch_jobs SET {sets} WHERE name = ?", (*fields.values(), name))

    def request_cancel(self, name: str) -> None:
        """Record that the job is to be canceled (a runner picks it up on its next step)."""
        self.job(name)
        self.update_job(name, cancel_requested=1)
        self.log(name, "cancel_requested")

    def next_done_order(self, name: str) -> int:
        """Take the next completion counter value (call inside the transaction that uses it)."""
        self.db.execute("UPDATE batch_jobs SET done_counter = done_counter + 1 WHERE name = ?", (name,))
        row = self.db.one("SELECT done_counter FROM batch_jobs WHERE name = ?", (name,))
        assert row is not None
        return int(row[0])

    # -- events -------------------------------------------------------------------------------
    def log(
        self, name: str, kind: str, chunk: int | None = None, data: Mapping[str, Any] | None = None
    ) -> None:
        """Append one event."""
        self.db.execute(
            "INSERT INTO batch_events (job, at, chunk, kind, data) VALUES (?, ?, ?, ?, ?)",
            (name, self.clock(), chunk, kind, json.dumps(redact_json(data)) if data else None),
        )

    def events(self, name: str, limit: int = 1000) -> list[tuple[float, int | None, str, dict[str, Any]]]:
        """The job's events, oldest first."""
        rows = self.db.all(
            "SELECT at, chunk, kind, data FROM batch_events WHERE job = ? ORDER BY id LIMIT ?", (name, limit)
        )
        return [(float(r[0]), r[1], r[2], json.loads(r[3]) if r[3] else {}) for r in rows]

    # -- chunks -------------------------------------------------------------------------------
    def chunks(self, name: str) -> list[ChunkRecord]:
        """Every chunk of the job, in order."""
        rows = self.db.all(f"SELECT {_CHUNK_COLUMNS} FROM batch_chunks WHERE job = ? ORDER BY seq", (name,))
        return [_chunk(r) for r in rows]

    def chunk(self, name: str, seq: int) -> ChunkRecord:
        """One chunk."""
        row = self.db.one(f"SELECT {_CHUNK_COLUMNS} FROM batch_chunks WHERE job = ? AND seq = ?", (name, seq))
        if row is None:
            raise BatchJobError(f"job {name!r} has no chunk {seq}")
        return _chunk(row)

    def insert_chunk(self, name: str, seq: int, size: int, nbytes: int) -> None:
        """A new PLANNED chunk."""
        self.db.execute(
            "INSERT INTO batch_chunks (job, seq, phase, size, nbytes) VALUES (?, ?, ?, ?, ?)",
            (name, seq, Phase.PLANNED.value, size, nbytes),
        )

    def save_chunk(self, name: str, view: ChunkView, **extra: Any) -> None:
        """Store the chunk's new state (and any of anchor, status, counts, totals, last_error...)."""
        fields: dict[str, Any] = {
            "phase": view.phase.value,
            "batch_id": view.batch_id,
            "next_check_at": view.next_check_at,
            "delay": view.delay,
            "failures": view.failures,
            "cancel_sent": int(view.cancel_sent),
            "adopted": int(view.adopted),
            "intent_at": view.intent_at,
            "create_attempts": view.create_attempts,
            "excluded": json.dumps(list(view.excluded)),
        }
        for key, value in extra.items():
            fields[key] = json.dumps(value) if key == "counts" else value
        _mask_error(fields)
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE batch_chunks SET {sets} WHERE job = ? AND seq = ?", (*fields.values(), name, view.seq)
        )

    def claimed_batch_ids(self) -> frozenset[str]:
        """Every batch id any chunk of any job in this journal holds."""
        return frozenset(
            r[0] for r in self.db.all("SELECT batch_id FROM batch_chunks WHERE batch_id IS NOT NULL")
        )

    # -- what the state machine reads ----------------------------------------------------------
    def status_counts(self, name: str) -> dict[str, int]:
        """Items per status and per outcome (keys ``status:...`` and ``outcome:...``)."""
        out: dict[str, int] = {}
        rows = self.db.all(
            "SELECT status, outcome, COUNT(*) FROM batch_items WHERE job = ? GROUP BY status, outcome",
            (name,),
        )
        for status, outcome, count in rows:
            out[f"status:{status}"] = out.get(f"status:{status}", 0) + int(count)
            if outcome:
                out[f"outcome:{outcome}"] = out.get(f"outcome:{outcome}", 0) + int(count)
        return out

    def count_status(self, name: str, status: str) -> int:
        """Items in one status (an index range scan: cheap for the small statuses the loop asks about)."""
        row = self.db.one("SELECT COUNT(*) FROM batch_items WHERE job = ? AND status = ?", (name, status))
        return int(row[0]) if row else 0

    def unwarmed(self, name: str, seq: int) -> int:
        """Prefix groups of a chunk whose warm-up has not been sent (groups of two or more)."""
        row = self.db.one(
            "SELECT COUNT(DISTINCT g.hash) FROM batch_groups g JOIN batch_items i "
            "ON i.job = g.job AND i.group_hash = g.hash WHERE g.job = ? AND i.chunk = ? "
            "AND i.status = 'assigned' AND g.n >= 2 AND (g.warm_state IS NULL OR g.warm_state = 'sending')",
            (name, seq),
        )
        return int(row[0]) if row else 0

    def view(self, name: str) -> JobView:
        """Everything :func:`~clawback.batch.machine.decide` reads."""
        job = self.job(name)
        chunks = []
        for record in self.chunks(name):
            view = record.view
            if job.options.warm_cache and view.phase is Phase.PLANNED:
                view = replace(view, unwarmed=self.unwarmed(name, view.seq))
            chunks.append(view)
        return JobView(
            chunks=tuple(chunks),
            pending_items=self.count_status(name, "pending"),
            unwritten_items=self.count_status(name, "final"),
            cancel_requested=job.cancel_requested,
            warm_cache=job.options.warm_cache,
            finished=job.finished,
        )

    # -- damage ---------------------------------------------------------------------------------
    def check_sound(self, *, budget_s: float = 2.0) -> None:
        """Raise :class:`~clawback.errors.StoreError` naming the damage and the repair if SQLite's
        integrity check (bounded by ``budget_s``) finds the journal damaged."""
        problem = self.db.integrity_problem(budget_s)
        if problem is not None:
            raise self.db.damage(problem)

    def contradiction(self, what: str) -> StoreError:
        """The error for a journal that contradicts itself (``what``): damage if a full check finds it."""
        problem = self.db.integrity_problem(budget_s=60.0)
        return self.db.damage(problem or f"it contradicts itself: {what}")

    # -- the runner lock ------------------------------------------------------------------------
    @contextlib.contextmanager
    def runner_lock(self, name: str) -> Iterator[None]:
        """Hold the job's lock; a :class:`BatchJobError` if a live process holds it already."""
        if not self.db.try_lock(name):
            raise BatchJobError(
                f"batch job {name!r} is being run by another process; wait for it or cancel it"
            )
        try:
            yield
        finally:
            self.db.release_lock(name)

    def try_lock(self, name: str) -> bool:
        """Take the job's lock if free (released by :meth:`release_lock` or when the process dies)."""
        return self.db.try_lock(name)

    def release_lock(self, name: str) -> None:
        """Release a lock taken with :meth:`try_lock`."""
        self.db.release_lock(name)
