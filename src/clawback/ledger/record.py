"""One ledger record per API call: what was asked, what was served, what it cost (pure).

Privacy: a record holds no prompt or response text. The request shape carries hashes and token
counts only; ``sample`` holds text only when the user opted in to retaining one. The API key is
never stored: :func:`api_key_id` gives a short one-way hash plus the masked form.

The JSON form (:meth:`CallRecord.to_json`) carries ``"v": 1``. Money is a decimal string. Readers
accept records written by later versions: unknown keys land in ``extra``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from clawback.errors import ClawbackError, UsageError
from clawback.pricing.cost import CostBreakdown, parse_usage, price_usage
from clawback.redact import mask_key, redact

if TYPE_CHECKING:
    from clawback.pricing.catalogue import Catalogue

__all__ = [
    "FORMAT_VERSION",
    "CallError",
    "CallRecord",
    "TokenCounts",
    "api_key_id",
    "format_ts",
    "new_record_id",
    "price_call",
    "stable_record_id",
]

FORMAT_VERSION = 1
MAX_ERROR_MESSAGE = 500


_IDS = threading.Lock()
_last_id = 0
_POOL_BYTES = 4000  # random bytes fetched at once: one system call per 400 ids
_pool = b""
_pool_at = 0


def _fresh_pool() -> None:
    """Forget the random bytes fetched so far (in a forked child: its ids must not repeat the parent's)."""
    global _pool, _pool_at
    _pool, _pool_at = b"", 0


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_fresh_pool)


def _random80() -> int:
    """80 random bits from the OS (``os.urandom``), fetched in blocks (call with ``_IDS`` held)."""
    global _pool, _pool_at
    if _pool_at + 10 > len(_pool):
        _pool, _pool_at = os.urandom(_POOL_BYTES), 0
    start = _pool_at
    _pool_at = start + 10
    return int.from_bytes(_pool[start : start + 10], "big")


def new_record_id(now_ns: int | None = None) -> str:
    """A new time-ordered id (UUID version 7): sorts by creation time, unique across processes.

    Within one process ids are strictly increasing, so records made in the same millisecond
    still sort in the order they were made. The random bits come from ``os.urandom``, fetched a
    few thousand bytes at a time (a forked child fetches its own).
    """
    global _last_id
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    with _IDS:
        rand = _random80()
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
        value |= 0b10 << 62 | rand & ((1 << 62) - 1)
        if now_ns is None:
            if value <= _last_id and (_last_id + 1) >> 62 & 0b11 == 0b10:
                value = _last_id + 1  # same millisecond: one more than the last, version and variant kept
            _last_id = max(value, _last_id)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_STABLE = uuid.UUID("6f1c2f0e-5b1a-4c55-9f37-1c1a0b0c1a77")


def stable_record_id(*parts: str) -> str:
    """The same id every time for the same ``parts`` (UUID version 5), for records that may be made twice.

    A batch result read twice, or collected again after a crash, gets the id it got the first time,
    and the ledger's idempotent insert stores it once.
    """
    return str(uuid.uuid5(_STABLE, "\x1f".join(parts)))


def api_key_id(key: str | None) -> str | None:
    """A stable, non-reversible id for an API key: 12 hex of its SHA-256 and its masked form."""
    if not key:
        return None
    return f"{hashlib.sha256(key.encode()).hexdigest()[:12]}:{mask_key(key)}"


