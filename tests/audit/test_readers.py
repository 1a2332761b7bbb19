"""Each reader: what it turns into records, and malformed lines counted with their numbers, never fatal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.audit.readers import detect_format
from clawback.errors import InputFileError
from tests.audit.helpers import audit_files, log_line, read_all, usage, write_lines

BODY = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 256,
    "system": [
        {"type": "text", "text": "You classify tickets. " * 200, "cache_control": {"type": "ephemeral"}}
    ],
    "messages": [{"role": "user", "content": "my card was declined"}],
}


def test_jsonl_reads_request_response_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "log.jsonl",
        [
            log_line("2026-11-10T09:00:00Z", "claude-sonnet-5-5", usage(10, 5, read=900), task="triage",
                     request=BODY, workspace="prod", metadata={"latency_tolerant": True}),
            {"ts": 1762765201.5, "id": "msg_1", "type": "message", "model": "claude-haiku-5-5",
             "usage": usage(7, 3, w1=600)},
        ],
    )  # fmt: skip
    records, issues = read_all("jsonl", path)
    assert issues.malformed_count == 0
    first, second = records
    assert first.task == "triage" and first.workspace == "prod" and first.latency_tolerant is True
    assert (first.input_tokens, first.output_tokens, first.cache_read_input_tokens) == (10, 5, 900)
    assert first.max_tokens == 256 and first.line == 1
    assert first.shape is not None and first.shape.breakpoints == (0,)
    assert first.ts == datetime(2026, 11, 10, 9, tzinfo=UTC)
    assert second.model == "claude-haiku-5-5" and second.cache_write_1h_input_tokens == 600
    assert second.shape is None and second.task is None and second.line == 2


def test_jsonl_batch_results_and_errors(tmp_path: Path) -> None:
    message = {
        "id": "m",
        "type": "message",
        "model": "claude-haiku-5-5",
        "usage": usage(5, 5, service_tier="batch"),
    }
    path = write_lines(
        tmp_path / "log.jsonl",
        [
            {"timestamp": "2026-11-10T09:00:00Z", "custom_id": "a", "result": {"type": "succeeded", "message": message}},
            {"timestamp": "2026-11-10T09:00:00Z", "custom_id": "b", "result": {"type": "errored"}},
            {"timestamp": "2026-11-10T09:00:00Z", "response": {"type": "error", "error": {"type": "overloaded_error"}}},
        ],
    )  # fmt: skip
    records, issues = read_all("jsonl", path)
    assert len(records) == 1 and records[0].service_tier == "batch"
    assert issues.skipped == {"batch result errored (not billed)": 1, "error response (not billed)": 1}


def test_jsonl_malformed_lines_are_counted_with_line_numbers(tmp_path: Path) -> None:
    good = log_line("2026-11-10T09:00:00Z", "claude-sonnet-5-5", usage(10, 5))
    path = write_lines(
        tmp_path / "log.jsonl",
        [
            good,
            '{"timestamp": "2026-11-10T09:00:00Z", "response": {',
            log_line("2026-11-10T09:00:00Z", "claude-sonnet-5-5", usage(-1, 5)),
            {"response": {"model": "claude-sonnet-5-5", "usage": usage(1, 1)}},
            {"timestamp": "yesterday", "response": {"model": "claude-sonnet-5-5", "usage": usage(1, 1)}},
            {"timestamp": "2026-11-10T09:00:00Z", "response": {"usage": usage(1, 1)}},
            {"timestamp": "2026-11-10T09:00:00Z", "response": {"model": "claude-sonnet-5-5"}},
            {"timestamp": "2026-11-10T09:00:00Z", "response": {"model": "m", "usage": {**usage(1, 1, w5=5), "cache_creation_input_tokens": 2}}},
            "",
            good,
        ],
    )  # fmt: skip
    records, issues = read_all("jsonl", path)
    assert [r.line for r in records] == [1, 10]
    assert issues.malformed_count == 7
    lines = {i.line: i.reason for i in issues.issues}
    assert lines[2] == "not valid JSON"
    assert "input_tokens" in lines[3] and "greater than or equal to 0" in lines[3]
    assert lines[4] == "no timestamp"
    assert "not ISO 8601" in lines[5]
    assert "no model" in lines[6]
    assert lines[7] == "no usage object"
    assert "splits 5 tokens" in lines[8]
    assert issues.issues[0].describe().endswith(":2: not valid JSON")


def _cc(ts: str, msg_id: str, req: str, out: int, *, model: str = "claude-opus-4-6", **extra: object) -> dict:
    return {
        "type": "assistant", "timestamp": ts, "requestId": req, "sessionId": "s1",
        "message": {"id": msg_id, "model": model, "role": "assistant", "content": [],
                    "usage": usage(3, out, read=1000, w1=200)},
        **extra,
    }  # fmt: skip


@pytest.mark.parametrize("fast", [True, False])
def test_claude_code_keeps_one_record_per_call(tmp_path: Path, fast: bool) -> None:
    """Lines of one streamed answer are one call: its usage from the line with most output, its time from the first."""
    path = write_lines(
        tmp_path / "session.jsonl",
        [
            {
                "type": "user",
                "timestamp": "2026-02-11T20:00:00Z",
                "message": {"role": "user", "content": "hi"},
            },
            _cc("2026-02-11T20:00:01Z", "msg_a", "req_a", 10),
            _cc("2026-02-11T20:00:02Z", "msg_a", "req_a", 441),
            _cc("2026-02-11T20:00:03Z", "msg_a", "req_a", 12),
            _cc("2026-02-11T20:00:04Z", "msg_b", "req_b", 5, isSidechain=True, agentId="a1"),
            _cc("2026-02-11T20:00:05Z", "msg_c", "req_c", 5, isSidechain=True, agentId="acompact-1"),
            _cc("2026-02-11T20:00:06Z", "msg_d", "req_d", 0, model="<synthetic>"),
            "not json",
        ],
    )
    summary = audit_files([path], fast=fast)
    assert {k: (v["calls"], v["output_tokens"]) for k, v in summary["by_task"].items()} == {
        "claude-code/main": (1, 441),
        "claude-code/subagent": (1, 5),
        "claude-code/compaction": (1, 5),
    }
    assert summary["window"]["first"] == "2026-02-11T20:00:01+00:00"
    issues = summary["input_issues"]
    assert issues["skipped"]["repeated line of an API call already counted"] == 2
    assert issues["skipped"]["<synthetic> message written by Claude Code (not an API call)"] == 1
    assert issues["malformed"] == 1 and issues["malformed_shown"][0]["line"] == 8
    assert issues["lines_read"] == 8


USAGE_REPORT = {
    "data": [
        {"starting_at": "2026-11-10T00:00:00Z", "ending_at": "2026-11-11T00:00:00Z", "results": [
            {"uncached_input_tokens": 1000, "cache_read_input_tokens": 5000, "output_tokens": 200,
             "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 100},
             "server_tool_use": {"web_search_requests": 2}, "model": "claude-sonnet-5-5", "workspace_id": "wrk_1"},
            {"uncached_input_tokens": -3, "output_tokens": 1, "model": "claude-sonnet-5-5"},
            {"uncached_input_tokens": 10, "output_tokens": 1, "model": None},
        ]},
    ],
    "has_more": False,
    "next_page": None,
}  # fmt: skip


def test_admin_usage_report_as_one_document_or_jsonl_pages(tmp_path: Path) -> None:
    doc = tmp_path / "usage.json"
    doc.write_text(json.dumps(USAGE_REPORT, indent=2))
    records, issues = read_all("admin-usage", doc)
    assert len(records) == 2 and all(r.aggregated for r in records)
    first = records[0]
    assert (first.input_tokens, first.cache_read_input_tokens, first.cache_write_5m_input_tokens) == (
        1000,
        5000,
        300,
    )
    assert first.web_search_requests == 2 and first.workspace == "wrk_1"
    assert records[1].model == "(report not grouped by model)"
    assert issues.malformed_count == 1
    assert issues.issues[0].line is None and issues.issues[0].where == "data[0].results[1]"
    assert any("can't be evaluated" in n for n in issues.notes)
    pages = write_lines(tmp_path / "usage.jsonl", [USAGE_REPORT, "{oops", USAGE_REPORT])
    records, issues = read_all("admin-usage", pages)
    assert len(records) == 4
    assert [(i.line, i.reason) for i in issues.issues if i.where is None] == [(2, "not valid JSON")]


def test_admin_cost_report_amounts_are_cents(tmp_path: Path) -> None:
    report = {
        "data": [{"starting_at": "2026-11-10T00:00:00Z", "ending_at": "2026-11-11T00:00:00Z", "results": [
            {"amount": "123.45", "currency": "USD", "cost_type": "tokens", "model": "claude-sonnet-5-5",
             "token_type": "cache_creation.ephemeral_1h_input_tokens", "service_tier": "standard"},
            {"amount": "50", "currency": "USD", "cost_type": "web_search"},
            {"amount": "abc", "currency": "USD"},
        ]}],
    }  # fmt: skip
    path = tmp_path / "cost.json"
    path.write_text(json.dumps(report))
    records, issues = read_all("admin-cost", path)
    assert [(r.reported_usd, r.reported_kind) for r in records] == [
        (Decimal("1.2345"), "cache_write_1h"),
        (Decimal("0.5"), "other"),
    ]
    assert [r.model for r in records] == ["claude-sonnet-5-5", "(web_search)"]  # not a model: its cost type
    assert records[0].until == datetime(2026, 11, 11, tzinfo=UTC)
    assert issues.malformed_count == 1 and "not a decimal string" in issues.issues[0].reason


def test_trace_lines_become_shapes_served_on_the_given_model(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "trace.jsonl",
        [
            {"timestamp": 0, "input_length": 1200, "output_length": 30, "hash_ids": [1, 2, 3]},
            {"timestamp": 2500, "input_length": 700, "output_length": 5, "hash_ids": [1, 4]},
            {"timestamp": 3000, "input_length": -1, "output_length": 5, "hash_ids": [1]},
        ],
    )
    start = datetime(2026, 11, 1, tzinfo=UTC)
    records, issues = read_all("trace", path, model="claude-haiku-5-5", trace_start=start)
    assert [r.ts for r in records] == [start, datetime(2026, 11, 1, 0, 0, 2, 500000, tzinfo=UTC)]
    assert records[0].model == "claude-haiku-5-5" and records[0].input_tokens == 1200
    assert records[0].shape is not None and [b.tokens for b in records[0].shape.blocks] == [512, 512, 176]
    assert records[1].shape is not None
    assert records[0].shape.blocks[0].prefix_hash == records[1].shape.blocks[0].prefix_hash
    assert issues.malformed_count == 1 and issues.issues[0].line == 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (json.dumps({"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [1]}), "trace"),
        (json.dumps({"type": "file-history-snapshot", "messageId": "x"}), "claude-code"),
        (json.dumps(log_line("2026-11-10T09:00:00Z", "m", usage(1, 1))), "jsonl"),
        (json.dumps(USAGE_REPORT, indent=2), "admin-usage"),
        (json.dumps({"data": [{"starting_at": "x", "results": [{"amount": "1"}]}]}), "admin-cost"),
    ],
)
def test_detect_format(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "input"
    path.write_text(content + "\n")
    assert detect_format(path) == expected


def test_detect_sqlite_ledger_and_refuse_the_unknown(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    ledger.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    assert detect_format(ledger) == "ledger"
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(InputFileError, match="--format"):
        detect_format(other)
    with pytest.raises(InputFileError, match="is a directory"):
        detect_format(tmp_path)
    with pytest.raises(InputFileError, match="cannot read"):
        detect_format(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("fmt", "line", "reason"),
    [
        ("jsonl", log_line("2026-11-10T09:00:00Z", "m", usage(10**20, 1)), "usage.input_tokens"),
        ("jsonl", {**log_line("2026-11-10T09:00:00Z", "m", usage(1, 1)), "timestamp": 1e300}, "out of range"),
        ("trace", {"timestamp": 1e20, "input_length": 1, "output_length": 1, "hash_ids": [1]}, "timestamp"),
        (
            "trace",
            {"timestamp": 0, "input_length": 10**20, "output_length": 1, "hash_ids": [1]},
            "input_length",
        ),
        (
            "admin-cost",
            {
                "data": [
                    {
                        "starting_at": "2026-11-01T00:00:00Z",
                        "results": [{"amount": "1e40", "currency": "USD"}],
                    }
                ]
            },
            "out of range",
        ),
    ],
)
def test_out_of_range_numbers_are_malformed_lines_not_a_crash(
    tmp_path: Path, fmt: str, line: dict[str, object], reason: str
) -> None:
    """Counts past 64-bit integers and times past the calendar once stopped the whole audit."""
    good = {
        "jsonl": log_line("2026-11-10T09:00:01Z", "claude-haiku-5-5", usage(5, 5)),
        "trace": {"timestamp": 5, "input_length": 1, "output_length": 1, "hash_ids": [1]},
        "admin-cost": {
            "data": [
                {"starting_at": "2026-11-01T00:00:00Z", "results": [{"amount": "150", "currency": "USD"}]}
            ]
        },
    }[fmt]
    path = write_lines(tmp_path / "in.jsonl", [line, good])
    records, issues = read_all(fmt, path, trace_start=datetime(2026, 11, 1, tzinfo=UTC))
    assert issues.malformed_count == 1 and reason in issues.issues[0].reason
    assert issues.issues[0].line == 1
    assert len(records) == 1
