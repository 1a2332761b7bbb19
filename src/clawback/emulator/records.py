"""What the emulator remembers about traffic: a log of every request and running totals.

The log lets other components' tests prove properties such as "no request was submitted twice":
each record has the request id, the endpoint, the status, the model, a hash of the request
parameters (``params_hash``: BLAKE2b-128 of the request body's bytes, or for a batch item of the
compact JSON of its ``params``), and for batch items the batch id and ``custom_id``. API keys appear only masked.
The log keeps the newest ``Limits.log_entries`` records; sequence numbers keep counting.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from clawback.emulator.clock import iso
from clawback.emulator.wire import dumps
from clawback.pricing.cost import Usage

__all__ = ["RequestLog", "RequestRecord", "Stats", "params_hash"]


def params_hash(params: Mapping[str, Any] | bytes | bytearray) -> str:
    """A short hash of request parameters: of the bytes as given, or of a mapping's compact JSON."""
    raw = params if isinstance(params, bytes | bytearray) else dumps(params)
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the emulator received (a batch item counts as one)."""

    seq: int
    at: float
    endpoint: str
    method: str
    path: str
    status: int
    request_id: str
    key: str
    model: str | None = None
    params_hash: str | None = None
    stream: bool = False
    batch_id: str | None = None
    custom_id: str | None = None
    result: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON, with an RFC 3339 time."""
        out = asdict(self)
        out["at_iso"] = iso(self.at)
        return out


class RequestLog:
    """The newest ``limit`` records, numbered from 1."""

    def __init__(self, limit: int = 500_000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0

    def add(self, **fields: Any) -> RequestRecord:
        """Append a record; ``seq`` is assigned here."""
        with self._lock:
            self._seq += 1
            record = RequestRecord(seq=self._seq, **fields)
            self._records.append(record)
        return record

    def since(self, after: int = 0, limit: int = 1000) -> list[RequestRecord]:
        """Records with ``seq > after``, oldest first, at most ``limit``."""
        with self._lock:
            records = list(self._records)
        out = [r for r in records if r.seq > after]
        return out[:limit]

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest record (0 when empty)."""
        return self._seq

    def clear(self) -> None:
        """Forget every record (sequence numbers restart)."""
        with self._lock:
            self._records.clear()
            self._seq = 0


_USAGE_FIELDS = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_write_5m_input_tokens",
    "cache_write_1h_input_tokens",
    "output_tokens",
)


class Stats:
    """Counters: requests per endpoint and status, faults, and usage per model and service tier."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.batch_results: Counter[str] = Counter()
        self.usage: dict[tuple[str, str], list[int]] = {}

    def count(self, endpoint: str, status: int) -> None:
        """One response sent."""
        self.requests[endpoint] += 1
        self.statuses[status] += 1

    def bill(self, model: str, usage: Usage) -> None:
        """Add a served request's usage."""
        key = (model, usage.service_tier or "standard")
        row = self.usage.get(key)
        if row is None:
            row = self.usage[key] = [0] * (len(_USAGE_FIELDS) + 1)
        row[0] += 1
        for i, name in enumerate(_USAGE_FIELDS, 1):
            row[i] += getattr(usage, name)

    def to_json(self) -> dict[str, Any]:
        """Everything, as JSON."""
        return {
            "requests": dict(self.requests),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "faults": dict(self.faults),
            "batch_results": dict(self.batch_results),
            "usage": [
                {
                    "model": model,
                    "service_tier": tier,
                    "requests": row[0],
                    **dict(zip(_USAGE_FIELDS, row[1:], strict=True)),
                }
                for (model, tier), row in sorted(self.usage.items())
            ],
        }

    def clear(self) -> None:
        """Reset every counter."""
        self.__init__()  # type: ignore[misc]
