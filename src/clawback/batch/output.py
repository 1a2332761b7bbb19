"""The results file: one line per input line, exactly once, in completion order, across any crash.

The journal is written first; the file follows it. Each flush appends the lines of items that
became final (in ``(done_order, line)`` order), fsyncs, and only then marks those items written and
records the file's new length (``out_offset``) in one transaction. A runner that starts — fresh or
after a crash — first truncates the file to ``out_offset``, dropping any lines appended but not
yet recorded; they are appended again from the journal. A file that is missing or shorter than
``out_offset`` (deleted or cut by hand) is rebuilt from the journal before going on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clawback.batch import _items
from clawback.batch.journal import JobRecord, Journal
from clawback.batch.outcomes import OutputRecord, render_output_line
from clawback.errors import InputFileError
from clawback.redact import redact_json

__all__ = ["OutputFile", "output_problem", "render_row"]


def render_row(row: tuple[Any, ...]) -> str:
    """The output line for one row of :func:`clawback.batch._items.output_page`."""
    _, line, user_id, outcome, attempts, result, cost, custom_id, batch_id = row
    payload = json.loads(result) if result else None
    succeeded = outcome == "succeeded"
    return render_output_line(
        OutputRecord(
            user_id=json.loads(user_id) if user_id else None,
            line=int(line),
            outcome=outcome,
            attempts=int(attempts),
            message=payload if succeeded else None,
            error=None if succeeded else redact_json(payload),
            cost_usd=cost or "0.00",
            custom_id=custom_id if outcome not in ("invalid",) else None,
            batch_id=batch_id,
        )
    )


def output_problem(job: JobRecord) -> str | None:
    """What is wrong with the job's output file compared with the journal, or None when it agrees.

    The journal records the file's length after every append (``out_offset``); a file that is
    missing, or shorter than that, has lost results (deleted or cut by hand, a restore from an old
    backup). A longer file is normal while a job runs (an append not yet recorded, cut on resume).
    """
    if job.out_offset <= 0 and job.out_lines <= 0:
        return None
    path = Path(job.output_path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"the output file is missing ({job.out_lines:,} result lines are in the journal)"
    except OSError as exc:
        return f"the output file cannot be read: {exc.strerror or exc}"
    if size < job.out_offset:
        return (
            f"the output file is cut short: {size:,} of {job.out_offset:,} bytes "
            f"({job.out_lines:,} result lines are in the journal)"
        )
    return None


class OutputFile:
    """Appends a job's finished items to its output file, in step with the journal."""

    def __init__(
        self, journal: Journal, name: str, path: Path, *, crash: Callable[[str], None] | None = None
    ) -> None:
        self.journal = journal
        self.name = name
        self.path = path
        self.crash = crash or (lambda label: None)

    def prepare(self) -> bool:
        """Make the file agree with the journal: cut unrecorded lines, or rebuild it; True if rebuilt."""
        job = self.journal.job(self.name)
        try:
            size = self.path.stat().st_size if self.path.exists() else -1
        except OSError as exc:
            raise InputFileError(f"cannot read output {self.path}: {exc.strerror or exc}") from exc
        if size >= job.out_offset and size >= 0:
            if size > job.out_offset:
                with self.path.open("r+b") as handle:
                    handle.truncate(job.out_offset)
                    os.fsync(handle.fileno())
            return False
        if size >= 0 or job.out_lines:
            self._rebuild()
            return True
        return False

    def _rebuild(self) -> None:
        tmp = self.path.with_name(self.path.name + ".rebuild")
        lines = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            after = (-1, 0)
            while True:
                page = _items.output_page(self.journal.db, self.name, "written", after)
                if not page:
                    break
                handle.write("".join(render_row(r) + "\n" for r in page).encode("utf-8"))
                lines += len(page)
                after = (int(page[-1][0]), int(page[-1][1]))
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        os.replace(tmp, self.path)
        self.journal.update_job(self.name, out_offset=size, out_lines=lines)
        self.journal.log(self.name, "output_rebuilt", data={"lines": lines, "bytes": size})

    def flush(self, limit: int = _items.PAGE) -> int:
        """Append up to ``limit`` finished items; how many."""
        page = _items.output_page(self.journal.db, self.name, "final", (-1, 0), limit=limit)
        if not page:
            return 0
        data = "".join(render_row(r) + "\n" for r in page).encode("utf-8")
        job = self.journal.job(self.name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            if handle.tell() != job.out_offset:
                handle.truncate(job.out_offset)
                handle.seek(job.out_offset)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        self.crash("output:appended")
        with self.journal.db.transaction():
            _items.mark_written(self.journal.db, self.name, [int(r[1]) for r in page])
            self.journal.update_job(
                self.name, out_offset=job.out_offset + len(data), out_lines=job.out_lines + len(page)
            )
        self.crash("output:recorded")
        return len(page)
