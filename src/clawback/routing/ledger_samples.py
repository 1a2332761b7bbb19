"""Eval samples from the ledger: a task's calls whose text sample was retained (opt-in)."""

from __future__ import annotations

from clawback.errors import UsageError
from clawback.routing.evaluate import EvalSample
from clawback.routing.samples import sample_from_record

__all__ = ["ledger_samples"]


def ledger_samples(location: str | None, task: str) -> list[EvalSample]:
    """Every call of ``task`` in the ledger at ``location`` (default: the settings') with a sample."""
    from clawback.ledger.api import open_ledger

    with open_ledger(location, create=False) as ledger:
        samples = [
            sample_from_record(record.id, record.sample)
            for record in ledger.iter_records(task=task)
            if record.sample and record.error is None
        ]
    if not samples:
        raise UsageError(
            f"the ledger has no retained samples for task {task!r}; turn on sample retention in the client, "
            "or evaluate a JSONL dataset"
        )
    return samples
