"""Builders for small audit inputs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from clawback.audit.readers import ReadContext, reader_for
from clawback.audit.records import IssueLog


def usage(
    inp: int = 0, out: int = 0, read: int = 0, w5: int = 0, w1: int = 0, **extra: Any
) -> dict[str, Any]:
    """A Messages API usage object."""
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": w5 + w1,
        "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
        **extra,
    }


def log_line(
    ts: str,
    model: str,
    use: Mapping[str, Any],
    *,
    task: str | None = None,
    request: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One 'log everything' line."""
    line: dict[str, Any] = {"timestamp": ts}
    if task is not None:
        line["task"] = task
    if request is not None:
        line["request"] = dict(request)
    line["response"] = {
        "id": "msg_x",
        "type": "message",
        "model": model,
        "usage": dict(use),
        "stop_reason": "end_turn",
    }
    line.update(extra)
    return line


def write_lines(path: Path, lines: Iterable[Mapping[str, Any] | str]) -> Path:
    """JSONL from dicts (serialised) and strings (written as they are)."""
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def read_all(fmt: str, path: Path, **options: Any) -> tuple[list[Any], IssueLog]:
    """Every record a reader yields for ``path``, and its issue log."""
    issues = IssueLog()
    ctx = ReadContext(issues, 0, str(path), options=options)
    return list(reader_for(fmt).read(path, ctx)), issues


def audit_files(paths: Iterable[Path | str], *, fast: bool = True, **options: Any) -> dict[str, Any]:
    """The ``--json`` document of an audit of ``paths`` (with or without the DuckDB fast path)."""
    from clawback.audit.engine import AuditOptions, run_audit
    from clawback.pricing import load_catalogue

    summary = run_audit([str(p) for p in paths], load_catalogue(), AuditOptions(fast=fast, **options))
    return summary.to_json()
