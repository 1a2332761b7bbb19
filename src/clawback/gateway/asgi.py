"""Raw ASGI plumbing for the hot path: read a bounded body, send a response, send an error.

The gateway's API routes are plain ASGI callables (no Starlette request objects per call) so a
proxied request costs as little as the server allows. Reading a body is bounded in size and in
time (a slow client gets 408, a huge body 413, both in the API's error shape).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from clawback.gateway.wire import GatewayRefusal, error_body

__all__ = ["ClientGone", "Receive", "Scope", "Send", "read_body", "send_error", "send_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")


class ClientGone(Exception):
    """The client disconnected before its request body was read."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise GatewayRefusal(400, "clawback gateway: invalid Content-Length header") from None
    return None


async def read_body(receive: Receive, scope: Scope, *, limit: int, timeout_s: float) -> bytes:
    """The whole request body; 413 past ``limit`` bytes, 408 when it takes over ``timeout_s``."""
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        raise GatewayRefusal(413, f"Request exceeds the maximum size of {limit:,} bytes")
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body = message.get("body", b"")
    if not message.get("more_body"):
        return bytes(body)
    chunks = [body]
    size = len(body)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise GatewayRefusal(413, f"Request exceeds the maximum size of {limit:,} bytes")
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
    except TimeoutError:
        raise GatewayRefusal(
            408,
            f"clawback gateway: the request body did not arrive within {timeout_s:g} s",
            error_type="timeout_error",
        ) from None
    return b"".join(chunks)


async def send_response(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]], *, json: bool = False
) -> None:
    """One complete response (``content-length`` set here)."""
    raw = [*headers, (b"content-length", str(len(body)).encode())]
    if json:
        raw.append(_JSON)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_error(send: Send, refusal: GatewayRefusal, request_id: str) -> None:
    """The gateway's own error in the API's shape, with a ``request-id`` header."""
    headers = [(b"request-id", request_id.encode()), (b"x-clawback-gateway", b"refused")]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers.items()]
    body = error_body(refusal.status, refusal.message, request_id, refusal.type)
    await send_response(send, refusal.status, body, headers, json=True)
