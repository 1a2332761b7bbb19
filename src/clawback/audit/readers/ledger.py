"""clawback's own ledger (a SQLite file or a ``postgresql://`` URL).

Every ledger record is one call with its time, task, API key id, served model, usage and request
shape (hashes and token counts, no text), so everything the audit does applies. Calls that failed
before the API reported usage are not billed: they are skipped and counted. A record whose bytes,
JSON, usage or shape can't be read is malformed and skipped, and the read goes on; its position in
the ledger's time order stands in for a line number. A SQLite ledger is read row by row as bytes,
so one damaged row costs that row only; a PostgreSQL ledger is read through :func:`open_ledger`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from clawback.audit.readers._common import ReadContext, usage_counts
from clawback.audit.records import AuditRecord
from clawback.errors import StoreError, UsageError
from clawback.redact import redact
from clawback.shapes import RequestShape

__all__ = ["LedgerReader"]

_FETCH = 500


class LedgerReader:
    """Reads ledger records between ``since`` and ``until`` (options) in time order."""

    name = "ledger"

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every billed call in the ledger at ``path``."""
        location = str(ctx.options.get("location") or path)
        if location.startswith(("postgresql://", "postgres://")):
            yield from self._read_url(location, ctx)
        else:
            yield from self._read_sqlite(Path(location), ctx)

    def _read_url(self, location: str, ctx: ReadContext) -> Iterator[AuditRecord]:
        from clawback.ledger import open_ledger

        since: datetime | None = ctx.options.get("since")
        until: datetime | None = ctx.options.get("until")
        try:
            ledger = open_ledger(location, create=False)
        except StoreError as exc:
            raise StoreError(redact(str(exc))) from None
        number = 0
        try:
            records = ledger.iter_records(since=since, until=until)
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    break
                except (StoreError, UnicodeDecodeError) as exc:
                    ctx.malformed(number + 1, f"{redact(str(exc))}; the rest of this ledger was not read")
                    break
                number += 1
                converted = self._convert(record, number, ctx)
                if converted is not None:
                    yield converted
        finally:
            ledger.close()

    def _read_sqlite(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        from clawback.ledger.record import CallRecord
        from clawback.ledger.sqlite_store import SqliteStore
        from clawback.ledger.store import Query, where_clause

        store = SqliteStore.open(path, create=False)
        try:
            conn = store.conn
            conn.text_factory = bytes  # a damaged row is one malformed record, not a failed read
            where, params = where_clause(Query(ctx.options.get("since"), ctx.options.get("until")), "?")
            cursor = conn.execute(f"SELECT id, record FROM clawback_calls{where} ORDER BY ts, id", params)
            number = 0
            while rows := cursor.fetchmany(_FETCH):
                for rid, data in rows:
                    number += 1
                    try:
                        text = bytes(data).decode("utf-8")
                        record = CallRecord.from_json(text)
                    except (UnicodeDecodeError, UsageError, TypeError) as exc:
                        ctx.malformed(number, f"ledger record {_rid(rid)} is unreadable: {_reason(exc)}")
                        continue
                    converted = self._convert(record, number, ctx)
                    if converted is not None:
                        yield converted
        except sqlite3.Error as exc:  # a damaged page, a missing table
            raise StoreError(f"ledger {path}: {exc}") from exc
        finally:
            store.close()

    def _convert(self, record: Any, number: int, ctx: ReadContext) -> AuditRecord | None:
        if record.usage is None:
            ctx.issues.skip("ledger call without usage (failed before billing)")
            return None
        try:
            counts = usage_counts(dict(record.usage))
            shape = RequestShape.from_json(record.shape) if record.shape else None
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            ctx.malformed(number, f"unreadable usage or shape: {exc}")
            return None
        if counts["service_tier"] is None and record.service_tier:
            counts["service_tier"] = record.service_tier
        return AuditRecord(
            ts=record.ts,
            model=record.model,
            **counts,
            task=record.task,
            workspace=record.api_key_id or "",
            shape=shape,
            stop_reason=record.stop_reason,
            source=ctx.source_index,
            line=number,
        )


def _rid(rid: Any) -> str:
    return bytes(rid).decode("utf-8", "replace") if isinstance(rid, bytes) else str(rid)


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
