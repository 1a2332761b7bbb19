"""The call ledger: one record per API call, in SQLite (default) or PostgreSQL.

* :mod:`~clawback.ledger.record` — :class:`CallRecord` and its JSON form (pure).
* :mod:`~clawback.ledger.summary` — exact Decimal totals by task, model, day or source (pure).
* :mod:`~clawback.ledger.baseline` — what a call would have cost as the caller wrote it (pure).
* :mod:`~clawback.ledger.writer` — the write path: sync or async, never failing the caller.
* :mod:`~clawback.ledger.api` — :func:`open_ledger` and :func:`open_writer`.

Database drivers (``sqlite3``, ``psycopg``) are imported only when a store is opened.
"""

from __future__ import annotations

from clawback.ledger.api import Ledger, open_ledger, open_store, open_writer, resolve_location
from clawback.ledger.baseline import record_baseline
from clawback.ledger.options import LedgerStats, Mode, WriterOptions
from clawback.ledger.record import (
    FORMAT_VERSION,
    CallError,
    CallRecord,
    TokenCounts,
    api_key_id,
    new_record_id,
    price_call,
)
from clawback.ledger.store import LedgerStore, Query
from clawback.ledger.summary import GroupTotals, Summary, SummaryRow, summarize
from clawback.ledger.writer import LedgerWriter

__all__ = [
    "FORMAT_VERSION",
    "CallError",
    "CallRecord",
    "GroupTotals",
    "Ledger",
    "LedgerStats",
    "LedgerStore",
    "LedgerWriter",
    "Mode",
    "Query",
    "Summary",
    "SummaryRow",
    "TokenCounts",
    "WriterOptions",
    "api_key_id",
    "new_record_id",
    "open_ledger",
    "open_store",
    "open_writer",
    "price_call",
    "record_baseline",
    "resolve_location",
    "summarize",
]
