"""``clawback lint`` as a user runs it: a table or JSON, exit codes, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clawback.cli.lint import _load_body, lint
from clawback.errors import ClawbackError, UsageError
from tests.cli.helpers import assert_one_line_error, clawback

SYSTEM = "You are the support assistant for Acme Cloud. " * 60


def request(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 100,
        "system": [
            {"type": "text", "text": SYSTEM},
            {"type": "text", "text": "Now: 2026-11-25T09:41:07Z", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [{"role": "user", "content": "How do I rotate my keys?"}],
        **extra,
    }


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_table_explains_each_block_and_the_findings(tmp_path: Path) -> None:
    result = clawback("lint", write(tmp_path, "r.json", request()))
    assert result.code == 0, result.err
    assert "minimum cacheable prefix 512 tokens" in result.out
    assert "system[1]" in result.out and "write-only" in result.out
    assert "volatile_prefix" in result.out and "suggested breakpoints" in result.out


def test_json_output_and_model_override(tmp_path: Path) -> None:
    result = clawback("lint", write(tmp_path, "r.json", request()), "--model", "claude-opus-4-6", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["model"] == "claude-opus-4-6" and data["min_cacheable_tokens"] == 4096
    assert {f["code"] for f in data["findings"]} >= {"below_minimum", "volatile_prefix"}


def test_previous_request_reports_invalidating_changes(tmp_path: Path) -> None:
    before = write(tmp_path, "a.json", request())
    after = write(tmp_path, "b.json", request(tool_choice={"type": "auto"}, speed="fast"))
    result = clawback("lint", after, "--previous", before, "--json")
    changes = [f["message"] for f in json.loads(result.out)["findings"] if f["code"] == "param_change"]
    assert any(m.startswith("speed changed") for m in changes)
    assert any(m.startswith("tool_choice changed") for m in changes)


def test_a_request_the_api_would_reject_exits_one(tmp_path: Path) -> None:
    bad = request()
    bad["system"] = [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}} for _ in range(5)
    ]
    result = clawback("lint", write(tmp_path, "r.json", bad))
    assert result.code == 1 and "too_many_breakpoints" in result.out
    assert "the API would reject this request" in result.out and "(100%)" not in result.out


def test_stdin_and_a_batch_request_item(tmp_path: Path) -> None:
    result = clawback("lint", "-", "--json", stdin=json.dumps({"custom_id": "x", "params": request()}))
    assert result.code == 0 and json.loads(result.out)["model"] == "claude-sonnet-5-5"


def test_bad_previous_file_is_one_line(tmp_path: Path) -> None:
    result = clawback("lint", write(tmp_path, "r.json", request()), "--previous", str(tmp_path / "nope.json"))
    assert_one_line_error(result, "cannot read --previous")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (None, ("cannot read request",)),
        ("{not json", ("is not valid JSON",)),
        ([1, 2], ("is not a Messages request body",)),
        ({"model": "claude-haiku-3-5", "messages": []}, ("unknown model 'claude-haiku-3-5'",)),
    ],
    ids=["unreadable", "invalid-json", "not-a-body", "unknown-model"],
)
def test_bad_input_is_one_line_and_non_zero(tmp_path: Path, content: Any, fragments: tuple[str, ...]) -> None:
    path = str(tmp_path / "missing.json") if content is None else write(tmp_path, "r.json", content)
    assert_one_line_error(clawback("lint", path), *fragments)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ({"model": "claude-sonnet-5-5", "messages": "hi"}, "is not a Messages request body"),
        ({"model": "claude-sonnet-5-5", "system": 5, "messages": []}, "'system' must be"),
        (b"\xff\xfe", "is not UTF-8"),
    ],
)
def test_body_validation_in_process(tmp_path: Path, content: Any, fragment: str) -> None:
    path = tmp_path / "r.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content))
    with pytest.raises(ClawbackError, match=fragment):
        _load_body(str(path), "request")


def test_missing_model_in_process(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--model is required"):
        lint(write(tmp_path, "r.json", {"messages": []}))
