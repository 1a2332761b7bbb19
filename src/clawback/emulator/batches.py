"""Message Batches: creation limits, the processing timeline, cancel, delete, and JSONL results.

A batch of ``n`` requests created at ``t0`` with a processing time ``d`` starts item ``i`` at
``t0 + d·i/n`` of virtual time and ends at ``t0 + d`` (or at ``expires_at = t0 + 24 h``, after
which unstarted items are ``expired``). Items run through an injected ``run_item`` callable — the
same messages core as live requests, so the cache rules apply inside a batch — lazily, whenever a
caller looks at the batch and virtual time has passed their start. A cancel lets the items already
started finish and cancels the rest; the batch is ``ended`` ``cancel_seconds`` later.

Memory stays near the size of the request body: each item keeps its ``custom_id`` and its params
as compact JSON bytes until it runs, then only its result line (bytes).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from clawback.emulator.clock import iso
from clawback.emulator.wire import ApiError, dumps, invalid_request, new_id, not_found

__all__ = [
    "BATCH_EXPIRY_SECONDS",
    "CUSTOM_ID",
    "Batch",
    "BatchStore",
    "ItemParams",
    "ItemRunner",
    "validate_requests",
]

BATCH_EXPIRY_SECONDS: Final = 24 * 3600.0
RESULTS_RETENTION_SECONDS: Final = 29 * 24 * 3600.0
CUSTOM_ID: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_CHUNK: Final = 256
_KINDS: Final = ("succeeded", "errored", "canceled", "expired")

ItemParams = bytes | tuple[int, str, str]
"""An item's params as compact JSON bytes, or the error (status, message, type) they were refused with."""
ItemResult = tuple[str, dict[str, Any]]
ItemRunner = Callable[["Batch", str, ItemParams, float], ItemResult | Awaitable[ItemResult]]
"""Runs one item: (batch, custom_id, params, start) -> (result type, result object), or awaits it."""
log = logging.getLogger("clawback.emulator")


@dataclass(slots=True)
class Batch:
    """One batch and its progress."""

    id: str
    workspace: str
    version: str
    created_at: float
    duration: float
    custom_ids: list[str]
    params: list[ItemParams | None]
    results: list[bytes] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    cancel_initiated_at: float | None = None
    cancel_ends_at: float | None = None
    ended_at: float | None = None
    busy: bool = False

    @property
    def size(self) -> int:
        """Number of requests."""
        return len(self.custom_ids)

    @property
    def expires_at(self) -> float:
        """When unfinished processing gives up (24 hours after creation)."""
        return self.created_at + BATCH_EXPIRY_SECONDS

    @property
    def ends_at(self) -> float:
        """When processing ends if nothing cancels it."""
        return min(self.created_at + self.duration, self.expires_at)

    def start_of(self, index: int) -> float:
        """Virtual start time of item ``index``."""
        return self.created_at + self.duration * index / max(1, self.size)

    def status(self) -> str:
        """``in_progress``, ``canceling`` or ``ended``."""
        if self.ended_at is not None:
            return "ended"
        return "canceling" if self.cancel_initiated_at is not None else "in_progress"

    def to_json(self, base_url: str, now: float) -> dict[str, Any]:
        """The ``message_batch`` object."""
        ended = self.ended_at is not None
        archived = now >= self.created_at + RESULTS_RETENTION_SECONDS
        processing = 0 if ended else self.size
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status(),
            "request_counts": {
                "processing": processing,
                **(self.counts if ended else dict.fromkeys(_KINDS, 0)),
            },
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "ended_at": iso(self.ended_at) if self.ended_at is not None else None,
            "cancel_initiated_at": iso(self.cancel_initiated_at)
            if self.cancel_initiated_at is not None
            else None,
            "archived_at": iso(self.created_at + RESULTS_RETENTION_SECONDS) if archived else None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }


