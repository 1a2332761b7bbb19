"""The README's `clawback cost`, `clawback estimate` and `clawback lint` examples are what the commands print."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cli.helpers import clawback

README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = ("cost", "estimate", "lint")


def _examples() -> list[tuple[list[str], list[str]]]:
    """(arguments, expected lines) for every console block that runs one of COMMANDS."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text("utf-8"), flags=re.DOTALL):
        lines = block.splitlines()
        if not lines or not lines[0].startswith("$ clawback "):
            continue
        command = lines.pop(0)
        while command.endswith("\\"):
            command = command[:-1] + " " + lines.pop(0).strip()
        args = shlex.split(command)[2:]
        if args[0] in COMMANDS:
            out.append((args, [line for line in lines if line.strip() not in ("", "...")]))
    return out


def _normal(text: str) -> str:
    return " ".join(text.split())


EXAMPLES = _examples()


@pytest.mark.parametrize(("args", "expected"), EXAMPLES, ids=[" ".join(a[:3]) for a, _ in EXAMPLES])
def test_readme_example_matches_the_real_output(args: list[str], expected: list[str]) -> None:
    repo = README.parent
    r = clawback(
        *(str(repo / a) if (repo / a).is_file() else a for a in args)
    )  # example files are in the repo
    printed = _normal(r.out + r.err)
    for line in expected:
        assert _normal(line) in printed, (line, r.out, r.err)


def test_readme_has_the_examples() -> None:
    commands = [args[0] for args, _ in EXAMPLES]
    assert commands.count("estimate") == 2 and "cost" in commands and "lint" in commands
    lint = next(args for args, _ in EXAMPLES if args[0] == "lint")
    assert (README.parent / lint[1]).is_file()  # the request the example lints is in the repo
