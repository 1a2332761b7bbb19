"""Which format a file is in, from its first bytes and first few lines (overridable with ``--format``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clawback.errors import InputFileError
from clawback.safe_input import loads

__all__ = ["FORMATS", "detect_format"]

FORMATS: tuple[str, ...] = (
    "ledger",
    "jsonl",
    "claude-code",
    "admin-usage",
    "admin-cost",
    "trace",
    "token-csv",
)
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PROBE_LINES = 50
_FIRST_PROBE = 64 << 10
_PROBE_BYTES = 4 << 20


def _classify_line(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "hash_ids" in obj and "input_length" in obj:
        return "trace"
    if isinstance(obj.get("data"), list):
        return _classify_report(obj)
    if "sessionId" in obj or "requestId" in obj or obj.get("type") in ("file-history-snapshot", "summary"):
        return "claude-code"
    keys = obj.keys()
    if keys & {"request", "response", "request_body", "response_body", "usage", "result"}:
        return "jsonl"
    return None


def _classify_report(doc: Any) -> str | None:
    pages = doc if isinstance(doc, list) else [doc]
    for page in pages:
        if not isinstance(page, dict):
            continue
        for bucket in page.get("data") or ():
            for result in (bucket or {}).get("results") or () if isinstance(bucket, dict) else ():
                if not isinstance(result, dict):
                    continue
                if "amount" in result:
                    return "admin-cost"
                if "uncached_input_tokens" in result or "output_tokens" in result:
                    return "admin-usage"
    return None


def _parse(raw: bytes) -> Any:
    """JSON of ``raw``, or None when it isn't JSON within the safe bounds (too deep, not UTF-8, …)."""
    try:
        return loads(raw)
    except InputFileError:
        return None


def _vote(head: bytes) -> str | None:
    votes: dict[str, int] = {}
    for raw in head.splitlines()[:_PROBE_LINES]:
        if raw.strip():
            kind = _classify_line(_parse(raw))
            if kind is not None:
                votes[kind] = votes.get(kind, 0) + 1
    return max(votes.items(), key=lambda kv: kv[1])[0] if votes else None


def detect_format(path: Path, name: str | None = None) -> str:
    """The format name of ``path``; a one-line error naming ``--format`` when it can't be told.

    The first 64 KB decide for most files; up to 4 MB are read when their first lines are longer.
    """
    shown = name or str(path)
    if path.is_dir():
        raise InputFileError(f"{shown} is a directory")
    try:
        with path.open("rb") as handle:
            head = handle.read(_FIRST_PROBE)
            if head.startswith(_SQLITE_MAGIC):
                return "ledger"
            kind = _vote(head)  # the lines are parsed once per head read (they are most of the cost)
            if len(head) == _FIRST_PROBE and (kind is None or head.count(b"\n") < 2):
                head += handle.read(_PROBE_BYTES - _FIRST_PROBE)
                kind = _vote(head)
    except OSError as exc:
        raise InputFileError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    if kind is not None:
        return kind
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"["):
        kind = _classify_report(_parse(head))
        if kind is not None:
            return kind
    if _is_token_csv(head):
        return "token-csv"
    raise InputFileError(f"can't tell the format of {shown}; pass --format with one of: {', '.join(FORMATS)}")


def _is_token_csv(head: bytes) -> bool:
    """True when the first non-blank line is a token-count CSV header (time, input and output columns)."""
    from clawback.audit.readers.token_csv import Header, parse_header

    first = next((line for line in head.splitlines() if line.strip()), b"")
    if b"," not in first or first.lstrip()[:1] in (b"{", b"["):
        return False
    try:
        return isinstance(parse_header(first.decode("utf-8")), Header)
    except UnicodeDecodeError:
        return False
