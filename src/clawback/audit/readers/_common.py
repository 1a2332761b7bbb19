"""What the readers share: the reader protocol, line iteration, JSON lines, timestamps and usage validation.

Everything here is standard library only: ``clawback audit`` and ``clawback usage`` import no
pydantic on their way to the first record. Validation is strict and names the field at fault, in
the words the audit prints for a malformed line (``usage.input_tokens: should be greater than or
equal to 0, got -1``). The DuckDB fast path (:mod:`clawback.audit.fastpath`) accepts exactly the
lines these rules accept and sends every other line here, so both give the same records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from clawback.audit.records import AuditRecord, IssueLog
from clawback.errors import InputFileError
from clawback.safe_input import MAX_YEAR, MIN_YEAR, loads

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "MAX_TOKENS",
    "LineReader",
    "ReadContext",
    "Reader",
    "bool_field",
    "check_record_year",
    "describe_validation_error",
    "iter_lines",
    "load_line",
    "parse_timestamp",
    "read_lines",
    "text_field",
    "usage_counts",
]

_CHUNK = 1 << 20
_BOM: Final = b"\xef\xbb\xbf"
MAX_TOKENS = 10**15
"""The largest token count a reader accepts: more is a corrupt line, not a call (and would overflow
the audit database's 64-bit integers, stopping the whole audit)."""


@dataclass(slots=True)
class ReadContext:
    """What a reader needs besides the file: where to log issues, and the file's index and name."""

    issues: IssueLog
    source_index: int = 0
    source_name: str = ""
    tokenizer_of: Callable[[str], str] = field(default=lambda _model: "pre-4.7")
    """The tokenizer generation of a model id (for token estimates of request shapes)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Format options from the command line (e.g. a trace's model and start time)."""
    on_bytes: Callable[[int], None] | None = None
    """Told, about every megabyte, how many more bytes of input were read (for a progress bar)."""
    first_rates_of: Callable[[str], date | None] = field(default=lambda _model: None)
    """The first day a model has published rates (None: a model the catalogue doesn't know)."""

    def malformed(self, line: int | None, reason: str, *, where: str | None = None) -> None:
        """Count one malformed line of the current file."""
        self.issues.malformed(self.source_name, line, reason, where=where)


class Reader(Protocol):
    """Turns one input file into audit records, logging what it can't use."""

    name: str

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every call (or bucket) in ``path``, in file order."""
        ...


class LineReader(Reader, Protocol):
    """A reader of one call per line, which can also read one line alone (the fast path's fallback)."""

    def read_line(self, number: int, raw: bytes, ctx: ReadContext) -> AuditRecord | None:
        """The call on line ``number``, or None (the issue is logged in ``ctx``)."""
        ...


def read_lines(reader: LineReader, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
    """Every record ``reader`` finds on the lines of ``path``, in file order."""
    for number, raw in iter_lines(path, ctx):
        record = reader.read_line(number, raw, ctx)
        if record is not None:
            yield record


def iter_lines(path: Path, ctx: ReadContext) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of ``path`` with their 1-based numbers (a leading UTF-8 BOM dropped)."""
    try:
        handle = path.open("rb", buffering=_CHUNK)
    except OSError as exc:
        raise InputFileError(f"cannot read {ctx.source_name or path}: {exc.strerror or exc}") from exc
    pending = 0
    report = ctx.on_bytes
    with handle:
        try:
            for number, raw in enumerate(handle, start=1):
                ctx.issues.lines_read += 1
                if report is not None:
                    pending += len(raw)
                    if pending >= _CHUNK:
                        report(pending)
                        pending = 0
                if number == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                if raw.strip():
                    yield number, raw
        except OSError as exc:
            raise InputFileError(f"cannot read {ctx.source_name or path}: {exc.strerror or exc}") from exc
    if report is not None and pending:
        report(pending)


def load_line(raw: bytes) -> Any:
    """One line's JSON (bounded nesting, UTF-8, no NaN); ValueError with a short reason otherwise."""
    try:
        return loads(raw)
    except InputFileError as exc:
        reason = str(exc)
        raise ValueError(
            "not valid JSON" if reason.startswith(("invalid JSON", "not valid JSON")) else reason
        ) from None


def parse_timestamp(value: Any) -> datetime:
    """An aware UTC datetime from ISO 8601 text or epoch seconds/milliseconds; ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError("no timestamp")
    if isinstance(value, int | float):
        seconds = float(value) / 1000 if value > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp {value!r} is out of range") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
            zone = parsed.tzinfo
            if zone is UTC:
                return parsed
            return parsed.replace(tzinfo=UTC) if zone is None else parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"timestamp {value[:60]!r} is not ISO 8601") from None
    raise ValueError(f"timestamp {str(value)[:60]!r} is not a string or a number")


def check_record_year(ts: datetime) -> str | None:
    """Why a call's time can't be audited (a year outside MIN_YEAR..MAX_YEAR), or None when it can."""
    if MIN_YEAR <= ts.year <= MAX_YEAR:
        return None
    return f"timestamp {ts.isoformat()[:19]} is outside the years {MIN_YEAR}–{MAX_YEAR}"


def _surrogate_free(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_field(obj: Mapping[str, Any], key: str, where: str = "") -> str | None:
    """``obj[key]`` when it is a string (None when absent or null); ValueError for any other type."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and _surrogate_free(value)):
        return value
    name = f"{where}{key}"
    if isinstance(value, str):
        raise ValueError(f"{name}: holds a lone surrogate (not valid Unicode)")
    raise ValueError(f"{name}: should be a string, got {_kind(value)}")


def bool_field(obj: Mapping[str, Any], key: str, where: str = "") -> bool | None:
    """``obj[key]`` when it is true or false (None when absent or null); ValueError otherwise."""
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{where}{key}: should be true or false, got {_kind(value)}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _count(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}.{key}: should be a whole number, got {_kind(value)}")
    if value < 0:
        raise ValueError(f"{where}.{key}: should be greater than or equal to 0, got {value}")
    if value > MAX_TOKENS:
        raise ValueError(f"{where}.{key}: should be less than or equal to {MAX_TOKENS}")
    return value


def _object(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}.{key}: should be an object, got {_kind(value)}")
    return value


def usage_counts(usage: Any, where: str = "usage") -> dict[str, Any]:
    """AuditRecord keyword arguments from a Messages API usage object (unsplit writes count as 5-minute).

    Unknown keys are ignored; counts must be whole numbers from 0 to :data:`MAX_TOKENS` (absent or
    null counts as 0). Raises ValueError naming the field at fault, and when ``cache_creation``
    splits more tokens than the total it splits.
    """
    if not isinstance(usage, dict):
        raise ValueError(f"{where}: should be an object, got {_kind(usage)}")
    split = _object(usage, "cache_creation", where)
    server = _object(usage, "server_tool_use", where)
    w5 = _count(split, "ephemeral_5m_input_tokens", f"{where}.cache_creation") or 0
    w1 = _count(split, "ephemeral_1h_input_tokens", f"{where}.cache_creation") or 0
    total_writes = _count(usage, "cache_creation_input_tokens", where)
    if total_writes is not None and w5 + w1 > total_writes:
        raise ValueError(
            f"usage.cache_creation splits {w5 + w1} tokens but cache_creation_input_tokens is {total_writes}"
        )
    if total_writes is not None and total_writes > w5 + w1:
        w5 = total_writes - w1
    prefix = f"{where}."
    return {
        "input_tokens": _count(usage, "input_tokens", where) or 0,
        "output_tokens": _count(usage, "output_tokens", where) or 0,
        "cache_read_input_tokens": _count(usage, "cache_read_input_tokens", where) or 0,
        "cache_write_5m_input_tokens": w5,
        "cache_write_1h_input_tokens": w1,
        "web_search_requests": _count(server, "web_search_requests", f"{where}.server_tool_use") or 0,
        "service_tier": text_field(usage, "service_tier", prefix),
        "inference_geo": text_field(usage, "inference_geo", prefix) or None,
        "speed": text_field(usage, "speed", prefix),
    }


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error on one line: ``field.path: message``."""
    errors = exc.errors(include_url=False)
    if not errors:
        return "invalid record"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "not valid JSON"
    loc = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {message}{more}" if loc else f"{message}{more}"
