"""The entry point itself: Ctrl-C and the help pages read as a user expects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli.helpers import assert_one_line_error, clawback, run_in_process


def test_ctrl_c_is_one_line_and_exit_130(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    """Typer turns KeyboardInterrupt into a silent exit 130; the user is told what happened."""
    import clawback.cli.cost as cost_cli

    def interrupt(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cost_cli, "price_usage", interrupt)
    result = run_in_process(capsys, "cost", "--model", "claude-haiku-5-5", "--input", "1")
    assert_one_line_error(result, "interrupted")
    assert result.code == 130


@pytest.mark.parametrize("command", [["emulate"], ["audit"], ["lint"], ["models"], ["batch", "run"]])
def test_help_names_value_types_plainly(command: list[str]) -> None:
    """A repeatable option or a many-valued argument shows its element type, not ``<list[Path]>``."""
    r = clawback(*command, "--help")
    assert r.code == 0, r.err
    assert "list[" not in r.out and "<bool>" not in r.out


def test_eval_help_mentions_the_short_form() -> None:
    r = clawback("eval", "--help")
    assert r.code == 0 and "clawback eval DATASET" in " ".join(r.out.split())


def test_square_brackets_in_help_survive_rich_markup() -> None:
    r = clawback("eval", "train-router", "--help")
    assert r.code == 0 and "Add [learned.TASK] to the routing config" in r.out


def test_version_short_help_and_no_arguments() -> None:
    version = clawback("--version")
    assert version.code == 0 and version.out.strip().startswith("clawback ")
    assert clawback("-h").code == 0 and "Usage: clawback" in clawback("cost", "-h").out
    for args in ([], ["batch"]):
        bare = clawback(*args)  # the help, and no misleading "error: failed" line
        assert "Usage: clawback" in bare.out and bare.err == "", bare.err


def test_plain_makes_any_label_inert_for_rich_and_the_terminal() -> None:
    import io

    from rich.console import Console

    from clawback.cli._common import plain

    label = "[/bold] [link=http://evil]x[/link] \x1b[2J\x1b]0;title\x07 \u202eabc"
    buf = io.StringIO()
    Console(file=buf, force_terminal=False, width=200).print(plain(label))
    out = buf.getvalue()
    assert "[/bold]" in out and "[link=http://evil]" in out  # printed, not parsed
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out


def test_audit_ends_without_teardown_yet_writes_all_it_printed(tmp_path: Any, capsys: Any) -> None:
    """`audit` and `usage` end the process without the interpreter's teardown: everything printed,
    the report written and the store's folder removed first, exactly as the in-process run prints."""
    import json

    from clawback.audit.sample import write_sample

    log, _rules = write_sample(tmp_path / "s", scale=0.05)
    work, report = tmp_path / "work", tmp_path / "r.html"
    work.mkdir()
    args = ["audit", str(log), "--json", "--workdir", str(work)]
    result = clawback(*args, "--report", str(report))
    assert result.code == 0, result.err
    printed = json.loads(result.out)  # complete: a cut-off output would not parse
    assert printed["calls"] > 100
    assert report.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert list(work.iterdir()) == []
    here = run_in_process(capsys, *args)
    assert json.loads(here.out)["total_usd"] == printed["total_usd"]
    usage = clawback("usage", "daily", str(log), "--json")
    assert usage.code == 0 and json.loads(usage.out)["totals"]["cost_usd"]


def test_the_progress_bar_loads_rich_only_where_it_may_show(monkeypatch: Any) -> None:
    import io

    from clawback.cli._logs import Bar, _maybe_terminal

    plain_stream = io.StringIO()
    assert not _maybe_terminal(plain_stream, {})
    assert _maybe_terminal(plain_stream, {"FORCE_COLOR": "1"})
    assert _maybe_terminal(plain_stream, {"TTY_COMPATIBLE": "1"})
    assert not _maybe_terminal(plain_stream, {"TTY_COMPATIBLE": "0"})
    closed = io.StringIO()
    closed.close()
    assert not _maybe_terminal(closed, {})
    monkeypatch.setattr("sys.stderr", plain_stream)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    with Bar() as bar:  # not a terminal: a bar that counts and shows nothing
        bar.stage("reading")
        bar.total(10)
        bar.read_bytes(5)
        bar.advance(3)
    assert not bar.enabled and bar.records == 3 and plain_stream.getvalue() == ""
    monkeypatch.setenv("FORCE_COLOR", "1")
    with Bar() as bar:  # Rich is asked, and Rich decides
        bar.advance(2)
    assert bar.enabled and bar.progress is not None
