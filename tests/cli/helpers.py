"""Run the real ``clawback`` entry point in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class Result:
    code: int
    out: str
    err: str


def clawback(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> Result:
    """Run ``python -m clawback ARGS`` with the test's environment."""
    full_env = {**os.environ, "COLUMNS": "160", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "clawback", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """A non-zero exit with exactly one line on stderr naming what is wrong, and no traceback."""
    assert result.code != 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("clawback: error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def run_in_process(capsys: Any, *args: str) -> Result:
    """Run the CLI entry point in this process (no interpreter start-up), capturing its output."""
    from clawback.cli import main

    capsys.readouterr()
    try:
        main.run(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
