"""Damage is found and said, never silently lost (issue #11: D1, D2, E3).

* D1 — a finished job whose output file was cut short or deleted: ``batch status`` says so, and
  ``batch resume`` rebuilds it from the journal, byte for byte.
* D2 — a journal with damaged index pages: ``batch resume`` stops before sending anything, naming
  the damage, the file and the repair; a file that is not a database says the same.
* E3 — a ledger with rows that can't be decoded: ``ledger summary``/``tail``/``export`` skip and
  count them, and read the rest.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from clawback.batch import BatchRunner, JobOptions, Journal
from clawback.errors import StoreError
from clawback.ledger import open_ledger
from clawback.pricing.loader import load_catalogue
from tests.batch.support import write_input
from tests.cli.helpers import Result, assert_one_line_error, clawback, run_in_process
from tests.ledger.factories import make_record
from tests.robustness.support import KEY, echoing_emulator

FAST = ["--poll-interval", "0.05", "--max-poll-interval", "0.2", "--recover-grace", "0.2", "--no-progress"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    return run_in_process(capsys, *args)


# -- D1: the output file of a finished job ----------------------------------------------------


def test_a_cut_or_deleted_output_is_reported_and_rebuilt_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_input(tmp_path / "in.jsonl", 12)
    out = tmp_path / "out.jsonl"
    journal = ["--journal", str(tmp_path / "j.sqlite3")]
    with echoing_emulator({}) as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        done = _run(capsys, "batch", "run", str(tmp_path / "in.jsonl"), "--out", str(out), "--job", "nightly",
                    "--batch-size", "5", *journal, *FAST)  # fmt: skip
    assert done.code == 0, done.err
    monkeypatch.delenv("ANTHROPIC_BASE_URL")  # nothing below may need the API
    original = out.read_bytes()
    assert len(original.splitlines()) == 12

    for damage in ("cut", "deleted"):
        if damage == "cut":
            out.write_bytes(original[: len(original) // 2])
        else:
            out.unlink()
        status = _run(capsys, "batch", "status", "nightly", "--json", *journal)
        data = json.loads(status.out)
        assert status.code == 0 and data["output_ok"] is False
        assert ("cut short" if damage == "cut" else "missing") in data["output_problem"]
        assert "rebuild it with: clawback batch resume nightly" in status.err
        table = _run(capsys, "batch", "status", "nightly", *journal)
        assert "output damaged" in table.out
        rebuilt = _run(capsys, "batch", "resume", "nightly", *journal)
        assert rebuilt.code == 0, rebuilt.err
        assert "rebuilt" in rebuilt.err and out.read_bytes() == original
        assert json.loads(_run(capsys, "batch", "status", "nightly", "--json", *journal).out)["output_ok"]

    intact = _run(capsys, "batch", "resume", "nightly", *journal)
    assert_one_line_error(intact, "is already done; nothing to resume")


# -- D2: a damaged journal ----------------------------------------------------------------------


def _swap_index_roots(path: Path, a: str, b: str) -> None:
    """Damage two indexes the way a torn write or a bad restore does: each now holds the other's rows."""
    conn = sqlite3.connect(path)
    roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'index'").fetchall())
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (roots[b], a))
    conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (roots[a], b))
    conn.commit()
    conn.close()
    check = sqlite3.connect(path)
    assert "missing from index" in check.execute("PRAGMA integrity_check").fetchone()[0]
    assert check.execute("PRAGMA quick_check").fetchone()[0] == "ok"  # why quick_check is not enough
    check.close()


