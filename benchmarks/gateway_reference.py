"""The gateway benchmark's yardstick: about the least a Python pass-through to the Claude API can cost.

    ANTHROPIC_BASE_URL=http://127.0.0.1:U python benchmarks/gateway_reference.py --port P

uvicorn with uvloop and httptools serving a raw ASGI app (no framework), an aiohttp connection pool
upstream, and the usage read from the JSON body or from the ``message_start``/``message_delta`` events
as the stream passes through, chunk by chunk, without buffering it. Nothing else: no ledger, no
budgets, no policies. Issue 10 measured this shape at about 5,000 requests/s at 32 connections
(streaming about 3,200) on one core; the clawback gateway is measured beside it. The benchmark runs it
in its own venv (``.bench/reference-venv``: aiohttp, uvicorn, uvloop, httptools), so the package
itself needs no aiohttp.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from typing import Any

import aiohttp
import uvicorn

ASGI = dict[str, Any]
# headers never copied between the two connections (RFC 9110 hop-by-hop, plus what each side sets itself)
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"host",
        b"content-length",
        b"date",
        b"server",
    }
)
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class Totals:
    """Tokens seen in the responses, by kind (what a ledger would record, kept in memory)."""

    def __init__(self) -> None:
        self.responses = 0
        self.tokens = dict.fromkeys(USAGE_KEYS, 0)

    def add(self, usage: object, keys: tuple[str, ...] = USAGE_KEYS, *, final: bool = True) -> None:
        """Count ``keys`` of one usage object; ``final`` marks the last usage of a response."""
        if isinstance(usage, dict):
            for key in keys:
                value = usage.get(key)
                if isinstance(value, int):
                    self.tokens[key] += value
        self.responses += final


class SseUsage:
    """Reads usage from SSE events as the chunks pass, keeping only an incomplete event's bytes."""

    def __init__(self, totals: Totals) -> None:
        self.totals = totals
        self.pending = b""

    def feed(self, chunk: bytes) -> None:
        """Scan one chunk; usage events are parsed, everything else is only looked at."""
        data = self.pending + chunk
        *events, self.pending = data.split(b"\n\n")
        for event in events:
            if b"message_start" in event or b"message_delta" in event:
                self._usage(event)

    def _usage(self, event: bytes) -> None:
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            try:
                payload = json.loads(line[5:])
            except ValueError:
                return
            if payload.get("type") == "message_start":
                # input and cache tokens are final here; output_tokens is final in message_delta
                self.totals.add(
                    payload.get("message", {}).get("usage"), USAGE_KEYS[:1] + USAGE_KEYS[2:], final=False
                )
            elif payload.get("type") == "message_delta":
                self.totals.add(payload.get("usage"), ("output_tokens",))


class PassThrough:
    """The raw ASGI app: every request forwarded to ``base_url`` over one pooled aiohttp session."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session: aiohttp.ClientSession | None = None
        self.totals = Totals()

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=None)
            self.session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=600),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self.session

    async def __call__(self, scope: ASGI, receive: Any, send: Any) -> None:
        """Forward one HTTP request; lifespan events are not used (uvicorn runs with lifespan off)."""
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in HOP_BY_HOP
        ]
        url = (
            self.base_url
            + scope["path"]
            + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        )
        try:
            async with self._session().request(scope["method"], url, data=body, headers=headers) as resp:
                out = [(k.lower(), v) for k, v in resp.raw_headers if k.lower() not in HOP_BY_HOP]
                if resp.content_type == "text/event-stream":
                    await self._stream(resp, out, send)
                else:
                    await self._whole(resp, out, send, usage=scope["path"] == "/v1/messages")
        except aiohttp.ClientError as exc:
            error = {"type": "error", "error": {"type": "api_error", "message": f"upstream: {exc}"}}
            data = json.dumps(error).encode()
            head = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
            await send({"type": "http.response.start", "status": 502, "headers": head})
            await send({"type": "http.response.body", "body": data})

    async def _stream(self, resp: aiohttp.ClientResponse, out: list[tuple[bytes, bytes]], send: Any) -> None:
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        scanner = SseUsage(self.totals)
        async for chunk in resp.content.iter_any():
            scanner.feed(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _whole(
        self, resp: aiohttp.ClientResponse, out: list[tuple[bytes, bytes]], send: Any, *, usage: bool
    ) -> None:
        data = await resp.read()
        if usage and resp.status == 200:
            with contextlib.suppress(ValueError, AttributeError):
                self.totals.add(json.loads(data).get("usage"))
        out.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        await send({"type": "http.response.body", "body": data})


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    base_url = os.environ.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
    uvicorn.run(
        PassThrough(base_url),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=60,
    )


if __name__ == "__main__":
    main()