def validate_requests(body: Any, max_requests: int) -> list[tuple[str, Any]]:
    """The ``(custom_id, params)`` pairs of a create body, checked as the API checks them."""
    if not isinstance(body, Mapping):
        raise invalid_request("request body must be a JSON object")
    requests = body.get("requests")
    if requests is None:
        raise invalid_request("requests: Field required")
    if not isinstance(requests, list) or not requests:
        raise invalid_request("requests: at least one request is required")
    if len(requests) > max_requests:
        raise ApiError(413, f"Batch has {len(requests):,} requests; the maximum is {max_requests:,}")
    seen: set[str] = set()
    out: list[tuple[str, Any]] = []
    for i, item in enumerate(requests):
        if not isinstance(item, Mapping):
            raise invalid_request(f"requests.{i}: Input should be an object")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise invalid_request(
                f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if custom_id in seen:
            raise invalid_request(
                f"requests.{i}.custom_id: {custom_id!r} is not unique; each custom_id must be unique within a batch"
            )
        seen.add(custom_id)
        if not isinstance(item.get("params"), Mapping):
            raise invalid_request(f"requests.{i}.params: Input should be an object")
        out.append((custom_id, item["params"]))
    return out


class BatchStore:
    """Every batch, per workspace, with lazy processing against the virtual clock."""

    def __init__(self, run_item: ItemRunner, *, duration: float = 3.0, cancel_seconds: float = 0.0) -> None:
        self.run_item = run_item
        self.duration = duration
        self.cancel_seconds = cancel_seconds
        self._batches: dict[str, Batch] = {}
        self._order: dict[str, list[str]] = {}

    def create(
        self, workspace: str, items: list[tuple[str, ItemParams]], *, now: float, version: str
    ) -> Batch:
        """A new batch starting at ``now``; each item's params are bytes, or the error they end with."""
        batch = Batch(
            id=new_id("msgbatch"),
            workspace=workspace,
            version=version,
            created_at=now,
            duration=self.duration,
            custom_ids=[cid for cid, _ in items],
            params=[params for _, params in items],
        )
        self._batches[batch.id] = batch
        self._order.setdefault(workspace, []).append(batch.id)
        return batch

    def get(self, workspace: str, batch_id: str) -> Batch:
        """The batch, or 404 (batches are visible only to their own workspace)."""
        batch = self._batches.get(batch_id)
        if batch is None or batch.workspace != workspace:
            raise not_found(f"message_batch {batch_id} not found")
        return batch

    def ids(self, workspace: str) -> list[str]:
        """The workspace's batch ids, newest first."""
        return list(reversed(self._order.get(workspace, [])))

    def clear(self) -> None:
        """Forget every batch."""
        self._batches.clear()
        self._order.clear()

    def __len__(self) -> int:
        return len(self._batches)

    async def settle(self, batch: Batch, now: float) -> Batch:
        """Run what is due at ``now`` and end the batch if its time has come."""
        while batch.busy:
            await asyncio.sleep(0.001)
        if batch.ended_at is not None:
            return batch
        batch.busy = True
        try:
            cancel_at = batch.cancel_initiated_at
            horizon = min(now, batch.ends_at) if cancel_at is None else min(now, cancel_at)
            await self._run_due(batch, horizon, finishing=cancel_at is None and now >= batch.ends_at)
            if cancel_at is not None and batch.cancel_ends_at is not None and now >= batch.cancel_ends_at:
                self._finish(batch, "canceled", batch.cancel_ends_at)
            elif cancel_at is None and now >= batch.ends_at:
                self._finish(batch, "expired", batch.ends_at)
        finally:
            batch.busy = False
        return batch

    async def cancel(self, batch: Batch, now: float) -> Batch:
        """Start cancelling; items already started finish, the rest are canceled."""
        await self.settle(batch, now)
        if batch.status() == "in_progress":
            batch.cancel_initiated_at = now
            batch.cancel_ends_at = now + self.cancel_seconds  # the next look at or after this ends it
        return batch

    def delete(self, batch: Batch) -> None:
        """Remove an ended batch; 400 while it is still processing."""
        if batch.ended_at is None:
            raise invalid_request(
                f"message_batch {batch.id} is {batch.status()}; only ended batches can be deleted (cancel it first)"
            )
        del self._batches[batch.id]
        self._order[batch.workspace].remove(batch.id)

    def results(self, batch: Batch, now: float) -> Iterator[bytes]:
        """The JSONL results, in chunks; 400 before the batch ends, 404 once archived."""
        if batch.ended_at is None:
            raise invalid_request(
                f"message_batch {batch.id} is {batch.status()}; results are available once it has ended"
            )
        if now >= batch.created_at + RESULTS_RETENTION_SECONDS:
            raise not_found(f"results of message_batch {batch.id} are no longer available (29 days)")
        lines = batch.results
        return (b"".join(lines[i : i + _CHUNK]) for i in range(0, len(lines), _CHUNK))

    async def _run_due(self, batch: Batch, horizon: float, *, finishing: bool) -> None:
        index = len(batch.results)
        while index < batch.size:
            start = batch.start_of(index)
            if not (finishing or start < horizon) or start >= batch.expires_at:
                return
            await self._run_one(batch, index, start)
            index += 1
            if index % _CHUNK == 0:
                await asyncio.sleep(0)

    async def _run_one(self, batch: Batch, index: int, start: float) -> None:
        custom_id = batch.custom_ids[index]
        params = batch.params[index]
        batch.params[index] = None
        try:
            if params is None:
                raise RuntimeError(f"batch item {custom_id} has no params left")
            outcome = self.run_item(batch, custom_id, params, start)
            kind, result = await outcome if inspect.isawaitable(outcome) else outcome
        except Exception:  # an item must never break its batch: it ends errored
            log.exception("emulator: batch item %s failed unexpectedly", custom_id)
            error = {"type": "api_error", "message": "Internal server error"}
            kind, result = "errored", {"type": "errored", "error": {"type": "error", "error": error}}
        self._append(batch, custom_id, kind, result)

    def _append(self, batch: Batch, custom_id: str, kind: str, result: dict[str, Any]) -> None:
        batch.counts[kind] += 1
        batch.results.append(dumps({"custom_id": custom_id, "result": result}) + b"\n")

    def _finish(self, batch: Batch, leftover: str, ended_at: float) -> None:
        for index in range(len(batch.results), batch.size):
            batch.params[index] = None
            self._append(batch, batch.custom_ids[index], leftover, {"type": leftover})
        batch.params = []
        batch.ended_at = ended_at
