"""Token-count CSV traces (the Azure LLM inference schema and a generic variant): rows, header
variants, malformed rows counted with their line numbers, detection, --trace-start, and the audit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.audit.engine import AuditOptions, run_audit
from clawback.audit.readers import ReadContext, detect_format, reader_for
from clawback.audit.readers.token_csv import NO_PREFIXES, REPEATED_HEADER
from clawback.audit.records import IssueLog
from clawback.audit.rules import load_rules
from clawback.errors import InputFileError, UsageError
from clawback.pricing import load_catalogue
from tests.audit.helpers import log_line, read_all, usage, write_lines
from tests.cli.helpers import assert_one_line_error, clawback

CATALOGUE = load_catalogue()
AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens"
AZURE_ROWS = [
    "2023-11-16 18:17:03.9799600,4808,10",
    "2023-11-16 18:17:04.0319600,3180,8",
    "2023-11-16 18:18:00,100,250",
]


def _csv(path: Path, lines: list[str], *, newline: str = "\r\n") -> Path:
    """A CSV written as the Azure files are: CRLF line ends, no newline after the last row."""
    path.write_bytes(newline.join(lines).encode("utf-8"))
    return path


def test_azure_rows_become_uncached_calls_at_their_real_times(tmp_path: Path) -> None:
    path = _csv(tmp_path / "azure.csv", [AZURE_HEADER, *AZURE_ROWS])
    records, issues = read_all("token-csv", path)
    assert issues.malformed_count == 0 and issues.lines_read == 4
    assert [(r.input_tokens, r.output_tokens) for r in records] == [(4808, 10), (3180, 8), (100, 250)]
    assert [r.line for r in records] == [2, 3, 4]
    # naive times are UTC; seven fractional digits are read to the microsecond
    assert records[0].ts == datetime(2023, 11, 16, 18, 17, 3, 979960, tzinfo=UTC)
    assert records[2].ts == datetime(2023, 11, 16, 18, 18, tzinfo=UTC)
    first = records[0]
    assert first.model == "claude-sonnet-5-5" and first.task is None and first.shape is None
    assert first.cache_read_input_tokens == first.cache_write_tokens == 0
    assert NO_PREFIXES in issues.notes
    assert "token-csv: rows without a model are served on claude-sonnet-5-5 (--model)" in issues.notes


@pytest.mark.parametrize(
    "header",
    [
        "TIMESTAMP,ContextTokens,GeneratedTokens",
        "timestamp,contexttokens,generatedtokens",
        "Timestamp, Context_Tokens , GENERATED-TOKENS",
        "\ufeffTIMESTAMP,ContextTokens,GeneratedTokens",
        '"TIMESTAMP","ContextTokens","GeneratedTokens"',
        "timestamp,input_tokens,output_tokens",
        "Time,Prompt_Tokens,Completion_Tokens",
        "created_at,input_length,output_length",
    ],
)
def test_header_variants_are_matched_ignoring_case_and_separators(tmp_path: Path, header: str) -> None:
    path = _csv(tmp_path / "t.csv", [header, "2026-11-10T09:00:00Z,1200,80"], newline="\n")
    assert detect_format(path) == "token-csv"
    records, issues = read_all("token-csv", path)
    assert issues.malformed_count == 0
    assert [(r.input_tokens, r.output_tokens) for r in records] == [(1200, 80)]


def test_generic_columns_in_any_order_with_model_task_and_extra_columns(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "mine.csv",
        [
            "task,output_tokens,request_id,model,input_tokens,timestamp",
            "triage,80,r1,claude-haiku-5-5,1200,2026-11-10T09:00:00Z",
            'summarise,300,r2,"claude-opus-5-5",9000,1762765300',
            ",5,r3,,40,1762765300500",
        ],
        newline="\n",
    )
    records, issues = read_all("token-csv", path, model="claude-haiku-4-5")
    assert issues.malformed_count == 0
    assert [(r.model, r.task, r.input_tokens, r.output_tokens) for r in records] == [
        ("claude-haiku-5-5", "triage", 1200, 80),
        ("claude-opus-5-5", "summarise", 9000, 300),
        ("claude-haiku-4-5", None, 40, 5),  # empty cells: the --model, unlabelled
    ]
    # epoch seconds, and milliseconds above 10^11
    assert records[1].ts == datetime.fromtimestamp(1762765300, UTC)
    assert records[2].ts == datetime.fromtimestamp(1762765300.5, UTC)
    assert "token-csv: rows without a model are served on claude-haiku-4-5 (--model)" in issues.notes


def test_malformed_rows_are_counted_with_line_numbers_and_never_stop_the_read(tmp_path: Path) -> None:
    lines = [
        AZURE_HEADER,
        "2023-11-16 18:17:03,100,10",  # 2 good
        "yesterday,100,10",  # 3 bad time
        "2023-11-16 18:17:04,-5,10",  # 4 negative
        "2023-11-16 18:17:04,12.5,10",  # 5 not an integer
        "2023-11-16 18:17:04,100",  # 6 too few fields
        "2023-11-16 18:17:04,100,10,extra",  # 7 too many
        "",  # 8 blank: not counted, numbering continues
        "2023-11-16 18:17:04,99999999999999999999,1",  # 9 too large
        "nan,1,1",  # 10 not a time
        AZURE_HEADER,  # 11 repeated header: skipped, counted
        "2023-11-16 18:17:05,200,20",  # 12 good
    ]
    path = _csv(tmp_path / "bad.csv", lines)
    with path.open("ab") as out:
        out.write(
            b"\r\n2023-11-16 18:17:06,\xff\xfe,1\r\n2023-11-16 18:17:07,300,30"
        )  # 13 not UTF-8, 14 good
    records, issues = read_all("token-csv", path)
    assert [r.line for r in records] == [2, 12, 14]
    assert [(i.line, i.reason) for i in issues.issues] == [
        (3, "TIMESTAMP: 'yesterday' is not an ISO 8601 time or epoch seconds"),
        (4, "ContextTokens: '-5' is not a non-negative integer token count"),
        (5, "ContextTokens: '12.5' is not a non-negative integer token count"),
        (6, "2 fields where the header has 3 (TIMESTAMP,ContextTokens,GeneratedTokens)"),
        (7, "4 fields where the header has 3 (TIMESTAMP,ContextTokens,GeneratedTokens)"),
        (9, "ContextTokens: '99999999999999999999' is too large for a token count"),
        (10, "TIMESTAMP: 'nan' is out of range"),
        (13, "not UTF-8 text"),
    ]
    assert issues.malformed_count == 8
    assert issues.skipped == {REPEATED_HEADER: 1}
    assert all(i.source == str(path) for i in issues.issues)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("timestamp,input_tokens", "no output column"),
        ("when,prompt,answer", "no timestamp, input, output column"),
        ("timestamp,input_tokens,prompt_tokens,output_tokens", "two input columns"),
    ],
)
def test_a_first_line_that_is_no_header_is_one_malformed_line_naming_what_was_not_read(
    tmp_path: Path, header: str, reason: str
) -> None:
    path = _csv(tmp_path / "t.csv", [header, "2026-11-10T09:00:00Z,1,2", "2026-11-10T09:00:01Z,1,2"])
    records, issues = read_all("token-csv", path)
    assert records == [] and issues.malformed_count == 1
    issue = issues.issues[0]
    assert issue.line == 1 and reason in issue.reason and "the 2 lines after it were not read" in issue.reason


def test_trace_start_moves_every_file_by_one_offset(tmp_path: Path) -> None:
    first = _csv(tmp_path / "code.csv", [AZURE_HEADER, "2023-11-16 18:17:03,1,1", "2023-11-16 18:17:13,1,1"])
    second = _csv(tmp_path / "conv.csv", [AZURE_HEADER, "2023-11-16 18:15:46,1,1"])
    start = datetime(2026, 11, 20, tzinfo=UTC)
    reader, issues = reader_for("token-csv"), IssueLog()
    options = {"trace_start": start}
    records = [
        *reader.read(first, ReadContext(issues, 0, str(first), options=options)),
        *reader.read(second, ReadContext(issues, 1, str(second), options=options)),
    ]
    assert [r.ts for r in records] == [start, start + timedelta(seconds=10), start - timedelta(seconds=77)]
    assert any("every row moved by +1,099 days 5:42:57" in n for n in issues.notes)


def test_a_trace_dated_before_its_model_is_priced_at_the_first_rates_and_says_so(tmp_path: Path) -> None:
    path = _csv(tmp_path / "t.csv", [AZURE_HEADER, *AZURE_ROWS])
    issues = IssueLog()
    ctx = ReadContext(issues, 0, str(path), first_rates_of=lambda _m: date(2026, 9, 28))
    list(reader_for("token-csv").read(path, ctx))
    assert any(
        "calls on claude-sonnet-5-5 from 2023-11-16 are dated before its first published rates (2026-09-28)"
        in n
        for n in issues.notes
    )


def test_detection_tells_csv_from_the_other_formats(tmp_path: Path) -> None:
    # JSON lines with the same key names are not CSV
    jsonl = write_lines(tmp_path / "a.jsonl", [{"timestamp": 1, "input_tokens": 2, "output_tokens": 3}])
    with pytest.raises(InputFileError, match="can't tell the format"):
        detect_format(jsonl)
    log = write_lines(tmp_path / "b.jsonl", [log_line("2026-11-10T09:00:00Z", "m", usage(1, 1))])
    assert detect_format(log) == "jsonl"
    trace = write_lines(
        tmp_path / "c.jsonl", [{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [1]}]
    )
    assert detect_format(trace) == "trace"
    other = _csv(tmp_path / "d.csv", ["date,amount,currency", "2026-11-10,12.50,USD"])
    with pytest.raises(InputFileError, match="can't tell the format"):
        detect_format(other)
    latin = tmp_path / "e.csv"
    latin.write_bytes(b"Zeitstempel \xe9,Eingabe,Ausgabe\n")
    with pytest.raises(InputFileError, match="can't tell the format"):
        detect_format(latin)


def _plain_total(path: Path, model: str) -> Decimal:
    """Uncached input plus output at the rates in force on each row's date, by plain arithmetic."""
    info = CATALOGUE.resolve(model)
    total = Decimal(0)
    for raw in path.read_text("utf-8").splitlines()[1:]:
        ts, inp, out = raw.split(",")
        rates = info.rates_at(datetime.fromisoformat(ts).date())
        total += (int(inp) * rates.input + int(out) * rates.output) / Decimal(1_000_000)
    return total


