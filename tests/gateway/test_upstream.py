"""The gateway's own HTTP/1.1 upstream client against a scripted loopback server: keep-alive reuse,
a stale connection retried once, close-delimited and chunked bodies, HEAD, cuts, malformed answers,
unsendable headers, time limits and credentials in the base URL."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from clawback.gateway.upstream import STREAM_ERRORS, Upstream
from clawback.gateway.wire import GatewayRefusal

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: req_1\r\ncontent-length: 2\r\n\r\n{}"


@dataclass
class Conn:
    """One connection the scripted server accepted (``n``: its number, from 1)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    n: int
    seen: list[bytes]

    async def request(self) -> bytes:
        """The next request's head and body (by its content-length), b"" at the connection's end."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        data = head + (await self.reader.readexactly(length) if length else b"")
        self.seen.append(data)
        return data


Handler = Callable[[Conn], Awaitable[None]]


def _run(handler: Handler, scenario: Callable[[str, list[bytes]], Awaitable[Any]]) -> Any:
    """Serve ``handler`` on a loopback port and run ``scenario(base_url, requests_seen)``."""
    seen: list[bytes] = []
    numbers = iter(range(1, 1000))

    async def main() -> Any:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(Conn(reader, writer, next(numbers), seen))
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await scenario(f"http://127.0.0.1:{port}", seen)
        finally:
            server.close()

    return asyncio.run(main())


def test_keep_alive_reuses_one_connection_and_sends_head_and_body() -> None:
    async def handler(c: Conn) -> None:
        while await c.request():
            c.writer.write(OK.replace(b"req_1", b"req_%d" % c.n))

    async def scenario(url: str, seen: list[bytes]) -> list[Any]:
        up = Upstream(url + "/prefix")
        out = []
        for _ in range(3):
            resp = await up.send("POST", "/v1/messages?beta=true", {"x-api-key": "k", "a": "1"}, b"{}")
            out.append((resp.status, resp.request_id, resp.content_type, await resp.read()))
            resp.release()
        await up.close()
        return out

    out = _run(handler, scenario)
    assert out == [(200, "req_1", "application/json", b"{}")] * 3  # one connection served all three


def test_request_head_is_what_was_asked_for() -> None:
    async def handler(c: Conn) -> None:
        while await c.request():
            c.writer.write(OK)

    async def scenario(url: str, seen: list[bytes]) -> bytes:
        host = url.removeprefix("http://")
        up = Upstream(f"http://user:p%40ss@{host}/base")
        resp = await up.send(
            "POST", "/v1/messages", {"x-api-key": "k", "anthropic-beta": "b1, b2"}, b'{"a":1}'
        )
        await resp.read()
        resp.release()
        await up.close()
        return seen[0]

    head = _run(handler, scenario)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /base/v1/messages HTTP/1.1" and lines[1].startswith(b"host: 127.0.0.1:")
    assert b"x-api-key: k" in lines and b"anthropic-beta: b1, b2" in lines
    assert b"authorization: Basic " + base64.b64encode(b"user:p@ss") in lines
    assert b"content-length: 7" in lines and head.endswith(b'\r\n\r\n{"a":1}')


def test_a_connection_the_server_closed_while_idle_is_retried_on_a_fresh_one() -> None:
    async def handler(c: Conn) -> None:
        if await c.request():
            c.writer.write(OK.replace(b"req_1", b"req_%d" % c.n))
            await c.writer.drain()
        await c.request()  # reads the next request, then hangs up without answering it

    async def scenario(url: str, seen: list[bytes]) -> list[str | None]:
        up = Upstream(url)
        ids = []
        for _ in range(2):
            resp = await up.send("GET", "/v1/models", {}, None)
            await resp.read()
            ids.append(resp.request_id)
            resp.release()
        await up.close()
        return ids

    assert _run(handler, scenario) == ["req_1", "req_2"]


def test_close_delimited_chunked_and_head_bodies() -> None:
    async def handler(c: Conn) -> None:
        head = await c.request()
        if head.startswith(b"HEAD"):
            c.writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n")
            await c.writer.drain()
            await c.request()
        elif b"/close" in head:
            c.writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        else:
            c.writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n")
            c.writer.write(b"transfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await c.writer.drain()
            await asyncio.sleep(0.05)
            c.writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
            await c.writer.drain()
            await c.request()

    async def scenario(url: str, seen: list[bytes]) -> tuple[Any, ...]:
        up = Upstream(url)
        closed = await up.send("GET", "/close", {}, None)
        whole = await closed.read()
        head = await up.send("HEAD", "/x", {}, None)
        head_body = await head.read()
        stream = await up.send("GET", "/stream", {}, None)
        chunks = [c async for c in stream.iter_chunks()]
        await up.close()
        return whole, head.status, head.content_length, head_body, stream.content_type, chunks

    whole, status, length, head_body, kind, chunks = _run(handler, scenario)
    assert whole == b"all of it" and (status, length, head_body) == (200, 50, b"")
    assert kind == "text/event-stream" and chunks == [b"first", b"second"]  # as they arrived


def test_cut_bodies_malformed_answers_and_silence() -> None:
    async def handler(c: Conn) -> None:
        head = await c.request()
        if b"/cut" in head:
            c.writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        elif b"/junk" in head:
            c.writer.write(b"this is not HTTP\r\n\r\n")
        elif b"/silent" in head:
            await asyncio.sleep(5)
        await c.writer.drain()

    async def scenario(url: str, seen: list[bytes]) -> tuple[Any, ...]:
        up = Upstream(url, timeout_s=0.3)
        cut = await up.send("GET", "/cut", {}, None)
        with pytest.raises(STREAM_ERRORS):
            await cut.read()
        with pytest.raises(GatewayRefusal) as junk:
            await up.send("GET", "/junk", {}, None)
        with pytest.raises(GatewayRefusal) as silent:
            await up.send("GET", "/silent", {}, None)
        await up.close()
        return junk.value.status, silent.value.status, silent.value.type

    assert _run(handler, scenario) == (502, 504, "timeout_error")


def test_what_no_request_may_carry_is_refused_before_sending_and_nothing_listening_is_502() -> None:
    async def handler(c: Conn) -> None:
        await c.request()

    async def scenario(url: str, seen: list[bytes]) -> list[int]:
        up = Upstream(url)
        statuses = []
        for headers, path in (
            ({"x-bad": "a\r\nx-injected: 1"}, "/v1/models"),
            ({"x-bad": "snow ☃"}, "/v1/models"),
            ({}, "/v1/mod els"),
        ):
            with pytest.raises(GatewayRefusal) as refused:
                await up.send("GET", path, headers, None)
            statuses.append(refused.value.status)
        with pytest.raises(GatewayRefusal) as refused:
            await up.send("GET / HTTP/1.1\r\nx-injected: 1\r\nx:", "/v1/models", {}, None)
        statuses.append(refused.value.status)
        await up.close()
        nobody = Upstream("http://127.0.0.1:9", connect_timeout_s=2)
        with pytest.raises(GatewayRefusal) as unreachable:
            await nobody.send("GET", "/v1/models", {}, None)
        statuses.append(unreachable.value.status)
        assert not seen  # nothing was sent
        return statuses

    assert _run(handler, scenario) == [400, 400, 400, 400, 502]


def test_bodies_past_the_high_water_mark_are_read_whole_and_chunk_by_chunk() -> None:
    big = bytes(range(256)) * (3 * 4096)  # 3 MiB

    async def handler(c: Conn) -> None:
        while await c.request():
            c.writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(big) + big)
            await c.writer.drain()

    async def scenario(url: str, seen: list[bytes]) -> tuple[bool, bool]:
        up = Upstream(url)
        whole = await up.send("GET", "/whole", {}, None)
        await asyncio.sleep(0.05)  # the body arrives while nobody reads it
        read_whole = await whole.read() == big
        whole.release()
        chunked = await up.send("GET", "/chunks", {}, None)
        await asyncio.sleep(0.05)  # reading paused past the high-water mark, resumed as it is read
        parts = [c async for c in chunked.iter_chunks()]
        chunked.release()
        await up.close()
        return read_whole, b"".join(parts) == big

    assert _run(handler, scenario) == (True, True)
