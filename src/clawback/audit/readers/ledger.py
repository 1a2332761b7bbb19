"""clawback's own ledger (a SQLite file or a ``postgresql://`` URL), read through :func:`open_ledger`.

Every ledger record is one call with its time, task, API key id, served model, usage and request
shape (hashes and token counts, no text), so everything the audit does applies. Calls that failed
before the API reported usage are not billed: they are skipped and counted. A record whose usage or
shape can't be read is malformed; its position in the ledger's time order stands in for a line
number. The ledger stops a read at a record it can't decode at all; the audit then reports that
record and the rest of that ledger as unread, and carries on with its other inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clawback.audit.readers._common import ReadContext, UsageIn, describe_validation_error, usage_counts
from clawback.audit.records import AuditRecord
from clawback.errors import StoreError
from clawback.shapes import RequestShape

__all__ = ["LedgerReader"]


class LedgerReader:
    """Reads ledger records between ``since`` and ``until`` (options) in time order."""

    name = "ledger"

    def read(self, path: Path, ctx: ReadContext) -> Iterator[AuditRecord]:
        """Every billed call in the ledger at ``path``."""
        from clawback.ledger import open_ledger

        since: datetime | None = ctx.options.get("since")
        until: datetime | None = ctx.options.get("until")
        location = str(ctx.options.get("location") or path)
        ledger = open_ledger(location, create=False)
        number = 0
        try:
            records = ledger.iter_records(since=since, until=until)
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    break
                except StoreError as exc:
                    ctx.malformed(number + 1, f"{exc}; the rest of this ledger was not read")
                    break
                number += 1
                converted = self._convert(record, number, ctx)
                if converted is not None:
                    yield converted
        finally:
            ledger.close()

    def _convert(self, record: Any, number: int, ctx: ReadContext) -> AuditRecord | None:
        if record.usage is None:
            ctx.issues.skip("ledger call without usage (failed before billing)")
            return None
        try:
            counts = usage_counts(UsageIn.model_validate(dict(record.usage)))
            shape = RequestShape.from_json(record.shape) if record.shape else None
        except ValidationError as exc:
            ctx.malformed(number, f"usage: {describe_validation_error(exc)}")
            return None
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
