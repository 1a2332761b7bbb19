"""Every other API route: forwarded as is, answered as upstream answers (count_tokens, models,
batches, and any ``/v1`` path the gateway has no special handling for).

The caller is identified (managed keys get their upstream key; unknown keys are refused when the
gateway takes managed keys only) and the response streams back chunk by chunk, whatever its size.
Creating a batch is refused while one of the key's budgets is spent; a batch's spend is booked when
its results are read through the gateway (:mod:`clawback.gateway.batches`).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from clawback.gateway.asgi import Receive, Scope, Send, read_body, send_response
from clawback.gateway.core import Caller, Gateway
from clawback.gateway.messages import BODY_TIMEOUT_S
from clawback.gateway.state import AdmitPlan
from clawback.gateway.upstream import STREAM_ERRORS
from clawback.gateway.wire import GatewayRefusal, forward_headers, response_headers

__all__ = ["forward", "handle_passthrough"]

_SPENT = Decimal("1e-12")  # admitted only while a budget has any room left at all


async def handle_passthrough(gw: Gateway, scope: Scope, receive: Receive, send: Send, route: str) -> None:
    """Forward one request and stream the answer back; never raises."""

    async def work() -> int:
        body = await read_body(receive, scope, limit=_limit(gw, route), timeout_s=BODY_TIMEOUT_S)
        caller = gw.identify(scope["headers"])
        if route == "batch_create":
            await _admit_batch(gw, caller)
        return await forward(gw, scope, send, caller, body, route)

    await gw.answer(send, route, work())


def gateway_origin(scope: Scope) -> str:
    """The gateway's own origin as the caller reached it (``scheme://host[:port]``)."""
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def rewrite_results_url(raw: bytes, origin: str) -> bytes:
    """Batch objects with ``results_url`` pointing at the gateway, so SDKs fetch results through it
    (where their spend is booked) rather than straight from upstream with the gateway's key."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return raw
    listed = data.get("data") if isinstance(data, dict) else None
    items: list[Any] = listed if isinstance(listed, list) else [data]
    changed = False
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("results_url"), str):
            path = urlsplit(item["results_url"]).path
            if path.startswith("/v1/messages/batches/"):
                item["results_url"] = origin + path
                changed = True
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() if changed else raw


def _limit(gw: Gateway, route: str) -> int:
    return 256 * 1024 * 1024 if route == "batch_create" else gw.config.max_body_bytes


async def _admit_batch(gw: Gateway, caller: Caller) -> None:
    managed = caller.managed
    if managed is None or not managed.all_budgets:
        return
    admission = await gw.state.admit(AdmitPlan(managed.all_budgets, (), _SPENT), gw.clock())
    gw.state.settle(admission, Decimal(0), 0, gw.clock())


async def forward(gw: Gateway, scope: Scope, send: Send, caller: Caller, body: bytes, route: str) -> int:
    """Send the request upstream as it came and stream the response back; the status sent."""
    headers = forward_headers(scope["headers"], auth=caller.auth)
    path = scope.get("raw_path") or scope["path"].encode()
    target = path.decode("latin-1")
    qs = scope.get("query_string") or b""
    if qs:
        target += "?" + qs.decode("latin-1")
    t0 = time.perf_counter()
    resp = await gw.upstream.send(scope["method"], target, headers, body if body else None)
    try:
        if resp.status >= 400:
            gw.metrics.error(f"upstream_{resp.status}")
        length = resp.content_length
        if length is not None and length < 1 << 20:
            try:
                raw = await resp.read()
            except STREAM_ERRORS:
                raise GatewayRefusal(
                    502, "clawback gateway: the upstream API dropped the connection"
                ) from None
            if route.startswith("batch") and b"results_url" in raw:
                raw = rewrite_results_url(raw, gateway_origin(scope))
            await send_response(send, resp.status, raw, response_headers(resp.raw_headers))
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": resp.status,
                    "headers": response_headers(resp.raw_headers),
                }
            )
            try:
                async for chunk in resp.iter_chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except STREAM_ERRORS:
                pass  # the caller sees a truncated body, as it would talking to upstream directly
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        gw.metrics.upstream_latency.observe(time.perf_counter() - t0)
        return resp.status
    finally:
        resp.release()
