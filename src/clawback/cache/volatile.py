"""Detectors for text that changes from call to call: timestamps, ids, per-user details (pure).

A cache entry matches only an identical prefix, so one changing token in ``tools`` or ``system``
makes every breakpoint at or after it write an entry that is never read. These detectors flag
such text by pattern; the planner keeps its breakpoints ahead of the first flagged block (unless
its own history shows the prefix does recur) and the linter reports it.

Each finding has a kind and a severity:

* ``per-call`` — changes on every call: ISO timestamps or times of day, UUIDs, Unix epochs,
  request/session/trace ids, long hex ids;
* ``per-user`` — differs per user or account (``user_id: …``, ``email: …``, ``customer: …``);
* ``daily`` — a calendar date: stable within a day, so a 5-minute or 1-hour entry still works.

Patterns are heuristics: a fixed example date in a prompt is flagged too, which is why history
overrides them in the planner.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from clawback.cache.blocks import block_text, body_blocks
from clawback.shapes import Level

__all__ = ["Finding", "Severity", "scan_text", "volatile_blocks"]

Severity = Literal["per-call", "per-user", "daily"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One volatile-looking span: what it looks like, how often it changes, and a short excerpt."""

    kind: str
    severity: Severity
    excerpt: str


_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"


@functools.cache
def _patterns() -> tuple[tuple[str, Severity, re.Pattern[str]], ...]:
    """The detectors, most volatile first (compiled on first use, not at import)."""
    return (
        (
            "timestamp",
            "per-call",
            re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
        ),
        (
            "uuid",
            "per-call",
            re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        ),
        (
            "request id",
            "per-call",
            re.compile(r"\b(?:req|msg|request|session|sess|trace|span|run|conv|chat)[_-][A-Za-z0-9]{8,}\b"),
        ),
        ("unix time", "per-call", re.compile(r"\b1[5-9]\d{8}(?:\d{3})?\b")),
        (
            "time of day",
            "per-call",
            re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[ap]\.?m\.?)?\b", re.I),
        ),
        ("hex id", "per-call", re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b")),
        (
            "per-user detail",
            "per-user",
            re.compile(
                r"\b(?:user(?:[ _-]?(?:id|name))?|customer(?:[ _-]?id)?|account(?:[ _-]?id)?|e-?mail|"
                r"tenant(?:[ _-]?id)?)\s*[:=]\s*\S+",
                re.I,
            ),
        ),
        ("email address", "per-user", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")),
        (
            "date",
            "daily",
            re.compile(
                rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|"
                rf"(?:{_MONTHS})[a-z]*\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
                rf"\d{{1,2}} (?:{_MONTHS})[a-z]* \d{{4}})\b",
                re.I,
            ),
        ),
    )


_SEVERITY_ORDER: Final = {"per-call": 0, "per-user": 1, "daily": 2}
_EXCERPT = 40
_MAX_SCAN_CHARS = 200_000


def scan_text(text: str) -> tuple[Finding, ...]:
    """Volatile-looking spans in ``text``, most volatile kind first, one finding per kind.

    A timestamp is reported as a timestamp, not also as a date and a time of day.
    """
    text = text[:_MAX_SCAN_CHARS]
    found: list[Finding] = []
    claimed: list[tuple[int, int]] = []
    for kind, severity, pattern in _patterns():
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < b and a < end for a, b in claimed):
                continue
            claimed.append((start, end))
            found.append(Finding(kind, severity, match.group(0)[:_EXCERPT]))
            break
    found.sort(key=lambda f: _SEVERITY_ORDER[f.severity])
    return tuple(found)


def volatile_blocks(
    body: Mapping[str, Any],
    *,
    levels: Iterable[Level] = ("tools", "system"),
    memo: MutableMapping[str, tuple[Finding, ...]] | None = None,
) -> dict[int, tuple[Finding, ...]]:
    """Shape positions of the blocks in ``levels`` whose text looks volatile, with the findings.

    Only ``tools`` and ``system`` are scanned by default: that content is meant to be the same on
    every call, whereas a message is written once and then stays put in later turns. ``memo``
    (any mapping, e.g. a small dict the caller keeps) caches results by block text.
    """
    wanted = frozenset(levels)
    out: dict[int, tuple[Finding, ...]] = {}
    system = body.get("system")
    if not body.get("tools") and isinstance(system, str) and "messages" not in wanted:
        # the common case, no tools and a plain-string system prompt: one block at position 0
        if "system" not in wanted or not system:
            return out
        findings = memo.get(system) if memo is not None else None
        if findings is None:
            findings = scan_text(system)
            if memo is not None:
                memo[system] = findings
        return {0: findings} if findings else out
    for item in body_blocks(body):
        if item.level not in wanted:
            if item.level == "messages" and "messages" not in wanted:
                break  # messages come last
            continue
        text = block_text(item.block)
        if not text:
            continue
        findings = memo.get(text) if memo is not None else None
        if findings is None:
            findings = scan_text(text)
            if memo is not None:
                memo[text] = findings
        if findings:
            out[item.position] = findings
    return out
