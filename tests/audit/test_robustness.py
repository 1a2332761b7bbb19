"""Issue #11, the audit's share: bad input is a counted line or a one-line error, never a crash, a hang or a leak."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from clawback.ledger import open_ledger
from tests.audit.helpers import audit_files, log_line, usage, write_lines
from tests.cli.helpers import assert_one_line_error, clawback
from tests.ledger.factories import make_record

GOOD = log_line("2026-11-10T09:00:00Z", "claude-sonnet-5-5", usage(1000, 50), task="t")
INTERNAL_ERROR = 70


def test_b1_json_nested_thousands_deep_is_a_skipped_file_or_a_malformed_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 5000 + "]" * 5000 + "\n")
    result = clawback("audit", str(deep))
    assert result.code != INTERNAL_ERROR
    assert_one_line_error(result, "nothing to audit", "can't tell the format")
    mixed = write_lines(tmp_path / "mixed.jsonl", ['{"a": ' * 2000 + "1" + "}" * 2000, GOOD])
    data = json.loads(clawback("audit", str(mixed), "--format", "jsonl", "--json").out)
    assert data["calls"] == 1
    assert data["input_issues"]["malformed_shown"][0]["reason"] == "JSON nested deeper than 128 levels"


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "5138-11-16T09:46:40Z"])
def test_b2_dates_outside_2023_to_2100_are_malformed_lines_not_a_window(
    tmp_path: Path, stamp: str, fast: bool
) -> None:
    bad = log_line(stamp, "claude-sonnet-5-5", usage(1000, 50), task="t")
    data = audit_files([write_lines(tmp_path / "log.jsonl", [bad, GOOD])], fast=fast)
    assert data["calls"] == 1 and data["window"]["first"] == data["window"]["last"]
    issue = data["input_issues"]["malformed_shown"][0]
    assert issue["line"] == 1 and "outside the years 2023–2100" in issue["reason"]


def test_b2_epoch_seconds_of_year_5138_are_malformed(tmp_path: Path) -> None:
    bad = {**GOOD, "timestamp": 99999999999}
    data = audit_files([write_lines(tmp_path / "log.jsonl", [bad, GOOD])])
    assert data["calls"] == 1 and data["input_issues"]["malformed"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_b3_a_named_pipe_is_read_once_not_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "log.pipe"
    os.mkfifo(fifo)
    payload = (json.dumps(GOOD) + "\n").encode()

    def feed() -> None:
        with fifo.open("wb") as out:
            out.write(payload)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = clawback("audit", str(fifo), "--json", timeout=60)
    writer.join(timeout=10)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 1 and data["inputs"][0]["path"] == str(fifo)


@pytest.mark.parametrize("fast", [True, False])
def test_l1_a_utf8_bom_does_not_make_the_first_line_malformed(tmp_path: Path, fast: bool) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(GOOD) + "\n").encode() * 2)
    data = audit_files([path], fast=fast)
    assert data["calls"] == 2 and data["input_issues"]["malformed"] == 0


def test_l1_the_same_log_twice_is_read_once_with_a_note(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.jsonl", [GOOD, GOOD])
    data = json.loads(clawback("audit", str(path), str(path), "--json").out)
    assert data["calls"] == 2 and len(data["inputs"]) == 1
    assert any("given more than once" in note for note in data["input_issues"]["notes"])


def test_e3_one_damaged_ledger_row_is_one_malformed_record(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with open_ledger(str(path)) as ledger:
        for i in range(20):
            ledger.record(make_record(i))
    conn = sqlite3.connect(path)
    (rid,) = conn.execute("SELECT id FROM clawback_calls ORDER BY ts LIMIT 1 OFFSET 7").fetchone()
    conn.execute("UPDATE clawback_calls SET record = CAST(X'7bff22' AS TEXT) WHERE id = ?", (rid,))
    conn.commit()
    conn.close()
    result = clawback("audit", str(path), "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 19
    issue = data["input_issues"]["malformed_shown"][0]
    assert issue["line"] == 8 and "not UTF-8" in issue["reason"]


def test_s2_no_password_of_a_ledger_url_in_any_output(tmp_path: Path, pg_database: str) -> None:
    url = pg_database.replace("clawback@", "clawback:hunter2-S3cret@")
    with open_ledger(url) as ledger:
        for i in range(4):
            ledger.record(make_record(i))
    report = tmp_path / "r.html"
    result = clawback("audit", url, "--report", str(report), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["calls"] == 4
    for text in (result.out, result.err, report.read_text(), clawback("audit", url).out):
        assert "hunter2-S3cret" not in text


def test_s2_an_unreachable_ledger_url_is_an_error_without_its_password() -> None:
    result = clawback("audit", "postgresql://u:hunter2-S3cret@127.0.0.1:1/x", "--json")
    assert_one_line_error(result)
    assert "hunter2-S3cret" not in result.out + result.err


@pytest.mark.parametrize("fast", [True, False])
def test_i1_i2_markup_and_escapes_in_labels_are_printed_not_obeyed(tmp_path: Path, fast: bool) -> None:
    lines = [
        log_line(
            "2026-11-10T09:00:00Z",
            "claude-sonnet-5-5",
            usage(1000, 50),
            task="[/bold][link=http://x]t[/link]",
        ),
        log_line("2026-11-10T09:01:00Z", "acme-\x1b]0;owned\x07llm", usage(10, 5), task="esc\x1b[2Jape"),
    ]
    path = write_lines(tmp_path / "log.jsonl", lines)
    args = [str(path)] if fast else [str(path), "--format", "jsonl"]
    result = clawback("audit", *args)
    assert result.code == 0, result.err
    assert "[/bold][link=http://x]t[/link]" in result.out
    assert "\x1b" not in result.out and "\\x1b" in result.out and "\x07" not in result.out
