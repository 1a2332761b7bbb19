"""``clawback audit`` run as a user runs it: JSON, the terminal summary, the report, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit.helpers import log_line, usage, write_lines
from tests.cli.helpers import assert_one_line_error, clawback


@pytest.fixture
def log(tmp_path: Path) -> Path:
    lines = [
        log_line(f"2026-11-10T09:0{i}:00Z", "claude-sonnet-5-5", usage(1000, 500), task="nightly")
        for i in range(4)
    ]
    lines.append(log_line("2026-11-10T10:00:00Z", "acme-llm-2", usage(10, 5), task="eval"))
    lines.append("{broken")
    return write_lines(tmp_path / "log.jsonl", lines)


def test_json_output(log: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("version = 1\n[tasks.nightly]\nlatency_tolerant = true\n")
    result = clawback("audit", str(log), "--json", "--rules", str(rules))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 5 and data["unpriced_calls"] == 1 and data["total_usd"] == "0.028"
    assert data["savings"]["batch"]["saving_stacked_usd"] == "0.014"
    assert data["input_issues"]["malformed"] == 1
    assert data["input_issues"]["malformed_shown"][0]["line"] == 6


def test_terminal_summary_and_report(log: Path, tmp_path: Path) -> None:
    report = tmp_path / "out.html"
    result = clawback("audit", str(log), "--report", str(report))
    assert result.code == 0, result.err
    assert "Spend by model" in result.out and "Unpriced" in result.out and "acme-llm-2" in result.out
    assert (
        "1 malformed line was counted and skipped" in result.out
        and "log.jsonl:6: not valid JSON" in result.out
    )
    assert report.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["missing.jsonl"], ["cannot read", "missing.jsonl"]),
        (["{log}", "--format", "csv"], ["--format must be auto or one of"]),
        (["{log}", "--rules", "nope.toml"], ["cannot read rules file"]),
        (["{log}", "--rules", "{bad_rules}"], ["rules file", "not valid TOML"]),
        (["{log}", "--rules", "{route_rules}"], ["task 'nightly'", "unknown model 'claude-nano-9'"]),
        (["{log}", "--since", "last week"], ["--since must be a date"]),
        (["{log}", "--report", "/nonexistent/dir/r.html"], ["cannot write report"]),
        (["{notes}"], ["can't tell the format", "--format"]),
        (["{empty}"], ["empty.jsonl is empty: nothing to audit"]),
        (["{folder}"], ["nothing to audit", "no files in this folder"]),
        (["{log}", "--format", "trace"], ["no API calls found", "read as trace", "6 malformed lines"]),
        (["{log}", "--format", "claude-code"], ["no API calls found", "skipped", "wrong --format?"]),
        (["{log}", "--until", "2020-01-01"], ["no calls between --since and --until"]),
        (["{log}", "--report", "{folder}"], ["cannot write report", "is a directory"]),
        (["{log}", "--rules", "{folder}"], ["cannot read rules file"]),
        (["{log}", "--rules", "{binary_rules}"], ["rules file", "not valid TOML"]),
        (["{log}", "--keepalive-cap", "lots"], ["--keepalive-cap must be a dollar amount"]),
    ],
)
def test_one_line_errors(log: Path, tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    (tmp_path / "bad.toml").write_text("version = = 1")
    (tmp_path / "route.toml").write_text('[tasks.nightly]\nroute_to = "claude-nano-9"\n')
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "folder").mkdir()
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00")
    names = {"log": log, "bad_rules": tmp_path / "bad.toml", "route_rules": tmp_path / "route.toml",
             "notes": tmp_path / "notes.txt", "empty": tmp_path / "empty.jsonl", "folder": tmp_path / "folder",
             "binary_rules": tmp_path / "binary.toml"}  # fmt: skip
    argv = [
        a.format(**names) if "{" in a else (str(tmp_path / a) if a.endswith((".jsonl", ".toml")) else a)
        for a in args
    ]
    assert_one_line_error(clawback("audit", *argv), *fragments)


def test_skipped_lines_are_counted_readably(tmp_path: Path) -> None:
    ok = log_line("2026-11-10T09:00:00Z", "claude-sonnet-5-5", usage(1000, 500), task="t")
    error = json.dumps(
        {"timestamp": "2026-11-10T09:01:00Z", "request": {"model": "claude-sonnet-5-5"},
         "response": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}}
    )  # fmt: skip
    result = clawback("audit", str(write_lines(tmp_path / "log.jsonl", [ok, error, error])))
    assert result.code == 0, result.err
    assert "skipped: 2 × error response (not billed)" in result.out