def test_resume_of_a_journal_with_damaged_indexes_stops_before_sending_and_names_the_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_input(tmp_path / "in.jsonl", 30)
    path = tmp_path / "j.sqlite3"
    journal = ["--journal", str(path)]
    saved = _run(capsys, "batch", "run", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                 "--job", "j", *journal)  # fmt: skip
    assert saved.code == 2 and "batch job j is saved" in saved.err  # no API key: recorded, nothing sent
    _swap_index_roots(path, "batch_items_done", "batch_items_status")
    requests: list[str] = []
    with echoing_emulator(
        {}, log=requests
    ) as base_url:  # a subprocess: the old runner looped here for minutes
        env = {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": KEY}
        resumed = clawback("batch", "resume", "j", *journal, *FAST, env=env, timeout=60)
    assert resumed.code == 4, resumed.err
    assert requests == ["GET /v1/models"]  # the reachability check only: nothing was sent
    assert_one_line_error(
        resumed, f"batch journal {path} is damaged", "missing from index", f"sqlite3 {path} .recover"
    )


def test_a_journal_or_ledger_that_is_not_a_database_names_the_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database " * 400)
    for args in (["batch", "status", "--journal", str(junk)], ["ledger", "summary", "--ledger", str(junk)]):
        result = _run(capsys, *args)
        assert result.code == 4
        assert_one_line_error(result, "not a database", f"sqlite3 {junk} .recover")
    book = tmp_path / "ledger.sqlite3"
    with open_ledger(book) as ledger:
        for i in range(300):
            ledger.record(make_record(i))
    cut = tmp_path / "cut.sqlite3"
    cut.write_bytes(book.read_bytes()[:8192])
    result = _run(capsys, "ledger", "summary", "--ledger", str(cut))
    assert result.code == 4
    assert_one_line_error(result, "malformed", "the file is damaged", f"sqlite3 {cut} .recover")


def test_a_journal_that_contradicts_itself_stops_the_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts that say work waits while no row can be read (damage the bounded check missed): an error, not a loop."""
    from clawback.batch import _items

    write_input(tmp_path / "in.jsonl", 5)

    class NoUpstream:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"nothing may be sent ({name})")

    with Journal.open(tmp_path / "j.sqlite3") as journal:
        steps = iter(range(50))

        def looping(label: str) -> None:  # the old runner planned nothing, forever
            if next(steps, None) is None:
                raise AssertionError("the runner loops instead of naming the damage")

        runner = BatchRunner(journal, NoUpstream(), catalogue=load_catalogue(), crash=looping)  # type: ignore[arg-type]
        runner.create(
            runner.new_job(tmp_path / "in.jsonl", tmp_path / "o.jsonl", name="j", options=JobOptions())
        )
        monkeypatch.setattr(_items, "pending_page", lambda *args, **kwargs: [])
        with pytest.raises(StoreError, match=r"is damaged \(it contradicts itself: items wait for a batch"):
            runner.run("j")


# -- E3: a ledger with rows that can't be decoded ----------------------------------------------


def test_damaged_ledger_rows_are_skipped_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite3"
    records = [make_record(i) for i in range(40)]
    with open_ledger(path) as ledger:
        for record in records:
            ledger.record(record)
    conn = sqlite3.connect(path)
    conn.execute(  # one row whose text is not UTF-8 at all (the campaign's UnicodeDecodeError)
        "UPDATE clawback_calls SET task = CAST(x'ff41' AS TEXT), record = CAST(x'7bff22' AS TEXT) WHERE id = ?",
        (records[3].id,),
    )
    conn.execute("UPDATE clawback_calls SET record = '{\"v\": 1}' WHERE id = ?", (records[7].id,))
    conn.commit()
    conn.close()
    where = ["--ledger", str(path)]
    summary = _run(capsys, "ledger", "summary", "--json", *where)
    assert summary.code == 0, summary.err
    data = json.loads(summary.out)
    assert data["calls"] == 39 and data["skipped_rows"] == 1  # the summary reads columns, not the record
    assert "skipped 1 unreadable ledger row(s)" in summary.err
    exported = _run(capsys, "ledger", "export", *where)
    assert exported.code == 0 and len(exported.out.splitlines()) == 38
    assert "skipped 2 unreadable ledger row(s)" in exported.err
    tail = _run(capsys, "ledger", "tail", "-n", "100", "--json", *where)
    assert len(json.loads(tail.out)["records"]) == 38 and json.loads(tail.out)["skipped_rows"] == 2
    table = _run(capsys, "ledger", "summary", "--by", "task", *where)
    assert table.code == 0 and "skipped 1" in table.err
