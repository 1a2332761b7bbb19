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
