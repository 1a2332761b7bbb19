"""What every ledger store does, and the row layout the stores share.

A store is one connection to one ledger. Inserts are idempotent (a record whose id is already
present is skipped), so a record retried after an ambiguous failure, or replayed from a pending
file, is never written twice. Stores raise :class:`~clawback.errors.StoreError` or the driver's
own errors; the writer decides what a failure means.

Reading never lets one damaged row hide the others: a row whose text is not UTF-8, whose record
is not a valid record, or whose columns can't be read as numbers and times is skipped and
counted in ``skipped`` (the CLI says how many), as the audit does for malformed log lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Protocol

from clawback.ledger.record import CallRecord, format_ts
from clawback.ledger.summary import SummaryRow

__all__ = [
    "COLUMNS",
    "SUMMARY_COLUMNS",
    "LedgerStore",
    "Query",
    "Skipped",
    "clean_text",
    "record_json",
    "record_row",
    "summary_row",
    "where_clause",
]

COLUMNS: tuple[str, ...] = (
    "id",
    "ts",
    "task",
    "api_key_id",
    "requested_model",
    "served_model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "total_usd",
    "unpriced_reason",
    "latency_ms",
    "stop_reason",
    "error_type",
    "service_tier",
    "request_id",
    "source",
    "baseline_usd",
    "record",
)

SUMMARY_COLUMNS = (
    "ts, task, requested_model, served_model, total_usd, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_5m_tokens + cache_write_1h_tokens, error_type, unpriced_reason, "
    "source, baseline_usd"
)


@dataclass(frozen=True, slots=True)
class Query:
    """Which records to read: ``since`` inclusive, ``until`` exclusive, one ``task`` or all."""

    since: datetime | None = None
    until: datetime | None = None
    task: str | None = None


class Skipped:
    """Rows a reader could not read: how many, and the first reason (for the one-line note)."""

    __slots__ = ("count", "first")

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None

    def add(self, reason: str) -> None:
        """Count one skipped row."""
        self.count += 1
        if self.first is None:
            self.first = reason


class LedgerStore(Protocol):
    """One connection to one ledger."""

    skipped: Skipped
    """Rows skipped by the reads so far because they could not be read."""

    @property
    def display(self) -> str:
        """Where the ledger is, with any password masked."""
        ...

    def insert(self, record: CallRecord) -> None:
        """Write one record and commit (skipped if its id is present)."""
        ...

    def insert_many(self, records: Sequence[CallRecord]) -> None:
        """Write records in one transaction (ids already present are skipped)."""
        ...

    def iter_records(self, query: Query) -> Iterator[CallRecord]:
        """Matching records in time order, streamed."""
        ...

    def summary_rows(self, query: Query) -> Iterator[SummaryRow]:
        """The summary facts of matching records, streamed."""
        ...

    def tail(self, n: int) -> list[CallRecord]:
        """The ``n`` latest records, oldest first."""
        ...

    def count(self) -> int:
        """How many records the ledger holds."""
        ...

    def ping(self) -> None:
        """Raise unless the connection works (``SELECT 1``)."""
        ...

    def close(self) -> None:
        """Close the connection (idempotent)."""
        ...


def summary_row(
    row: Sequence[Any], *, ts: Callable[[Any], datetime], money: Callable[[Any], Decimal]
) -> SummaryRow:
    """A :class:`SummaryRow` from the :data:`SUMMARY_COLUMNS` of one row; ``ts`` and ``money`` read
    the store's own time and money values (errors propagate: the store decides to skip the row)."""
    when, task, requested, served, total, inp, out, cr, cw, err, unpriced, source, base = row
    return SummaryRow(
        ts=ts(when),
        task=None if task is None else str(task),
        model=str(served or requested),
        total_usd=None if total is None else money(total),
        input_tokens=int(inp),
        output_tokens=int(out),
        cache_read_tokens=int(cr),
        cache_write_tokens=int(cw),
        error=err is not None,
        unpriced=unpriced is not None,
        source=None if source is None else str(source),
        baseline_usd=None if base is None else money(base),
    )


def clean_text(text: str) -> str:
    """``text`` as every database accepts it: a NUL becomes U+FFFD, a lone surrogate ``?``."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")  # no lone surrogate: the text is valid as it is (no copy)
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _clean(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
_C_ENCODER: Callable[[Any, int], list[str]] | None = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, str, encode_basestring, None, ":", ",", False, False, True)
)
"""``_ENCODER``'s own C encoder, made once (``JSONEncoder.encode`` makes one per call) and without the
check for circular references: a record's JSON is plain data; a cycle ends in RecursionError, and then
``_ENCODER`` says what it is."""


def _encode(data: dict[str, Any]) -> str:
    if _C_ENCODER is not None:
        try:
            return "".join(_C_ENCODER(data, 0))
        except RecursionError:
            pass
    return _ENCODER.encode(data)


def record_json(record: CallRecord) -> str:
    """The record's compact JSON text, valid UTF-8; anything not JSON-serialisable becomes a string."""
    return _json_text(record.to_json())


def _json_text(data: dict[str, Any]) -> str:
    text = _encode(data)
    if "\\u0000" in text:  # PostgreSQL's JSONB refuses an escaped NUL
        text = text.replace("\\u0000", "\\ufffd")
    return clean_text(text)


def _money(record: CallRecord) -> Decimal | None:
    amount = record.total  # decimal.InvalidOperation for a string that is not a number
    if amount is not None and not amount.is_finite():
        raise ValueError(f"total_usd must be a finite decimal string, got {record.total_usd!r}")
    return amount


def record_row(record: CallRecord, *, native: bool = False) -> tuple[Any, ...]:
    """The column values of ``record`` in :data:`COLUMNS` order.

    With ``native`` the time is a ``datetime`` and money a ``Decimal`` (PostgreSQL); otherwise
    fixed-width ISO text and the decimal string (SQLite). A bad money string raises here.
    """
    amount = _money(record)
    t = record.tokens()
    data = record.to_json()
    return (
        clean_text(record.id),
        record.ts if native else data["ts"],
        _clean(record.task),
        _clean(record.api_key_id),
        clean_text(record.requested_model),
        _clean(record.served_model),
        t.input,
        t.output,
        t.cache_read,
        t.cache_write_5m,
        t.cache_write_1h,
        amount if native else record.total_usd,
        _clean(record.unpriced_reason),
        record.latency_ms,
        _clean(record.stop_reason),
        None if record.error is None else clean_text(record.error.type),
        _clean(record.service_tier),
        _clean(record.request_id),
        _clean(record.source),
        (None if record.baseline_usd is None else Decimal(record.baseline_usd))
        if native
        else record.baseline_usd,
        _json_text(data),
    )


def where_clause(query: Query, param: str, ts: Any = format_ts) -> tuple[str, list[Any]]:
    """``WHERE …`` (or ``""``) for ``query``, with ``param`` placeholders and ``ts`` turning times into values."""
    parts: list[str] = []
    params: list[Any] = []
    if query.since is not None:
        parts.append(f"ts >= {param}")
        params.append(ts(query.since))
    if query.until is not None:
        parts.append(f"ts < {param}")
        params.append(ts(query.until))
    if query.task is not None:
        parts.append(f"task = {param}")
        params.append(query.task)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params
