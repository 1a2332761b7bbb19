"""Helpers shared by the CLI command modules: consoles, settings, catalogue, JSON output."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawback.errors import UsageError
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.loader import load_catalogue
from clawback.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "catalogue_for",
    "console",
    "err_console",
    "once",
    "parse_date",
    "plain",
    "print_json",
    "printable",
    "settings",
]


def console() -> Console:
    """The standard-output console; 160 columns when not a terminal, so piped tables stay readable."""
    from rich.console import Console

    probe = Console()
    return Console(highlight=False, soft_wrap=False, width=None if probe.is_terminal else 160)


def err_console() -> Console:
    """The standard-error console, for progress and warnings."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def settings() -> Settings:
    """Settings from the config file and the process environment (the one place the CLI reads them)."""
    return Settings.load()


def catalogue_for(prices: Sequence[Path] | None = None) -> Catalogue:
    """The catalogue with ``CLAWBACK_PRICES`` and ``--prices`` overrides applied (each file once)."""
    s = settings()
    return load_catalogue(once([*s.price_files, *(prices or ())], "price file"))


def once(paths: Sequence[Path], what: str) -> list[Path]:
    """``paths`` with any file given again dropped (same file, however spelled), with a note on stderr."""
    seen: set[str] = set()
    kept: list[Path] = []
    for path in paths:
        key = os.path.realpath(path)
        if key in seen:
            sys.stderr.write(f"clawback: note: {what} {printable(path)} was given twice; it is read once\n")
            continue
        seen.add(key)
        kept.append(path)
    return kept


def parse_date(text: str | None, flag: str = "--at") -> date | None:
    """A YYYY-MM-DD date from a flag, with a one-line error otherwise."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} must be a date YYYY-MM-DD, got {text!r}") from exc


def print_json(data: Any) -> None:
    """JSON on standard output, newline-terminated, with any API key or password in it masked."""
    from clawback.redact import redact

    sys.stdout.write(redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with control and bidi characters shown as ``\\xNN`` / ``\\uNNNN`` (for plain, non-Rich output)."""
    s = str(text)
    if _CONTROL.search(s):
        s = _CONTROL.sub(
            lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256 else f"\\u{ord(m.group(0)):04x}", s
        )
    return s


def plain(text: object) -> str:
    """``text`` safe to hand to Rich as data: markup escaped, control and bidi characters shown as ``\\xNN``.

    Every label that comes from input (task, model, file name, error message) goes through this
    before a Rich table or ``print`` sees it, so ``[/bold]`` is printed, not parsed, and an escape
    sequence in a log cannot clear the screen or set the window title.
    """
    from rich.markup import escape

    s = printable(text)
    return escape(s) if "[" in s or s.endswith("\\") else s
