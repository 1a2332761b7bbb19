"""The batch runner records every processed result and warm-up in the call ledger, once, even across crashes."""

from __future__ import annotations

import contextlib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import clawback
from clawback.batch import Journal
from clawback.batch.ledger import open_batch_ledger
from clawback.ledger.record import CallRecord
from tests.batch.support import check_exactly_once, emulator, write_input
from tests.batch.test_runner import CATALOGUE, FAULTY, Crash, crash_at, runner, start


def _rows(path: Path) -> list[CallRecord]:
    with clawback.open_ledger(path) as ledger:
        return list(ledger.iter_records())


def test_results_and_warm_ups_are_rows_whose_totals_match_the_jobs(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 30)
    ledger_path = tmp_path / "ledger.sqlite3"
    with emulator(FAULTY) as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = start(
            journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl", warm_cache=True, task="tickets"
        )
        r.ledger = r.collector.ledger = open_batch_ledger(ledger_path, CATALOGUE, clock=emu.clock.now)
        summary = r.run("job")
        lines = check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    rows = _rows(ledger_path)
    t = summary.totals
    assert all(r.source == "batch" and r.task == "tickets" for r in rows)
    warm = [r for r in rows if r.extra.get("warm_up")]
    results = [r for r in rows if not r.extra.get("warm_up")]
    assert len(warm) == t.warmups >= 1 and all(r.service_tier != "batch" for r in warm)
    assert all(r.service_tier == "batch" for r in results if r.error is None)
    succeeded = sum(1 for line in lines if line["outcome"] == "succeeded")
    assert sum(1 for r in results if r.error is None) == succeeded
    assert any(r.error is not None for r in results)  # errored attempts are calls too (not billed)
    assert len({r.extra["custom_id"] for r in results}) == len(results)
    spent = sum((r.total or Decimal(0) for r in rows), Decimal(0))
    baseline = sum((Decimal(r.baseline_usd or "0") for r in rows), Decimal(0))
    assert spent == t.total_cost  # the ledger and the job's report agree exactly
    assert baseline == t.standard_no_cache and baseline - spent == t.saving_vs_standard
    with clawback.open_ledger(ledger_path) as ledger:
        by_source = ledger.summary(by="source")
    assert [g.key for g in by_source.groups] == ["batch"] and by_source.saved_usd == t.saving_vs_standard


def test_a_crash_at_any_point_never_loses_or_doubles_a_row(tmp_path: Path) -> None:
    with emulator(FAULTY, every=4, first_404=True) as emu:
        for n in (3, 9, 17, 26, 40, 57):
            name = f"crash{n}"
            ledger_path = tmp_path / f"{name}.ledger"
            ids = write_input(tmp_path / f"{name}.jsonl", 20)
            with Journal.open(tmp_path / f"{name}.sqlite3") as journal:
                r = start(journal, emu, tmp_path / f"{name}.jsonl", tmp_path / f"{name}.out", name=name)
                tag = journal.job(name).tag
                r.ledger = r.collector.ledger = open_batch_ledger(ledger_path, CATALOGUE, clock=emu.clock.now)
                r.crash = r.collector.crash = crash_at(n)
                with contextlib.suppress(Crash):
                    r.run(name)
                r.ledger.sink.close()  # type: ignore[attr-defined]
            with Journal.open(tmp_path / f"{name}.sqlite3") as journal:
                again = runner(journal, emu)
                again.ledger = again.collector.ledger = open_batch_ledger(ledger_path, CATALOGUE)
                summary = again.run(name)
                again.ledger.sink.close()  # type: ignore[attr-defined]
            lines = check_exactly_once(tmp_path / f"{name}.out", ids, emu, max_attempts=3, tag=tag)
            rows = _rows(ledger_path)
            ok = [r for r in rows if r.error is None]
            assert len(ok) == sum(1 for line in lines if line["outcome"] == "succeeded"), n
            assert not [c for c, k in Counter(r.extra["custom_id"] for r in rows).items() if k > 1]
            assert sum((r.total or Decimal(0) for r in rows), Decimal(0)) == summary.totals.total_cost, n


def test_killed_between_the_ledger_and_the_journal_the_page_is_recorded_once(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 12)
    ledger_path = tmp_path / "ledger.sqlite3"

    def crash(label: str) -> None:
        if label == "collect:ledger":  # the rows are written, the journal has not recorded the page
            raise Crash(label)

    with emulator() as emu:
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
            r.ledger = r.collector.ledger = open_batch_ledger(ledger_path, CATALOGUE)
            r.crash = r.collector.crash = crash
            with contextlib.suppress(Crash):
                r.run("job")
            assert len(_rows(ledger_path)) == 10  # the first page (batches of 10) is in the ledger
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            again = runner(journal, emu)
            again.ledger = again.collector.ledger = open_batch_ledger(ledger_path, CATALOGUE)
            summary = again.run("job")
        check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    rows = _rows(ledger_path)
    assert (
        len(rows) == 12
        and sum((r.total or Decimal(0) for r in rows), Decimal(0)) == summary.totals.total_cost
    )
