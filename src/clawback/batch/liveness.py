"""Whether a live runner holds a job: what ``clawback batch status`` and ``list`` say instead of "running".

The journal's ``state`` is ``running`` until every item is final and written, whether or not a
process is working on it. The runner lock (:meth:`clawback.batch._db.Database.lock_held`) is held
by the process running the job and vanishes with it — a SIGKILL included — so an unfinished job
whose lock is free is *not running*, and the way on is ``clawback batch resume JOB``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from clawback.batch.journal import Journal
from clawback.batch.report import JobSummary

__all__ = ["Runner", "runner_of"]


@dataclass(frozen=True, slots=True)
class Runner:
    """Who works on a job: ``alive`` when a process holds its lock (``pid`` as it recorded itself)."""

    job: str
    finished: bool
    alive: bool
    pid: int | None = None

    @property
    def state(self) -> str:
        """``running (pid N)``, or ``not running`` for an unfinished job nobody holds."""
        if self.alive:
            return f"running (pid {self.pid})" if self.pid else "running"
        return "not running"

    @property
    def hint(self) -> str | None:
        """One line for an unfinished job nobody runs."""
        if self.finished or self.alive:
            return None
        return f"batch job {self.job} is not running — resume with: clawback batch resume {self.job}"

    def shown(self, summary: JobSummary) -> JobSummary:
        """``summary`` with its state as a person should read it."""
        return summary if self.finished else replace(summary, state=self.state)

    def to_json(self) -> dict[str, Any]:
        """``runner`` (alive, pid) and, when nobody runs an unfinished job, ``resume`` (the command)."""
        out: dict[str, Any] = {"runner": {"alive": self.alive, "pid": self.pid}}
        if self.hint is not None:
            out["resume"] = f"clawback batch resume {self.job}"
        return out


def _pid(journal: Journal, name: str) -> int | None:
    row = journal.db.one(
        "SELECT data FROM batch_events WHERE job = ? AND kind = 'runner_started' ORDER BY id DESC LIMIT 1",
        (name,),
    )
    try:
        pid = json.loads(row[0]).get("pid") if row and row[0] else None
    except ValueError:
        return None
    return pid if isinstance(pid, int) else None


def runner_of(journal: Journal, summary: JobSummary) -> Runner:
    """Whether a live process runs the job of ``summary`` (finished jobs need none)."""
    finished = summary.state in ("done", "canceled")
    alive = False if finished else journal.db.lock_held(summary.name)
    return Runner(summary.name, finished, alive, _pid(journal, summary.name) if alive else None)
