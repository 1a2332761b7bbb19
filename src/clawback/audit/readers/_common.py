"""What the readers share: the reader protocol, line iteration, timestamps and usage validation."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clawback.audit.records import AuditRecord, IssueLog
from clawback.errors import InputFileError

__all__ = [
    "MAX_TOKENS",
    "ReadContext",
    "Reader",
    "UsageIn",
    "describe_validation_error",
    "iter_lines",
    "parse_timestamp",
    "usage_counts",
]

_CHUNK = 1 << 20
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


def iter_lines(path: Path, ctx: ReadContext) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of ``path`` with their 1-based numbers; an unreadable file is an error."""
    try:
        handle = path.open("rb", buffering=_CHUNK)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
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
                if raw.strip():
                    yield number, raw
        except OSError as exc:
            raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if report is not None and pending:
        report(pending)


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
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not ISO 8601") from None
        zone = parsed.tzinfo
        if zone is UTC:
            return parsed
        return parsed.replace(tzinfo=UTC) if zone is None else parsed.astimezone(UTC)
    raise ValueError(f"timestamp {value!r} is not a string or a number")


class _CacheCreationIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    ephemeral_5m_input_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    ephemeral_1h_input_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)


class _ServerToolIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    web_search_requests: int | None = Field(default=None, ge=0, le=MAX_TOKENS)


class UsageIn(BaseModel):
    """A Messages API usage object (unknown keys ignored; counts must be non-negative integers)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    input_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    output_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    cache_read_input_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    cache_creation_input_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    cache_creation: _CacheCreationIn | None = None
    server_tool_use: _ServerToolIn | None = None
    service_tier: str | None = None
    inference_geo: str | None = None
    speed: str | None = None


def usage_counts(usage: UsageIn) -> dict[str, Any]:
    """AuditRecord keyword arguments from a usage object (unsplit writes count as 5-minute).

    Raises ValueError when ``cache_creation`` splits more tokens than the total it splits.
    """
    split = usage.cache_creation
    w5 = (split.ephemeral_5m_input_tokens or 0) if split else 0
    w1 = (split.ephemeral_1h_input_tokens or 0) if split else 0
    total_writes = usage.cache_creation_input_tokens
    if total_writes is not None and w5 + w1 > total_writes:
        raise ValueError(
            f"usage.cache_creation splits {w5 + w1} tokens but cache_creation_input_tokens is {total_writes}"
        )
    if total_writes is not None and total_writes > w5 + w1:
        w5 = total_writes - w1
    server = usage.server_tool_use
    return {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_input_tokens": usage.cache_read_input_tokens or 0,
        "cache_write_5m_input_tokens": w5,
        "cache_write_1h_input_tokens": w1,
        "web_search_requests": (server.web_search_requests or 0) if server else 0,
        "service_tier": usage.service_tier,
        "inference_geo": usage.inference_geo or None,
        "speed": usage.speed,
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
