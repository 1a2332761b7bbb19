"""The Message Batches endpoints: parse, call the batch store, render.

``POST /v1/messages/batches`` (create; 413 past 100,000 requests or 256 MB, 400 for a bad or
repeated ``custom_id``), ``GET /v1/messages/batches`` (list, newest first, ``limit`` /
``after_id`` / ``before_id``), ``GET …/{id}``, ``POST …/{id}/cancel``, ``DELETE …/{id}`` and
``GET …/{id}/results`` (JSONL, streamed). Batches belong to the workspace of the key that made them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from clawback.emulator.batches import Batch
from clawback.emulator.exchange import Exchange, api, read_body
from clawback.emulator.prepare import Job, prepare_batch
from clawback.emulator.wire import page_body, paginate, parse_limit

__all__ = ["routes"]


def _base_url(ex: Exchange) -> str:
    return str(ex.request.base_url).rstrip("/")


async def _batch(ex: Exchange, fault_endpoint: str = "batch_poll") -> Batch:
    caller = ex.authenticate()
    ex.version()
    await ex.inject_fault(fault_endpoint)
    batch_id = ex.request.path_params["batch_id"]
    ex.batch_id = batch_id
    batch = ex.state.batches.get(caller.workspace, batch_id)
    return await ex.state.batches.settle(batch, ex.start)


@api("batches")
async def create_batch(ex: Exchange) -> Response:
    """POST /v1/messages/batches."""
    state = ex.state
    caller = ex.authenticate()
    version = ex.version()
    raw = await read_body(ex.request, state.config.limits.batch_body_bytes)
    await ex.inject_fault("batches")
    job = Job(version, state.today())
    limit = state.config.limits.batch_requests
    items = await state.offload.run(prepare_batch, raw, job, tail=(limit,))
    batch = state.batches.create(caller.workspace, items.items, now=ex.start, version=version)
    ex.batch_id = batch.id
    state.record_batch_items(batch, caller, items)
    return ex.json(batch.to_json(_base_url(ex), ex.start))


@api("batches")
async def list_batches(ex: Exchange) -> Response:
    """GET /v1/messages/batches."""
    caller = ex.authenticate()
    ex.version()
    await ex.inject_fault("batch_poll")
    query = ex.request.query_params
    store = ex.state.batches
    ids, more = paginate(
        store.ids(caller.workspace),
        limit=parse_limit(query.get("limit")),
        after_id=query.get("after_id"),
        before_id=query.get("before_id"),
    )
    data = []
    for batch_id in ids:
        batch = await store.settle(store.get(caller.workspace, batch_id), ex.start)
        data.append(batch.to_json(_base_url(ex), ex.start))
    return ex.json(page_body(data, more))


@api("batches")
async def retrieve_batch(ex: Exchange) -> Response:
    """GET /v1/messages/batches/{batch_id}."""
    batch = await _batch(ex)
    return ex.json(batch.to_json(_base_url(ex), ex.start))


@api("batches")
async def cancel_batch(ex: Exchange) -> Response:
    """POST /v1/messages/batches/{batch_id}/cancel."""
    batch = await ex.state.batches.cancel(await _batch(ex, "batch_cancel"), ex.start)
    return ex.json(batch.to_json(_base_url(ex), ex.start))


@api("batches")
async def delete_batch(ex: Exchange) -> Response:
    """DELETE /v1/messages/batches/{batch_id}."""
    batch = await _batch(ex, "batch_cancel")
    ex.state.batches.delete(batch)
    return ex.json({"id": batch.id, "type": "message_batch_deleted"})


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@api("batches")
async def batch_results(ex: Exchange) -> Response:
    """GET /v1/messages/batches/{batch_id}/results (JSONL)."""
    batch = await _batch(ex)
    chunks = ex.state.batches.results(batch, ex.start)
    ex.finish(200)
    return StreamingResponse(_aiter(chunks), 200, ex.headers(), "application/x-jsonl")


def routes() -> list[BaseRoute]:
    """The batch routes."""
    prefix = "/v1/messages/batches"
    return [
        Route(prefix, create_batch, methods=["POST"]),
        Route(prefix, list_batches, methods=["GET"]),
        Route(prefix + "/{batch_id}", retrieve_batch, methods=["GET"]),
        Route(prefix + "/{batch_id}", delete_batch, methods=["DELETE"]),
        Route(prefix + "/{batch_id}/cancel", cancel_batch, methods=["POST"]),
        Route(prefix + "/{batch_id}/results", batch_results, methods=["GET"]),
    ]
