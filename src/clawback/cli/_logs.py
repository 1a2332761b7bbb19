"""What ``clawback audit`` and ``clawback usage`` share: which logs to read, dates, and the progress bar.

With no paths both read Claude Code's own logs (:func:`clawback.audit.discover.claude_code_folders`:
``CLAUDE_CONFIG_DIR``, else ``~/.config/claude/projects`` and ``~/.claude/projects``), every
``*.jsonl`` under them read as Claude Code transcripts unless ``--format`` says otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import IO, Any

from clawback.errors import InputFileError, UsageError

__all__ = ["FORMATS_HELP", "Bar", "Logs", "parse_when", "resolve_logs"]

FORMATS_HELP = "auto, ledger, jsonl, claude-code, admin-usage, admin-cost, trace, token-csv"


def parse_when(text: str | None, flag: str, *, end: bool = False) -> datetime | None:
    """A date or datetime flag as an aware UTC datetime (a bare date means that day's midnight).

    With ``end``, a bare date means the end of that day (``--until 2026-02-11`` includes the 11th).
    """
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} must be a date YYYY-MM-DD or an ISO 8601 time, got {text!r}") from exc
    if len(text) == 10 and end:
        value = datetime.combine(value.date(), time()) + _DAY
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_DAY = datetime(2000, 1, 2) - datetime(2000, 1, 1)


@dataclass(frozen=True, slots=True)
class Logs:
    """The paths to read, the format to read them as, and the file-name filter for folders."""

    paths: list[str]
    format: str
    pattern: str | None = None
    searched: str = ""
    """Where Claude Code's logs were looked for (with no paths given), for the error when none are found."""


def resolve_logs(
    paths: Sequence[str] | None, fmt: str, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Logs:
    """``paths`` as given, or with none, Claude Code's log folders that exist (an error when none does)."""
    from clawback.audit.discover import claude_code_folders

    if paths:
        return Logs(list(paths), fmt)
    environ = os.environ if environ is None else environ
    folders = claude_code_folders(environ, home if home is not None else Path.home())
    found = [str(f) for f in folders if f.is_dir()]
    searched = ", ".join(str(f) for f in folders)
    if not found:
        where = "CLAUDE_CONFIG_DIR" if environ.get("CLAUDE_CONFIG_DIR", "").strip() else "the default places"
        raise InputFileError(
            f"no Claude Code logs found in {where} ({searched}); pass log files or folders, or set CLAUDE_CONFIG_DIR"
        )
    return Logs(found, "claude-code" if fmt == "auto" else fmt, "*.jsonl", f" in {searched}")


def _maybe_terminal(stream: IO[str], environ: Mapping[str, str]) -> bool:
    """False only when Rich would surely not call ``stream`` a terminal (so Rich need not be loaded)."""
    if environ.get("TTY_COMPATIBLE", "") not in ("", "0") or environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or the stream is closed
        return False


class Bar:
    """A progress bar on standard error, shown only on a terminal (Rich is loaded only then)."""

    def __init__(self) -> None:
        self.records = 0
        self.progress: Any = None
        self.enabled = False
        if not _maybe_terminal(sys.stderr, os.environ):
            return
        from clawback.cli._common import err_console

        out = err_console()
        self.enabled = out.is_terminal
        if not self.enabled:
            return
        from rich import progress as rp

        self.progress = rp.Progress(
            rp.SpinnerColumn(),
            rp.TextColumn("{task.description}"),
            rp.BarColumn(),
            rp.DownloadColumn(),
            rp.TextColumn("{task.fields[records]:,} records"),
            rp.TimeElapsedColumn(),
            console=out,
            transient=True,
        )
        self.task = self.progress.add_task("reading", total=None, records=0)

    def __enter__(self) -> Bar:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def stage(self, text: str) -> None:
        """A new phase started."""
        if self.progress is not None:
            self.progress.update(self.task, description=text)

    def total(self, count: int) -> None:
        """The bytes all inputs hold (once they are found)."""
        if self.progress is not None:
            self.progress.update(self.task, total=count or None)

    def advance(self, records: int) -> None:
        """More records were loaded."""
        self.records += records
        if self.progress is not None:
            self.progress.update(self.task, records=self.records)

    def read_bytes(self, count: int) -> None:
        """More bytes were read."""
        if self.progress is not None:
            self.progress.advance(self.task, count)
