"""A scriptable upstream for header and pass-through tests: records what it received, answers as told."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MESSAGE = {
    "id": "msg_01echo",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-5-5",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 2,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}


@dataclass
class Reply:
    """What the upstream answers with."""

    status: int = 200
    body: bytes = json.dumps(MESSAGE).encode()
    headers: list[tuple[bytes, bytes]] = field(
        default_factory=lambda: [
            (b"content-type", b"application/json"),
            (b"request-id", b"req_01echoupstream"),
        ]
    )


class EchoUpstream:
    """A raw ASGI app: keeps every request (method, path, query, headers, body) and answers ``reply``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply = Reply()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"],
                "headers": [(k.decode(), v.decode()) for k, v in scope["headers"]],
                "body": body,
            }
        )
        reply = self.reply
        await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
        await send({"type": "http.response.body", "body": reply.body})

    def header(self, name: str, index: int = -1) -> list[str]:
        """Every value of header ``name`` in request ``index``."""
        return [v for k, v in self.requests[index]["headers"] if k == name]
