"""How a ledger writer behaves (:class:`WriterOptions`), what it reports (:class:`LedgerStats`),
and the upkeep hook its background thread runs (:class:`Maintenance`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from clawback.errors import UsageError

__all__ = ["LedgerStats", "Maintenance", "Mode", "WriterOptions"]

Mode = Literal["sync", "async"]


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """How the writer writes: mode, async batching, memory bound, retry backoff.

    ``mode``: ``sync`` commits before ``record()`` returns; ``async`` queues. ``flush_interval_s``
    and ``batch_size``: when async batches are written. ``max_queue``: most records ever held only
    in memory (the async durability bound). ``retry_min_s``/``retry_max_s``: reconnect backoff.
    ``lock_wait_s``: longest a sync ``record()`` waits for another thread's write before sending its
    record to the pending file. ``warn_every_s``: reminder interval of the outage warning.
    ``maintenance_interval_s``: how often upkeep (SQLite WAL checkpoints) runs.
    """

    mode: Mode = "sync"
    flush_interval_s: float = 0.1
    batch_size: int = 200
    max_queue: int = 1000
    retry_min_s: float = 0.05
    retry_max_s: float = 2.0
    lock_wait_s: float = 0.05
    warn_every_s: float = 60.0
    maintenance_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in ("sync", "async"):
            raise UsageError(f"ledger mode must be 'sync' or 'async', got {self.mode!r}")
        if self.batch_size < 1 or self.max_queue < 1:
            raise UsageError("ledger batch_size and max_queue must be at least 1")
        if self.flush_interval_s <= 0 or self.retry_min_s <= 0 or self.retry_max_s < self.retry_min_s:
            raise UsageError("ledger intervals must be positive, with retry_max_s >= retry_min_s")


class Maintenance(Protocol):
    """Periodic upkeep the background thread runs off the hot path (e.g. SQLite WAL checkpoints)."""

    def run(self) -> None:
        """Do one round of upkeep."""
        ...

    def close(self) -> None:
        """Release what it holds."""
        ...


@dataclass(frozen=True, slots=True)
class LedgerStats:
    """Counters of one writer.

    ``pending`` records are safe (queued, or in the pending file) but not yet in the store;
    ``spilled`` counts records ever sent to the pending file; ``rejected`` records the store refused
    as values (kept in the rejected file); ``dropped`` records that could be kept nowhere;
    ``degraded`` is true while new records go to the pending file (the store failed, or the
    async queue was full) until the background thread has written it out.
    """

    written: int
    failed_attempts: int
    pending: int
    queued: int
    spilled: int
    rejected: int
    dropped: int
    degraded: bool
    last_error: str | None
