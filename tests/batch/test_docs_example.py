"""The batch example in docs/batch.md (and the README) is what the documented commands produce."""

from __future__ import annotations

import importlib.util
import io
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from clawback.batch import BatchRunner, JobOptions, Journal, SdkUpstream
from clawback.batch.machine import Backoff
from clawback.batch.views import print_summary
from clawback.emulator.config import BatchConfig, EmulatorConfig
from clawback.pricing.loader import load_catalogue
from tests.batch.support import emulator

REPO = Path(__file__).resolve().parents[2]


def _table(text: str) -> dict[str, str]:
    """``label -> value`` from the first summary table in ``text``."""
    start = text.index("batch job nightly — done")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if line.startswith("└"):
            break
        label, value = (cell.strip() for cell in line.strip("│").split("│"))
        rows[label] = value
    return rows


def _write_input(path: Path, count: int) -> None:
    spec = importlib.util.spec_from_file_location(
        "batch_runner_bench", REPO / "benchmarks" / "batch_runner.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_input(path, count)


def test_the_documented_example_reproduces(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "batch.md").read_text()
    assert "--write-input /tmp/demo/tickets.jsonl --count 2000" in doc
    assert "clawback batch run tickets.jsonl --out results.jsonl --warm-cache --job nightly" in doc
    documented = _table(doc)
    _write_input(tmp_path / "tickets.jsonl", 2000)
    with (
        emulator(EmulatorConfig(clock="manual", batch=BatchConfig(seconds=1))) as emu,
        Journal.open(tmp_path / "j.sqlite3") as journal,
    ):
        clock = emu.clock
        runner = BatchRunner(
            journal,
            SdkUpstream(emu.client),
            catalogue=load_catalogue(),
            clock=clock.now,
            sleep=lambda seconds: clock.advance(max(seconds, 0.001)),
            policy=Backoff(first_poll=10),
        )
        out = Path("/tmp/demo/results.jsonl")  # only shown, never written: the job writes tmp_path
        job = runner.new_job(
            tmp_path / "tickets.jsonl",
            tmp_path / "results.jsonl",
            name="nightly",
            options=JobOptions(warm_cache=True),
        )
        runner.create(job)
        summary = runner.run("nightly")
    console = Console(width=120, file=io.StringIO())
    print_summary(console, replace(summary, output_path=str(out), written=2000))
    shown = _table(console.file.getvalue())  # type: ignore[attr-defined]
    assert shown == documented
    t = summary.totals
    assert t.batch_saving + t.cache_saving == t.saving_vs_standard
    readme = (REPO / "README.md").read_text()
    for label in ("cost (batch prices, incl. cache)", "same work at standard prices", "saving"):
        assert re.search(rf"│ {re.escape(label)} +│ +{re.escape(documented[label])} │", readme), label
    assert Decimal(documented["cost (batch prices, incl. cache)"].lstrip("$")) == t.total_cost.quantize(
        Decimal("0.000001")
    )
