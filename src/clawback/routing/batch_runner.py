"""The evaluation runner ``clawback eval`` uses: every candidate call through the batch runner.

:class:`BatchEvalRunner` writes the requests as a batch input file, creates a job in the batch
journal (so ``clawback batch status`` shows it and a crash can be resumed), runs it through
:class:`clawback.batch.BatchRunner` — Message Batches, half price, cache planning on — and reads
the results file back. The files live in ``$CLAWBACK_HOME/eval/<job>/``. Every call is recorded in
the call ledger with ``source: eval`` and the evaluated task (``clawback ledger summary --by source``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawback.errors import InputFileError
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.cost import parse_usage
from clawback.routing.cascade import response_text
from clawback.routing.evaluate import RunRequest, RunResult
from clawback.settings import Settings

if TYPE_CHECKING:
    from clawback.batch.ledger import BatchLedger

__all__ = ["BatchEvalRunner", "read_results"]


def read_results(path: Path) -> dict[str, RunResult]:
    """Results keyed by the input line's ``id`` (our ``custom_id``), from a batch results file."""
    out: dict[str, RunResult] = {}
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InputFileError(f"cannot read batch results {path}: {exc.strerror or exc}") from exc
    for raw in lines:
        if not raw.strip():
            continue
        row = json.loads(raw)
        key = str(row.get("id"))
        message = row.get("message")
        if row.get("outcome") == "succeeded" and isinstance(message, Mapping):
            usage = parse_usage(message["usage"]) if isinstance(message.get("usage"), Mapping) else None
            out[key] = RunResult(key, text=response_text(message), usage=usage)
        else:
            error = row.get("error")
            detail = json.dumps(error)[:200] if error is not None else "no result"
            out[key] = RunResult(key, error=f"{row.get('outcome')}: {detail}")
    return out


class BatchEvalRunner:
    """Runs evaluation requests as one durable batch job (half price)."""

    def __init__(
        self,
        journal_location: str,
        client: Any,
        catalogue: Catalogue,
        work_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        ledger: BatchLedger | None = None,
        task: str | None = None,
    ) -> None:
        self.journal_location = journal_location
        self.ledger = ledger
        """Where every call is recorded (source ``eval``); None: nowhere."""
        self.task = task
        """The ledger's task of the calls (``clawback eval --task``)."""
        self.client = client
        self.catalogue = catalogue
        self.work_dir = work_dir
        self.clock = clock
        self.sleep = sleep
        self.last_job: str | None = None
        self.announce: Callable[[str], None] | None = None
        """Told, in one line, which batch job is about to run (the CLI prints it on stderr)."""

    @classmethod
    def from_settings(cls, settings: Settings, catalogue: Catalogue | None = None) -> BatchEvalRunner:
        """A runner on the settings' API key, base URL, batch journal and data directory."""
        from clawback.batch.journal import default_journal_location
        from clawback.batch.ledger import open_batch_ledger
        from clawback.pricing.loader import load_catalogue
        from clawback.routing.runners import sdk_client

        catalogue = catalogue or load_catalogue(settings.price_files)
        return cls(
            default_journal_location(settings, os.environ),
            sdk_client(settings),
            catalogue,
            settings.home / "eval",
            ledger=open_batch_ledger(None, catalogue, settings=settings),
        )

    def _files(self, requests: Sequence[RunRequest]) -> tuple[str, Path, Path]:
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%d-%H%M%S")
        name = f"eval-{stamp}-{os.urandom(3).hex()}"
        folder = self.work_dir / name
        source, out = folder / "input.jsonl", folder / "results.jsonl"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with source.open("w", encoding="utf-8") as handle:
                for r in requests:
                    handle.write(
                        json.dumps({"id": r.custom_id, "params": dict(r.body)}, ensure_ascii=False) + "\n"
                    )
        except OSError as exc:
            raise InputFileError(
                f"cannot write the eval batch input in {folder}: {exc.strerror or exc}"
            ) from exc
        return name, source, out

    def run(self, requests: Sequence[RunRequest]) -> Mapping[str, RunResult]:
        """Submit every request as one batch job, wait for it, and return the results."""
        from clawback.batch.journal import Journal
        from clawback.batch.options import JobOptions
        from clawback.batch.runner import BatchRunner
        from clawback.batch.upstream import SdkUpstream
        from clawback.reachable import check_reachable

        check_reachable(self.client)
        name, source, out = self._files(requests)
        with Journal.open(self.journal_location, clock=self.clock) as journal:
            runner = BatchRunner(
                journal,
                SdkUpstream(self.client),
                catalogue=self.catalogue,
                clock=self.clock,
                sleep=self.sleep,
                ledger=self.ledger,
            )
            job = runner.new_job(source, out, name=name, options=JobOptions(task=self.task, source="eval"))
            runner.create(job)
            if self.announce is not None:
                self.announce(
                    f"{len(requests):,} requests as batch job {name} (Message Batches, half price; "
                    f"`clawback batch status {name}` shows it; files in {source.parent})"
                )
            runner.run(job.name)
        self.last_job = name
        return read_results(out)
