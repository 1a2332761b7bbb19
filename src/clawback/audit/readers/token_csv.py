"""Token-count request traces in CSV: one request per row, a header naming the columns.

The Azure LLM inference traces (Splitwise, ISCA 2024) are the model::

    TIMESTAMP,ContextTokens,GeneratedTokens
    2023-11-16 18:17:03.9799600,4808,10

and a generic variant serves anyone's own token log::

    timestamp,input_tokens,output_tokens,model,task
    2026-11-10T09:00:01Z,1200,80,claude-haiku-5-5,triage

Header names are matched ignoring case, spaces, ``_`` and ``-``, in any order; other columns are
ignored. Required: the time (``timestamp``, ``ts``, ``time``, ``created_at``, ``start_time``), the
prompt size (``ContextTokens``, ``input_tokens``, ``prompt_tokens``, ``input_length``) and the
answer size (``GeneratedTokens``, ``output_tokens``, ``completion_tokens``, ``output_length``).
Optional: ``model`` and ``task`` (or ``label``, ``task_label``); an empty cell counts as absent.

A row names what was sent, not what was billed: its input is taken as uncached input (no
caching), and there are no prompts or prefixes, so the caching simulation can't run on it and the
audit says so. Rows without a model are served on ``--model`` (default ``claude-sonnet-5-5``).
Times are ISO 8601 (a space or ``T``, up to 9 fractional digits, no zone meaning UTC) or epoch
seconds/milliseconds. They are kept as they are — the Azure traces really ran on 2023-11-16 —
unless ``--trace-start`` is given: then every row of every CSV in the audit moves by the one
offset that puts the first row read at that time, so gaps and files recorded together keep their
relative times. Rates are those in force on each row's (shifted) date; a date before a model's
first published rates is priced at those first rates, and the audit notes it.

A row that can't be read (wrong number of fields, a bad time, a count that is not a non-negative
integer, bytes that are not UTF-8) is malformed, counted with its line number. A repeated header
(files concatenated with ``cat``) is skipped and counted. A first line that is not such a header
makes the file unreadable: it is reported as one malformed line that says how many lines after it
were not read.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from clawback.audit.readers._common import MAX_TOKENS, ReadContext, iter_lines, parse_timestamp
from clawback.audit.readers.trace import DEFAULT_TRACE_MODEL
from clawback.audit.records import AuditRecord

__all__ = [
    "COLUMNS",
    "NO_PREFIXES",
    "REPEATED_HEADER",
    "Header",
    "TokenCsvReader",
    "parse_header",
    "split_row",
]

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "timestamp": ("timestamp", "ts", "time", "createdat", "starttime"),
    "input": ("contexttokens", "inputtokens", "prompttokens", "inputlength"),
    "output": ("generatedtokens", "outputtokens", "completiontokens", "outputlength"),
    "model": ("model",),
    "task": ("task", "tasklabel", "label"),
}
"""Each field's accepted header names, normalised (lower case, no spaces, ``_`` or ``-``)."""
_REQUIRED: Final = ("timestamp", "input", "output")
_ALIAS: Final = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}
NO_PREFIXES: Final = (
    "token-csv: token counts only, no prompts or prefix hashes, so prompt caching can't be evaluated; "
    "'today' is each row's input as uncached input plus its output"
)
_SHOWN: Final = 80
_EXAMPLES: Final = {
    "timestamp": "timestamp, TIMESTAMP or time",
    "input": "input_tokens, ContextTokens or prompt_tokens",
    "output": "output_tokens, GeneratedTokens or completion_tokens",
}
_BOM: Final = b"\xef\xbb\xbf"
REPEATED_HEADER: Final = "repeated CSV header line (concatenated files)"


@dataclass(frozen=True, slots=True)
class Header:
    """The header's column names, and where the time, input, output, model and task are."""

    names: tuple[str, ...]
    at: tuple[int, int, int, int | None, int | None]
    """Positions of the time, input, output, model and task (None: no such column)."""

    @property
    def width(self) -> int:
        """Fields in every row."""
        return len(self.names)


def _normal(name: str) -> str:
    return name.strip().strip('"').lower().replace("_", "").replace("-", "").replace(" ", "")


def split_row(text: str) -> list[str]:
    """The fields of one CSV line (quotes honoured; a quoted field can't span lines)."""
    text = text.rstrip("\r\n")
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text]), [])


def parse_header(text: str) -> Header | str:
    """The header in ``text``, or why it is not a token-count CSV header."""
    names = tuple(field.strip() for field in split_row(text.lstrip("\ufeff")))
    positions: dict[str, int] = {}
    for i, raw in enumerate(names):
        field = _ALIAS.get(_normal(raw))
        if field is None:
            continue
        if field in positions:
            return f"two {field} columns ({names[positions[field]]!r} and {raw!r})"
        positions[field] = i
    missing = [f for f in _REQUIRED if f not in positions]
    if missing:
        wanted = "; ".join(f"{f}: {_EXAMPLES[f]}" for f in missing)
        got = ",".join(names)
        got = got if len(got) <= _SHOWN else got[: _SHOWN - 1] + "…"
        return f"not a token-count CSV header: no {', '.join(missing)} column ({wanted}); got {got!r}"
    p = positions
    return Header(names, (p["timestamp"], p["input"], p["output"], p.get("model"), p.get("task")))


