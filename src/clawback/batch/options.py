"""The settings a batch job is created with; stored in the journal so a resume uses the same ones (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from clawback.batch.chunking import Limits
from clawback.errors import UsageError
from clawback.shapes import Ttl

__all__ = ["JobOptions"]


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How a job splits, retries, caches and what it may spend."""

    limits: Limits = field(default_factory=Limits)
    max_attempts: int = 3
    cache_plan: bool = True
    cache_ttl: Ttl = "1h"
    warm_cache: bool = False
    skip_invalid: bool = False
    expected_output: int | None = None
    max_cost: Decimal | None = None
    task: str | None = None
    """The ledger's ``task`` of the job's rows."""
    source: str = "batch"
    """The ledger's ``source`` of the job's rows (``clawback eval`` runs its jobs as ``eval``)."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20:
            raise UsageError(f"--max-attempts must be between 1 and 20, got {self.max_attempts}")
        if self.cache_ttl not in ("5m", "1h"):
            raise UsageError(f"--cache-ttl must be 5m or 1h, got {self.cache_ttl!r}")
        if self.warm_cache and not self.cache_plan:
            raise UsageError("--warm-cache needs cache planning (drop --no-cache-plan)")
        if self.expected_output is not None and self.expected_output < 0:
            raise UsageError(f"--expected-output must be non-negative, got {self.expected_output}")
        if self.max_cost is not None and (not self.max_cost.is_finite() or self.max_cost < 0):
            raise UsageError(f"--max-cost must be a non-negative amount, got {self.max_cost}")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, for the journal."""
        return {
            "v": 1,
            "max_requests": self.limits.max_requests,
            "max_bytes": self.limits.max_bytes,
            "max_request_bytes": self.limits.max_request_bytes,
            "max_attempts": self.max_attempts,
            "cache_plan": self.cache_plan,
            "cache_ttl": self.cache_ttl,
            "warm_cache": self.warm_cache,
            "skip_invalid": self.skip_invalid,
            "expected_output": self.expected_output,
            "max_cost": None if self.max_cost is None else str(self.max_cost),
            "task": self.task,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobOptions:
        """Inverse of :meth:`to_json`."""
        limits = Limits(
            max_requests=int(data["max_requests"]),
            max_bytes=int(data["max_bytes"]),
            max_request_bytes=int(data["max_request_bytes"]),
        )
        cost = data.get("max_cost")
        return cls(
            limits=limits,
            max_attempts=int(data["max_attempts"]),
            cache_plan=bool(data["cache_plan"]),
            cache_ttl=data["cache_ttl"],
            warm_cache=bool(data["warm_cache"]),
            skip_invalid=bool(data["skip_invalid"]),
            expected_output=data.get("expected_output"),
            max_cost=None if cost is None else Decimal(cost),
            task=data.get("task"),
            source=str(data.get("source") or "batch"),
        )
