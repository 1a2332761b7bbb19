"""``clawback ledger``: summary, tail, export and path, run as a user would."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.ledger import open_ledger
from clawback.ledger.record import CallError
from tests.cli.helpers import assert_one_line_error, clawback
from tests.ledger.factories import cost_of, make_record


def _fill(location: str, n: int = 6) -> None:
    with open_ledger(location) as ledger:
        for i in range(n):
            ledger.record(make_record(i))
        ledger.record(make_record(n, total_usd=None, usage=None, error=CallError("APIError", "boom", 500)))


@pytest.fixture
def ledger_path(tmp_path: Path) -> str:
    path = str(tmp_path / "ledger.sqlite3")
    _fill(path)
    return path


def test_summary_json_has_calls_and_exact_total(ledger_path: str) -> None:
    result = clawback("ledger", "summary", "--ledger", ledger_path, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 7
    assert Decimal(data["total_usd"]) == sum(cost_of(i) for i in range(6))
    assert data["errors"] == 1
    assert data["unpriced_calls"] == 0
    assert {g["key"] for g in data["groups"]} == {"summarise", "classify"}
    assert data["ledger"] == ledger_path
    group = data["groups"][0]
    assert {"key", "calls", "total_usd", "input_tokens", "output_tokens", "cache_read_tokens"} <= set(group)


def test_summary_by_day_and_model_with_filters(ledger_path: str) -> None:
    by_day = json.loads(clawback("ledger", "summary", "--ledger", ledger_path, "--by", "day", "--json").out)
    assert [g["key"] for g in by_day["groups"]] == ["2026-11-20"]
    later = clawback("ledger", "summary", "--ledger", ledger_path, "--since", "2026-11-21", "--json")
    assert json.loads(later.out)["calls"] == 0
    same_day = clawback("ledger", "summary", "--ledger", ledger_path, "--until", "2026-11-20", "--json")
    assert json.loads(same_day.out)["calls"] == 7
    tasks = clawback(
        "ledger", "summary", "--ledger", ledger_path, "--by", "model", "--task", "classify", "--json"
    )
    assert json.loads(tasks.out)["calls"] == 3


def test_summary_table_uses_the_default_path(tmp_path: Path) -> None:
    _fill(str(tmp_path / "clawback-home" / "ledger.sqlite3"))
    result = clawback("ledger", "summary")
    assert result.code == 0, result.err
    assert "summarise" in result.out and "all" in result.out and "$0." in result.out


def test_tail_and_export(ledger_path: str) -> None:
    tail = clawback("ledger", "tail", "--ledger", ledger_path, "-n", "2", "--json")
    records = json.loads(tail.out)["records"]
    assert len(records) == 2 and records[-1]["error"]["type"] == "APIError"
    table = clawback("ledger", "tail", "--ledger", ledger_path)
    assert table.code == 0 and "APIError" in table.out
    export = clawback("ledger", "export", "--ledger", ledger_path, "--task", "summarise")
    lines = [json.loads(x) for x in export.out.splitlines()]
    assert len(lines) == 4 and all(x["v"] == 1 and x["task"] == "summarise" for x in lines)


def test_path_shows_the_location_in_effect(tmp_path: Path) -> None:
    assert clawback("ledger", "path").out.strip() == str(tmp_path / "clawback-home" / "ledger.sqlite3")
    env = {"CLAWBACK_LEDGER": "postgresql://u:hunter2@db/x"}
    result = clawback("ledger", "path", "--json", env=env)
    assert json.loads(result.out) == {"kind": "postgres", "location": "postgresql://u:***@db/x"}


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--ledger", "{tmp}/missing.sqlite3"), ("no ledger at",)),
        (("--ledger", "{tmp}"), ("directory",)),
        (("--ledger", "mysql://u:hunter2@h/x"), ("unsupported", "u:***@h")),
        (("--ledger", "postgresql://u:hunter2@127.0.0.1:1/x"), ("cannot connect", "u:***@127.0.0.1:1")),
        (("--by", "week"), ("--by",)),
        (("--since", "last tuesday"), ("--since",)),
    ],
)
def test_bad_input_is_one_line_without_secrets(
    tmp_path: Path, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    _fill(str(tmp_path / "clawback-home" / "ledger.sqlite3"))
    result = clawback("ledger", "summary", *(a.format(tmp=tmp_path) for a in args))
    assert_one_line_error(result, *fragments)
    assert "hunter2" not in result.err + result.out
    assert not (tmp_path / "missing.sqlite3").exists()


@pytest.mark.postgres
def test_summary_from_postgres(pg_database: str) -> None:
    _fill(pg_database)
    data = json.loads(clawback("ledger", "summary", "--ledger", pg_database, "--json").out)
    assert data["calls"] == 7
    assert Decimal(data["total_usd"]) == sum(cost_of(i) for i in range(6))
