"""Which files an audit reads: paths as given, folders walked, Claude Code's own logs found by themselves.

* A file is read as it is; the same file named twice (or found again inside a folder) is read once,
  with a note.
* A folder is read recursively, files in sorted order (Claude Code keeps a subagent's transcript in
  ``<session>/subagents/``); symbolic links to folders are not followed, so no folder is walked twice.
* ``postgresql://`` URLs are ledgers, passed on untouched (shown with their password masked).
* With no paths, :func:`claude_code_folders` names where Claude Code writes its transcripts: the
  ``projects`` folder of each folder in ``CLAUDE_CONFIG_DIR`` (comma-separated), else
  ``~/.config/claude/projects`` and ``~/.claude/projects``.

Named pipes (``<(zcat log.gz)``) and standard input are read once (the audit spools them to its
temporary folder); devices and sockets are skipped with the reason. Nothing here decides a format.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from clawback.errors import InputFileError
from clawback.redact import redact

__all__ = ["Found", "Source", "claude_code_folders", "discover", "is_url"]

_URL_PREFIXES: Final = ("postgresql://", "postgres://")
STDIN: Final = "-"


def is_url(raw: str) -> bool:
    """True for a ledger URL (PostgreSQL)."""
    return raw.startswith(_URL_PREFIXES)


@dataclass(frozen=True, slots=True)
class Source:
    """One input to read."""

    path: str
    """What to open: a file path, ``-`` (standard input) or a ledger URL."""
    name: str
    """How the input is shown (a URL's password masked)."""
    kind: str = "file"
    """``file``, ``url`` or ``pipe`` (a FIFO or standard input: read once)."""


@dataclass(slots=True)
class Found:
    """The inputs found, the files passed over with the reason, and notes for the reader."""

    sources: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def claude_code_folders(environ: Mapping[str, str], home: Path) -> list[Path]:
    """Where Claude Code keeps transcripts: ``<dir>/projects`` for each ``CLAUDE_CONFIG_DIR`` folder, else the defaults."""
    configured = [p.strip() for p in environ.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    if configured:
        return [Path(p).expanduser() / "projects" for p in configured]
    return [home / ".config" / "claude" / "projects", home / ".claude" / "projects"]


def _walk(folder: Path) -> Iterator[Path]:
    """Every file under ``folder`` in sorted order (links to folders are not followed)."""
    for root, dirs, files in os.walk(folder, onerror=None, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def discover(paths: Sequence[str], *, pattern: str | None = None) -> Found:
    """The inputs ``paths`` name: files, folders walked recursively (only names matching ``pattern``, if given)."""
    found = Found()
    seen: dict[tuple[int, int], str] = {}
    for raw in paths:
        if is_url(raw):
            found.sources.append(Source(raw, redact(raw), "url"))
            continue
        if raw == STDIN:
            found.sources.append(Source(raw, "standard input", "pipe"))
            continue
        path = Path(raw)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise InputFileError(f"cannot read {raw}: no such file or folder") from None
        except OSError as exc:
            raise InputFileError(f"cannot read {raw}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(info.st_mode):
            matched = 0
            for file in _walk(path):
                if pattern is None or fnmatch.fnmatch(file.name, pattern):
                    matched += _add(found, seen, file)
            if not matched:
                what = f"no {pattern} files" if pattern else "no files"
                found.notes.append(f"{raw}: {what} in this folder")
        else:
            _add(found, seen, path, explicit=True)
    return found


def _add(found: Found, seen: dict[tuple[int, int], str], path: Path, *, explicit: bool = False) -> int:
    """Add one file (or pipe) unless it was added already; returns 1 when added."""
    name = str(path)
    try:
        info = path.stat()
    except OSError as exc:
        found.skipped.append((name, f"cannot read: {exc.strerror or exc}"))
        return 0
    mode = info.st_mode
    if stat.S_ISFIFO(mode) or (explicit and stat.S_ISCHR(mode) and name.startswith("/dev/fd/")):
        kind = "pipe"
    elif stat.S_ISREG(mode):
        kind = "file"
    else:
        found.skipped.append((name, "not a regular file (a device or socket)"))
        return 0
    identity = (info.st_dev, info.st_ino)
    if identity in seen:
        found.notes.append(f"{name} was given more than once (as {seen[identity]}): read once")
        return 0
    seen[identity] = name
    found.sources.append(Source(name, name, kind))
    return 1
