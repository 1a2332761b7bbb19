"""Terminal output treats data as text (issue #11: I1, I2).

A task, model, job name or request field holding Rich markup (``[/bold]`` stopped ``ledger tail``
with a MarkupError; ``[link=…]`` became a live hyperlink) or raw terminal escapes (clear the screen,
set the window title) is printed as the literal text, with control characters shown as ``\\xNN``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clawback.ledger import open_ledger
from tests.cli.helpers import Result, run_in_process
from tests.ledger.factories import make_record

HOSTILE = [
    "[/bold]",
    "[link=https://e.x]c[/link]",
    "\x1b]0;pwned\x07",
    "\x1b[2J\x1b[H",
    "a\u202eb",
]


def _inert(result: Result, *shown: str) -> None:
    assert result.code in (0, 2), result.err
    assert "MarkupError" not in result.err and "internal error" not in result.err
    assert "\x1b" not in result.out and "\x07" not in result.out and "\u202e" not in result.out
    for text in shown:
        assert text in result.out, (text, result.out)


def test_ledger_views_print_hostile_labels_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite3"
    with open_ledger(path) as ledger:
        for i, label in enumerate(HOSTILE):
            ledger.record(make_record(i, task=label, served_model="[/red]m"))
    where = ["--ledger", str(path)]
    literal = ("[/bold]", "[link=https://e.x]c[/link]", "\\x1b]0;pwned\\x07", "\\x1b[2J", "[/red]m")
    _inert(run_in_process(capsys, "ledger", "tail", *where), *literal)
    _inert(run_in_process(capsys, "ledger", "summary", "--by", "task", *where), *literal[:4])
    _inert(run_in_process(capsys, "ledger", "summary", "--by", "model", *where), "[/red]m")


def test_batch_views_print_hostile_input_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        {"model": label, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]} for label in HOSTILE
    ]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    dry = run_in_process(capsys, "batch", "run", str(source), "--out", str(tmp_path / "o.jsonl"), "--dry-run")
    _inert(dry, "[/bold]", "[link=https://e.x]c[/link]", "\\x1b[2J")
    good = {"model": "claude-haiku-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    source.write_text(json.dumps(good) + "\n")
    journal = ["--journal", str(tmp_path / "j.sqlite3")]
    saved = run_in_process(capsys, "batch", "run", str(source), "--out", str(tmp_path / "[red]o.jsonl"),
                           "--job", "[/bold]job", *journal)  # fmt: skip
    assert "is saved" in saved.err  # no API key: recorded, nothing sent
    _inert(run_in_process(capsys, "batch", "status", "[/bold]job", *journal), "[/bold]job", "[red]o.jsonl")
    _inert(run_in_process(capsys, "batch", "list", *journal), "[/bold]job")


def test_lint_prints_hostile_request_fields_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "model": "claude-haiku-5-5",
        "max_tokens": 5,
        "system": [{"type": "[/bold]\x1b[2J", "text": "x"}],
        "messages": [{"role": "user", "content": [{"type": "[link=https://e.x]t[/link]", "text": "y"}]}],
    }
    path = tmp_path / "req.json"
    path.write_text(json.dumps(body))
    _inert(run_in_process(capsys, "lint", str(path)), "[/bold]\\x1b[2J", "[link=https://e.x]t[/link]")
