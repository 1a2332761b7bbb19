"""Writing into the routing config: one task's verdict, or one learned router, nothing else.

Each write removes the tables of that one entry (``[tasks.NAME]`` and its sub-tables, or
``[learned.NAME]``), appends the new ones, checks that the result parses to exactly what was meant,
and replaces the file atomically. Every other line — rules, other tasks, comments — stays as it was.
An entry defined inline (``[tasks]\nname = {...}``) or with dotted keys is refused with a one-line
error rather than rewritten.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from clawback.errors import InputFileError, UsageError
from clawback.routing.config import CONFIG_VERSION, LearnedSpec, RoutingFile, TaskVerdict, read_routing_file

__all__ = ["render_task", "write_learned", "write_verdict"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*\[\[?(?P<inner>[^\[\]]+)\]\]?\s*(#.*)?$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise UsageError(f"cannot write {type(value).__name__} to the routing config")


def _emit(path: list[str], table: Mapping[str, Any], out: list[str]) -> None:
    out.append("[" + ".".join(_key(p) for p in path) + "]")
    subtables = []
    for name, value in table.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            subtables.append((name, value))
        else:
            out.append(f"{_key(name)} = {_value(value)}")
    for name, value in subtables:
        out.append("")
        _emit([*path, name], value, out)


def _render(section: str, name: str, entry: BaseModel) -> str:
    # only what was given: a labels validator gets no `samples = 2` (an agreement-check field)
    data = entry.model_dump(mode="python", by_alias=True, exclude_none=True, exclude_unset=True)
    out: list[str] = []
    _emit([section, name], data, out)
    return "\n".join(out) + "\n"


def render_task(name: str, verdict: TaskVerdict) -> str:
    """The ``[tasks.NAME]`` tables of one verdict as TOML text."""
    return _render("tasks", name, verdict)


def _header_path(inner: str) -> list[str] | None:
    try:
        parsed: Any = tomllib.loads(f"[{inner}]\n")
    except tomllib.TOMLDecodeError:
        return None
    keys: list[str] = []
    while isinstance(parsed, dict) and len(parsed) == 1:
        key = next(iter(parsed))
        keys.append(key)
        parsed = parsed[key]
    return keys


def _without(text: str, section: str, name: str) -> str:
    """``text`` with every table under ``[SECTION.NAME]`` removed."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        match = _HEADER.match(line)
        if match:
            keys = _header_path(match.group("inner"))
            skipping = keys is not None and keys[:2] == [section, name]
        if not skipping:
            kept.append(line)
    return "".join(kept)


def _write_entry(path: Path, section: str, name: str, entry: BaseModel) -> None:
    what = f"the {'verdict' if section == 'tasks' else 'learned router'} for {name!r}"
    try:
        text = (
            path.read_text("utf-8")
            if path.exists()
            else f"# clawback routing config\nversion = {CONFIG_VERSION}\n"
        )
    except OSError as exc:
        raise InputFileError(f"cannot read routing config {path}: {exc.strerror or exc}") from exc
    if path.exists():
        read_routing_file(path)  # refuse to touch a file that is already broken
    new_text = _without(text, section, name).rstrip("\n") + "\n\n" + _render(section, name, entry)
    try:
        parsed = RoutingFile.model_validate(tomllib.loads(new_text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise UsageError(
            f"cannot write {what} into {path}: it is defined in a way clawback does not rewrite "
            f"(inline table or dotted keys); give it its own [{section}.NAME] table"
        ) from exc
    if getattr(parsed, section).get(name) != entry:
        raise UsageError(f"cannot write {what} into {path}: it is also defined elsewhere")
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(new_text, "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise InputFileError(f"cannot write routing config {path}: {exc.strerror or exc}") from exc


def write_verdict(path: str | Path, task: str, verdict: TaskVerdict) -> None:
    """Write (or replace) one task's verdict in the routing config, creating the file if needed."""
    _write_entry(Path(path), "tasks", task, verdict)


def write_learned(path: str | Path, task: str, spec: LearnedSpec) -> None:
    """Write (or replace) the ``[learned.TASK]`` router in the routing config (``*`` for every task)."""
    _write_entry(Path(path), "learned", task, spec)
