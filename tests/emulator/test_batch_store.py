"""The batch timeline, on plain values with a stub item runner."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from clawback.emulator.batches import BATCH_EXPIRY_SECONDS, Batch, BatchStore, validate_requests
from clawback.emulator.wire import ApiError


def runner(batch: Batch, custom_id: str, raw: bytes, start: float) -> tuple[str, dict[str, Any]]:
    return "succeeded", {"type": "succeeded", "start": start, "params": json.loads(raw)}


def make(n: int, duration: float = 10.0, cancel: float = 0.0) -> tuple[BatchStore, Batch]:
    store = BatchStore(runner, duration=duration, cancel_seconds=cancel)
    items = [(f"c{i}", json.dumps({"i": i}).encode()) for i in range(n)]
    batch = store.create("ws", items, now=100.0, version="2023-06-01")
    return store, batch


def lines(store: BatchStore, batch: Batch, now: float) -> list[dict[str, Any]]:
    return [json.loads(line) for chunk in store.results(batch, now) for line in chunk.splitlines()]


def test_items_start_evenly_and_run_lazily() -> None:
    store, batch = make(4)
    asyncio.run(store.settle(batch, 105.0))
    assert len(batch.results) == 2 and batch.status() == "in_progress"  # items at 100 and 102.5
    asyncio.run(store.settle(batch, 110.0))
    assert batch.status() == "ended" and batch.ended_at == 110.0 and batch.counts["succeeded"] == 4
    got = lines(store, batch, 110.0)
    assert [g["result"]["start"] for g in got] == [100.0, 102.5, 105.0, 107.5]
    assert got[2]["result"]["params"] == {"i": 2} and batch.params == []


def test_cancel_and_delete() -> None:
    store, batch = make(4, cancel=1.0)
    asyncio.run(store.cancel(batch, 103.0))
    assert batch.status() == "canceling"
    with pytest.raises(ApiError):
        store.delete(batch)
    asyncio.run(store.settle(batch, 104.0))
    assert batch.status() == "ended" and (batch.counts["succeeded"], batch.counts["canceled"]) == (2, 2)
    store.delete(batch)
    with pytest.raises(ApiError) as info:
        store.get("ws", batch.id)
    assert info.value.status == 404


def test_unfinished_items_expire_after_24_hours() -> None:
    store, batch = make(2, duration=2 * BATCH_EXPIRY_SECONDS)
    asyncio.run(store.settle(batch, 100.0 + BATCH_EXPIRY_SECONDS))
    assert batch.counts == {"succeeded": 1, "errored": 0, "canceled": 0, "expired": 1}


def test_results_are_archived_after_29_days() -> None:
    store, batch = make(1, duration=0)
    asyncio.run(store.settle(batch, 100.0))
    assert lines(store, batch, 100.0)
    with pytest.raises(ApiError) as info:
        store.results(batch, 100.0 + 29 * 86400)
    assert info.value.status == 404
    assert batch.to_json("http://x", 100.0 + 29 * 86400)["archived_at"] is not None


def test_workspaces_are_separate() -> None:
    store, batch = make(1)
    with pytest.raises(ApiError):
        store.get("other", batch.id)
    assert store.ids("other") == [] and store.ids("ws") == [batch.id]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"requests": []}, 400),
        ({"requests": [1]}, 400),
        ({"requests": [{"custom_id": "a"}]}, 400),
        ({"requests": [{"custom_id": "a", "params": {}}] * 2}, 400),
        ([], 400),
    ],
)
def test_validate_requests(body: Any, status: int) -> None:
    with pytest.raises(ApiError) as info:
        validate_requests(body, 10)
    assert info.value.status == status