def format_ts(ts: datetime) -> str:
    """A UTC time as fixed-width ISO 8601 (``2026-11-25T09:30:00.000000Z``), which sorts as text."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    if ts.year < 1000:  # keep strftime's form for the (theoretical) years isoformat pads
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.isoformat(timespec="microseconds")[:-6] + "Z"


@dataclass(frozen=True, slots=True)
class CallError:
    """Why a call failed: the exception type, a short message (keys masked), the HTTP status.

    However it is built (from an exception, a batch result, a gateway's upstream answer), the
    message is masked with :func:`clawback.redact.redact` and cut to 500 characters here.
    """

    type: str
    message: str
    status: int | None = None

    def __post_init__(self) -> None:
        masked = redact(self.message)[:MAX_ERROR_MESSAGE]
        if masked != self.message:
            object.__setattr__(self, "message", masked)

    @classmethod
    def from_exception(cls, exc: BaseException) -> CallError:
        """The error of ``exc``, its message cut to 500 characters with any API key masked."""
        status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
        return cls(type(exc).__name__, str(exc), status if isinstance(status, int) else None)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"type": self.type, "message": self.message, "status": self.status}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """The token counts of a usage object, by kind (cache writes split into 5-minute and 1-hour)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0

    @property
    def cache_write(self) -> int:
        """All cache writes."""
        return self.cache_write_5m + self.cache_write_1h

    @classmethod
    def from_usage(cls, usage: Mapping[str, Any] | None) -> TokenCounts:
        """Counts from an API usage object; tolerant (a bad or missing count is 0), never raises."""
        if not usage:
            return cls()
        split = usage.get("cache_creation")
        w5 = w1 = 0
        if type(split) is dict or isinstance(split, Mapping):
            w5 = _count(split.get("ephemeral_5m_input_tokens"))
            w1 = _count(split.get("ephemeral_1h_input_tokens"))
        writes = _count(usage.get("cache_creation_input_tokens"))
        if writes > w5 + w1:
            w5 += writes - w5 - w1
        return cls(
            _count(usage.get("input_tokens")),
            _count(usage.get("output_tokens")),
            _count(usage.get("cache_read_input_tokens")),
            w5,
            w1,
        )


@dataclass(frozen=True, slots=True)
class CallRecord:
    """Everything the ledger keeps about one API call (no prompt text unless ``sample`` is set).

    ``total_usd`` is a decimal string, or None when the call is unpriced (``unpriced_reason`` says
    why) or failed before any usage was reported.
    """

    id: str
    ts: datetime
    requested_model: str
    served_model: str | None = None
    task: str | None = None
    api_key_id: str | None = None
    shape: Mapping[str, Any] | None = None
    usage: Mapping[str, Any] | None = None
    cost: Mapping[str, Any] | None = None
    total_usd: str | None = None
    unpriced_reason: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    stop_reason: str | None = None
    error: CallError | None = None
    fallback_from: str | None = None
    routing: Mapping[str, Any] | None = None
    service_tier: str | None = None
    request_id: str | None = None
    sample: str | None = None
    source: str | None = None
    """What made the call: ``client``, ``batch``, ``eval`` or ``gateway`` (None in older records)."""
    baseline_usd: str | None = None
    """What the same call would have cost as the caller wrote it (decimal string), when known."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise UsageError("CallRecord.ts must be timezone-aware (UTC)")
        if self.ts.utcoffset():
            object.__setattr__(self, "ts", self.ts.astimezone(UTC))

    @classmethod
    def create(
        cls,
        requested_model: str,
        *,
        breakdown: CostBreakdown | None = None,
        ts: datetime | None = None,
        record_id: str | None = None,
        **fields: Any,
    ) -> CallRecord:
        """A new record: a fresh id, ``ts`` now unless given, cost fields from ``breakdown``."""
        if breakdown is not None:
            cost = fields["cost"] = breakdown.to_json()
            fields["total_usd"] = cost["total_usd"]  # format_usd(breakdown.total), made once
        return cls(
            id=record_id or new_record_id(),
            ts=ts or datetime.now(UTC),
            requested_model=requested_model,
            **fields,
        )

    @property
    def model(self) -> str:
        """The model that served the call, or the one requested when none did."""
        return self.served_model or self.requested_model

    @property
    def total(self) -> Decimal | None:
        """``total_usd`` as a Decimal."""
        return None if self.total_usd is None else Decimal(self.total_usd)

    @property
    def unpriced(self) -> bool:
        """True when the call could not be priced (``unpriced_reason`` is set)."""
        return self.unpriced_reason is not None

    def tokens(self) -> TokenCounts:
        """Token counts from ``usage``."""
        return TokenCounts.from_usage(self.usage)

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON form (money as decimal strings, time as ISO 8601 UTC)."""
        return {
            "v": FORMAT_VERSION,
            "id": self.id,
            "ts": format_ts(self.ts),
            "task": self.task,
            "api_key_id": self.api_key_id,
            "requested_model": self.requested_model,
            "served_model": self.served_model,
            "shape": self.shape,
            "usage": self.usage,
            "cost": self.cost,
            "total_usd": self.total_usd,
            "unpriced_reason": self.unpriced_reason,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "stop_reason": self.stop_reason,
            "error": None if self.error is None else self.error.to_json(),
            "fallback_from": self.fallback_from,
            "routing": self.routing,
            "service_tier": self.service_tier,
            "request_id": self.request_id,
            "sample": self.sample,
            "source": self.source,
            "baseline_usd": self.baseline_usd,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> CallRecord:
        """A record from its JSON form (validated); :class:`UsageError` when it is malformed."""
        from clawback.ledger._schema import parse_record

        return parse_record(cls, data)


def price_call(
    catalogue: Catalogue, model: str, usage: Mapping[str, Any] | None, *, at: date | None = None
) -> tuple[CostBreakdown | None, str | None]:
    """The cost of one call, or None and the reason it can't be priced (never raises)."""
    if usage is None:
        return None, "no usage reported"
    try:
        return price_usage(parse_usage(usage), catalogue.resolve(model), at=at), None
    except (ClawbackError, InvalidOperation, ArithmeticError) as exc:
        return None, str(exc)
