"""``GET /v1/messages/batches/{id}/results``: passed through line by line, spend booked as read.

Batch results are the only point where a batch's real usage passes through the gateway, so that
is where its spend is recorded: each ``succeeded`` result becomes one ledger row (priced at the
batch rates its usage reports, with ``extra.batch_id`` and ``extra.custom_id``) and its cost is
booked against the reading key's budgets. Reading the same results again books nothing twice: the
state store remembers which results were booked, and the ledger row's id is derived from the
batch and custom ids, so inserting it again is a no-op.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from clawback.gateway.asgi import Receive, Scope, Send, read_body
from clawback.gateway.core import Caller, Gateway
from clawback.gateway.messages import BODY_TIMEOUT_S
from clawback.gateway.upstream import STREAM_ERRORS
from clawback.gateway.wire import GatewayRefusal, forward_headers, response_headers
from clawback.ledger.record import CallRecord

__all__ = ["BatchLines", "handle_results", "result_record_id"]

MAX_LINE = 64 * 1024 * 1024


def result_record_id(batch_id: str, custom_id: str) -> str:
    """A stable record id for one batch result (UUID-shaped, version nibble 8: derived, not random)."""
    h = hashlib.sha256(f"{batch_id}\x00{custom_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{h[16:20]}-{h[20:32]}"


class BatchLines:
    """Splits a results stream into JSONL lines (pure); the succeeded results with their usage."""

    def __init__(self) -> None:
        self._buf = b""
        self.results: list[tuple[str, str | None, dict[str, Any]]] = []
        """(custom_id, model, usage) of each succeeded result."""
        self.lines = 0

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        """Take the next bytes; ``final`` parses what is left as the last line."""
        data = self._buf + chunk
        end = len(data) if final else data.rfind(b"\n") + 1
        self._buf = data[end:] if len(data) - end <= MAX_LINE else b""
        for line in data[:end].split(b"\n"):
            if line.strip():
                self._line(line)

    def _line(self, line: bytes) -> None:
        self.lines += 1
        try:
            item = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            return
        result = item.get("result")
        if not isinstance(result, dict) or result.get("type") != "succeeded":
            return
        message = result.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
            return
        model = message.get("model")
        self.results.append((item["custom_id"], model if isinstance(model, str) else None, message["usage"]))


async def handle_results(gw: Gateway, scope: Scope, receive: Receive, send: Send, batch_id: str) -> None:
    """Stream a batch's results to the caller and book each succeeded result once."""

    async def work() -> int:
        await read_body(receive, scope, limit=1 << 20, timeout_s=BODY_TIMEOUT_S)
        return await _stream_results(gw, scope, send, gw.identify(scope["headers"]), batch_id)

    await gw.answer(send, "batch_results", work())


async def _stream_results(gw: Gateway, scope: Scope, send: Send, caller: Caller, batch_id: str) -> int:
    headers = forward_headers(scope["headers"], auth=caller.auth)
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    resp = await gw.upstream.send("GET", path, headers, None)
    lines = BatchLines()
    try:
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": response_headers(resp.raw_headers),
            }
        )
        ok = resp.status == 200
        try:
            async for chunk in resp.iter_chunks():
                if ok:
                    lines.feed(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if ok:
                lines.feed(b"", final=True)
        except STREAM_ERRORS:
            pass
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        resp.release()
        await _book(gw, caller, batch_id, lines, resp.request_id)
    return resp.status


async def _book(
    gw: Gateway, caller: Caller, batch_id: str, lines: BatchLines, request_id: str | None
) -> None:
    if not lines.results:
        return
    now = gw.clock()
    records: dict[str, CallRecord] = {}
    for custom_id, model, usage in lines.results:
        records[custom_id] = gw.fast_record(
            caller,
            requested_model=model or "",
            served_model=model,
            started=now,
            latency_ms=0.0,
            usage=usage,
            stop_reason=None,
            request_id=request_id,
            extra={"batch_id": batch_id, "custom_id": custom_id},
            record_id=result_record_id(batch_id, custom_id),
        )
    budgets = caller.managed.all_budgets if caller.managed is not None else ()
    items = [(c, r.total or Decimal(0)) for c, r in records.items()]
    try:
        new = await gw.state.book_batch(batch_id, items, budgets, now)
    except GatewayRefusal:  # the state store is down: the rows are written; budgets catch up never
        new = set(records)
    for custom_id in new:
        gw.write(records[custom_id])
