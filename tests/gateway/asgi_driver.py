"""Drive the gateway's ASGI app in-process: one request in, every message it sends out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """What the app sent."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    messages: list[dict[str, Any]] = field(default_factory=list)


async def call(
    app: Any,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    chunks: Sequence[bytes] = (b"",),
    disconnect_first: bool = False,
    stall: bool = False,
    query: bytes = b"",
) -> Answer:
    """One request; ``stall`` never delivers the last chunk (a slow client), ``disconnect_first``
    hangs up before any body arrives."""
    answer = Answer()
    done = asyncio.Event()
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    if stall:
        pending = (
            pending[:-1] if len(pending) > 1 else [{"type": "http.request", "body": b"{", "more_body": True}]
        )

    async def receive() -> dict[str, Any]:
        if disconnect_first:
            return {"type": "http.disconnect"}
        if pending:
            return pending.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        answer.messages.append(message)
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")
            if not message.get("more_body"):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "headers": list(headers),
        "server": ("127.0.0.1", 8787),
        "client": ("127.0.0.1", 50000),
    }
    await app(scope, receive, send)
    return answer
