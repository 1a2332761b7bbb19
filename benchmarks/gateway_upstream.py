"""A fast mock of the Claude API for the gateway benchmark: the upstream every proxy forwards to.

    python benchmarks/gateway_upstream.py --port P

An ``asyncio.Protocol`` on uvloop with httptools parsing (no framework), so it serves far more requests
per core than any proxy under test and the proxy stays the bottleneck. It answers:

- ``POST /v1/messages``: a Message with a realistic usage object (cache reads and writes, service tier)
  as JSON, or with ``"stream": true`` as the API's SSE events (``message_start``, ``content_block_start``,
  ``ping``, text deltas, ``content_block_stop``, ``message_delta`` with the final usage, ``message_stop``)
  in chunked encoding over a keep-alive connection. The response's ``model`` echoes the request's.
- A body containing ``ttfb-probe`` gets its stream's first three events at once and the rest
  ``--probe-gap-ms`` later, so a proxy that buffers the stream shows up in the time-to-first-byte probe.
- ``GET /v1/models``: one model. Anything else: the API's 404 error.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
from typing import Any, cast

import httptools  # type: ignore[import-untyped]
import uvloop

USAGE_START = {
    "input_tokens": 1204,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 3072,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 1,
    "service_tier": "standard",
}
USAGE_FINAL = {**USAGE_START, "output_tokens": 48}
TEXT = "The invoice total is $1,284.50, due on 15 January; the customer asks to split it into two payments."
_DELTA_USAGE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
PROBE_MARKER = b"ttfb-probe"
_ids = itertools.count(1)


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def message_json(model: str, n: int) -> bytes:
    """The body of a non-streaming Message."""
    return _dumps(
        {
            "id": f"msg_bench{n:016d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": USAGE_FINAL,
        }
    )


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"


def message_events(model: str, n: int) -> list[bytes]:
    """The SSE events of a streamed Message, one ``bytes`` per event."""
    start = {
        "id": f"msg_bench{n:016d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": USAGE_START,
    }
    words = TEXT.split(" ")
    pieces = [" ".join(words[i : i + 4]) + " " for i in range(0, len(words), 4)]
    return [
        _event("message_start", {"type": "message_start", "message": start}),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _event("ping", {"type": "ping"}),
        *(
            _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
            for piece in pieces
        ),
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {key: USAGE_FINAL[key] for key in _DELTA_USAGE},
            },
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]


_TEMPLATE_ID = b"msg_bench%016d" % 0


@functools.lru_cache(maxsize=64)
def _templates(model: str) -> tuple[bytes, list[bytes]]:
    """A model's JSON body and chunk-encoded events, with message id 0 (replaced per response)."""
    return message_json(model, 0), [_chunk(event) for event in message_events(model, 0)]


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _head(status: str, content_type: bytes, extra: bytes, n: int) -> bytes:
    request_id = b"request-id: req_bench%016d\r\n" % n
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + content_type + b"\r\n" + request_id + extra
    )


MODELS = _dumps(
    {
        "data": [
            {
                "type": "model",
                "id": "claude-haiku-5-5",
                "display_name": "Claude Haiku 5.5",
                "created_at": "2026-11-09T00:00:00Z",
            }
        ],
        "has_more": False,
        "first_id": "claude-haiku-5-5",
        "last_id": "claude-haiku-5-5",
    }
)
NOT_FOUND = _dumps({"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})


class MockApi(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, probe_gap: float) -> None:
        self.probe_gap = probe_gap
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports subclass no asyncio class

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        keep = self.parser.should_keep_alive()
        close = b"" if keep else b"connection: close\r\n"
        path = self.url.split(b"?", 1)[0]
        method = self.parser.get_method()
        n = next(_ids)
        if method == b"POST" and path == b"/v1/messages":
            self._messages(transport, b"".join(self.body), close, n)
        elif method == b"GET" and path == b"/v1/models":
            self._plain(transport, "200 OK", MODELS, close, n)
        else:
            self._plain(transport, "404 Not Found", NOT_FOUND, close, n)
        if not keep:
            transport.close()

    def _plain(self, transport: asyncio.Transport, status: str, body: bytes, close: bytes, n: int) -> None:
        head = _head(status, b"application/json", close, n)
        transport.write(head + b"content-length: %d\r\n\r\n" % len(body) + body)

    def _messages(self, transport: asyncio.Transport, raw: bytes, close: bytes, n: int) -> None:
        try:
            request = json.loads(raw)
            model = str(request["model"])
        except (ValueError, KeyError, TypeError):
            body = _dumps(
                {"type": "error", "error": {"type": "invalid_request_error", "message": "bad request body"}}
            )
            self._plain(transport, "400 Bad Request", body, close, n)
            return
        message, events = _templates(model)
        message_id = b"msg_bench%016d" % n
        if not request.get("stream"):
            self._plain(transport, "200 OK", message.replace(_TEMPLATE_ID, message_id), close, n)
            return
        head = _head("200 OK", b"text/event-stream; charset=utf-8", close, n)
        head += b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        events = [events[0].replace(_TEMPLATE_ID, message_id), *events[1:]]
        if PROBE_MARKER not in raw:
            transport.write(head + b"".join(events) + b"0\r\n\r\n")
            return
        transport.write(head + b"".join(events[:3]))
        rest = b"".join(events[3:]) + b"0\r\n\r\n"
        asyncio.get_running_loop().call_later(self.probe_gap, self._write_late, transport, rest)

    @staticmethod
    def _write_late(transport: asyncio.Transport, data: bytes) -> None:
        if not transport.is_closing():
            transport.write(data)


async def _serve(host: str, port: int, probe_gap: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: MockApi(probe_gap), host, port, backlog=4096, reuse_address=True
    )
    print(f"mock Claude API on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--probe-gap-ms", type=float, default=20.0)
    args = parser.parse_args()
    uvloop.run(_serve(args.host, args.port, args.probe_gap_ms / 1000))


if __name__ == "__main__":
    main()
