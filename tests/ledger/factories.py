"""Records for ledger tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clawback.ledger.record import CallRecord

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
USAGE = {
    "input_tokens": 1000,
    "output_tokens": 200,
    "cache_read_input_tokens": 5000,
    "cache_creation_input_tokens": 300,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
}
SHAPE = {"v": 1, "model": "claude-sonnet-5-5", "auto": None, "overhead": 3, "blocks": []}


def cost_of(i: int) -> Decimal:
    """The cost of record ``i``."""
    return Decimal("0.1") + Decimal("0.0001") * i


def make_record(i: int = 0, **fields: Any) -> CallRecord:
    """A priced record ``i`` minutes after T0 costing ``cost_of(i)``; even ``i`` summarise, odd classify."""
    base: dict[str, Any] = {
        "ts": T0 + timedelta(minutes=i),
        "served_model": "claude-sonnet-5-5",
        "task": "summarise" if i % 2 == 0 else "classify",
        "usage": USAGE,
        "cost": {"total_usd": str(cost_of(i))},
        "total_usd": str(cost_of(i)),
        "latency_ms": 100.0 + i,
        "stop_reason": "end_turn",
        "shape": SHAPE,
    }
    base.update(fields)
    return CallRecord.create("claude-sonnet-5-5", **base)