def test_the_audit_prices_simulates_and_says_what_it_cannot(tmp_path: Path) -> None:
    rows = [
        f"2026-11-10T09:{i // 60:02d}:{i % 60:02d}Z,{1000 + 37 * i},{20 + (i * 7) % 90}" for i in range(300)
    ]
    path = _csv(tmp_path / "t.csv", ["timestamp,input_tokens,output_tokens", *rows, "bad,1,1"], newline="\n")
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'version = 1\n[tasks."(unlabelled)"]\nlatency_tolerant = true\nroute_to = "claude-haiku-5-5"\n'
    )
    summary = run_audit([str(path)], CATALOGUE, AuditOptions(rules=load_rules(rules)))
    data = summary.to_json()
    assert data["calls"] == 300 and data["unpriced_calls"] == 0
    rates = CATALOGUE.resolve("claude-sonnet-5-5").rates_at(date(2026, 11, 10))
    inputs = sum(1000 + 37 * i for i in range(300))
    outputs = sum(20 + (i * 7) % 90 for i in range(300))
    assert summary.spend.total == (inputs * rates.input + outputs * rates.output) / Decimal(1_000_000)
    assert (
        data["input_issues"]["malformed"] == 1 and data["input_issues"]["malformed_shown"][0]["line"] == 302
    )
    techniques = {t.name: t for t in summary.techniques}
    assert techniques["route"].applies and techniques["batch"].applies
    assert not techniques["cache"].applies
    assert any("no call in the input carries request data" in r for r in techniques["cache"].reasons)
    assert data["inputs"][0]["format"] == "token-csv"