def _count(value: str, column: str) -> int:
    """A token count: plain ASCII digits (surrounding spaces allowed), at most :data:`MAX_TOKENS`."""
    if not (value.isdigit() and value.isascii()):
        value = value.strip()
        if not (value.isdigit() and value.isascii()):
            raise ValueError(f"{column}: {value!r} is not a non-negative integer token count")
    try:
        number = int(value)
    except ValueError:  # more digits than Python converts
        number = MAX_TOKENS + 1
    if number > MAX_TOKENS:
        raise ValueError(f"{column}: {value!r} is too large for a token count")
    return number


def _time(value: str, column: str) -> datetime:
    """An aware UTC time from ISO 8601 (no zone: UTC) or epoch seconds (milliseconds above 10^11)."""
    text = value.strip()
    if len(text) >= 10 and text[4] == "-":  # ISO 8601: the common case, without a float() attempt
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{column}: {value!r} is not an ISO 8601 time or epoch seconds") from None
        zone = parsed.tzinfo
        if zone is None:
            return parsed.replace(tzinfo=UTC)
        return parsed if zone is UTC else parsed.astimezone(UTC)
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{column}: {value!r} is not an ISO 8601 time or epoch seconds") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{column}: {value!r} is out of range")
    try:
        return parse_timestamp(number)
    except ValueError:
        raise ValueError(f"{column}: {value!r} is out of range") from None


class TokenCsvReader:
    """Reads token-count CSV traces; one :class:`AuditRecord` per row, no request shape."""

    name = "token-csv"

    def __init__(self) -> None:
        self._shift: timedelta | None = None
        """The one offset ``--trace-start`` applies to every row of the audit (set by the first row)."""
        self._raw_header = b""

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every well-formed row of ``path``."""
        default_model = str(ctx.options.get("model") or DEFAULT_TRACE_MODEL)
        start = ctx.options.get("trace_start")
        lines = iter_lines(path, ctx)
        header = self._header(lines, ctx)
        if header is None:
            return
        seen: set[tuple[str, bool]] = set()
        for number, raw in lines:
            try:
                found = self._record(raw, number, header, default_model, start, ctx)
            except ValueError as exc:
                ctx.malformed(number, str(exc))
                continue
            if found is None:
                continue
            record, served = found
            if (record.model, served) not in seen:
                seen.add((record.model, served))
                self._notes(record, served, ctx)
            yield record

    def _header(self, lines: Iterator[tuple[int, bytes]], ctx: ReadContext) -> Header | None:
        first = next(lines, None)
        if first is None:
            return None
        number, raw = first
        try:
            parsed = parse_header(raw.decode("utf-8"))
        except UnicodeDecodeError:
            parsed = "the header line is not UTF-8 text"
        if isinstance(parsed, Header):
            self._raw_header = raw.strip().removeprefix(_BOM)
            ctx.issues.note(NO_PREFIXES)
            return parsed
        rest = sum(1 for _ in lines)
        ctx.malformed(number, f"{parsed}; the {rest:,} lines after it were not read")
        return None

    def _record(
        self,
        raw: bytes,
        number: int,
        header: Header,
        default_model: str,
        start: object,
        ctx: ReadContext,
    ) -> tuple[AuditRecord, bool] | None:
        """The row's record and whether it was served on the default model; None for a repeated header."""
        i_ts, i_in, i_out, i_model, i_task = header.at
        width = len(header.names)
        try:
            fields = split_row(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        try:
            if len(fields) != width:
                raise ValueError(
                    f"{len(fields)} fields where the header has {width} ({','.join(header.names)})"
                )
            ts = _time(fields[i_ts], header.names[i_ts])
        except ValueError:
            if raw.strip().removeprefix(_BOM) == self._raw_header:  # only checked on rows that fail
                ctx.issues.skip(REPEATED_HEADER)
                return None
            raise
        inp = _count(fields[i_in], header.names[i_in])
        out = _count(fields[i_out], header.names[i_out])
        model = fields[i_model].strip() if i_model is not None else ""
        task = fields[i_task].strip() if i_task is not None else ""
        if isinstance(start, datetime):
            if self._shift is None:
                self._shift = start - ts
            try:
                ts = ts + self._shift
            except OverflowError:
                name = header.names[i_ts]
                raise ValueError(f"{name}: moved by --trace-start it leaves the calendar") from None
        record = AuditRecord(
            ts=ts,
            model=model or default_model,
            input_tokens=inp,
            output_tokens=out,
            task=task or None,
            source=ctx.source_index,
            line=number,
        )
        return record, not model

    def _notes(self, record: AuditRecord, served: bool, ctx: ReadContext) -> None:
        """Say once how the trace is served and priced, and when it predates its model's rates."""
        if served:
            ctx.issues.note(f"token-csv: rows without a model are served on {record.model} (--model)")
        if self._shift is not None and self._shift:
            ctx.issues.note(
                f"token-csv: every row moved by {_span(self._shift)} so the first row read starts at "
                "--trace-start (gaps between rows kept)"
            )
        first = ctx.first_rates_of(record.model)
        day = record.ts.astimezone(UTC).date()
        if first is not None and day < first:
            ctx.issues.note(_predates(record.model, day, first))


def _predates(model: str, day: date, first: date) -> str:
    return (
        f"token-csv: calls on {model} from {day} are dated before its first published rates ({first}): "
        "they are priced at those rates, without any long-prompt tier that starts later; pass "
        "--trace-start to date the trace elsewhere"
    )


def _span(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else "+"
    delta = abs(delta)
    return f"{sign}{delta.days:,} days {timedelta(seconds=delta.seconds, microseconds=delta.microseconds)}"