def test_the_audit_total_is_plain_decimal_arithmetic(tmp_path: Path) -> None:
    path = _csv(tmp_path / "azure.csv", [AZURE_HEADER, *AZURE_ROWS])
    summary = run_audit([str(path)], CATALOGUE)
    assert summary.spend.total == _plain_total(path, "claude-sonnet-5-5")
    # 2023 is before Sonnet 5.5's first rates ($2 / $10 per million from 2026-09-28)
    assert summary.spend.total == (Decimal(4808 + 3180 + 100) * 2 + Decimal(10 + 8 + 250) * 10) / 10**6
    moved = run_audit(
        [str(path)],
        CATALOGUE,
        AuditOptions(trace_model="claude-haiku-4-5", trace_start=datetime(2026, 11, 1, tzinfo=UTC)),
    )
    assert moved.spend.first == datetime(2026, 11, 1, tzinfo=UTC)
    assert moved.spend.total == (Decimal(4808 + 3180 + 100) * 1 + Decimal(10 + 8 + 250) * 5) / 10**6


def test_cli_audits_a_csv_detected_or_forced(tmp_path: Path) -> None:
    path = _csv(tmp_path / "azure.csv", [AZURE_HEADER, *AZURE_ROWS, "2023-11-16 18:18:01,oops,1"])
    result = clawback("audit", str(path), "--json", "--model", "claude-haiku-4-5")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 3 and data["total_usd"] == "0.009428"
    assert data["inputs"] == [{"path": str(path), "format": "token-csv", "records": 3}]
    assert data["input_issues"]["malformed_shown"][0]["line"] == 5
    terminal = clawback("audit", str(path), "--format", "token-csv")
    assert terminal.code == 0, terminal.err
    assert "azure.csv:5: ContextTokens: 'oops' is not a non-negative integer token count" in terminal.out
    assert "prompt caching can't be evaluated" in terminal.out
    log = write_lines(
        tmp_path / "log.jsonl", [log_line("2026-11-10T09:00:00Z", "claude-haiku-5-5", usage(1, 1))]
    )
    assert_one_line_error(
        clawback("audit", str(log), "--format", "token-csv"),
        "no API calls found",
        "read as token-csv",
        "not a token-count CSV header",
    )


def test_unknown_format_names_token_csv() -> None:
    with pytest.raises(UsageError, match="token-csv"):
        run_audit(["x"], CATALOGUE, AuditOptions(format="csv"))
