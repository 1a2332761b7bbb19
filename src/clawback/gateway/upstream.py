"""The Claude API (or anything speaking it) behind the gateway: a small keep-alive HTTP/1.1 client.

The upstream client decides a proxy's throughput, so the gateway has its own, on asyncio and the
same ``httptools`` parser uvicorn uses: one ``asyncio.Protocol`` per pooled connection, the request
written in one call (head and body), the response's headers kept as the raw pairs they arrived as
(names lower-cased), its body handed on in the chunks it arrived in — nothing decoded, decompressed
or buffered past what the caller has not read yet. A general client (aiohttp, measured in
docs/benchmarks.md) spent about a third of the gateway's CPU on request and response objects the
gateway never needed. Compression is refused (``accept-encoding: identity``, see
:func:`clawback.gateway.wire.forward_headers`) so usage can be read from what passes through.

* **Pool**: at most ``connections`` connections; an idle one is reused most-recent-first and
  closed after :data:`KEEPALIVE_S` unused. A request sent on a reused connection that the server
  closed before answering a single byte (its keep-alive ran out) is sent once more on a fresh one.
* **Time limits**: ``connect_timeout_s`` to open a connection, ``timeout_s`` for the whole exchange
  (head and body), as aiohttp's ``ClientTimeout(total=..., sock_connect=...)`` did.
* **Back-pressure**: a body the caller reads chunk by chunk pauses the upstream socket while more
  than :data:`HIGH_WATER` bytes wait unread.
* **TLS** for ``https://`` upstreams (the system's trust store); credentials in the base URL are
  sent as HTTP basic auth, never logged.

Connection failures become the API's own error shapes (see docs/gateway.md): an upstream that
can't be reached or drops the connection before answering is 502 ``api_error``; one that does not
answer in time is 504 ``timeout_error``; a request no HTTP/1.1 request may carry (a control
character in a header) is 400. SDKs retry 502 and 504.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import socket
import ssl
import string
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import cast
from urllib.parse import quote_from_bytes, unquote, urlsplit

import httptools

from clawback.gateway.wire import GatewayRefusal
from clawback.redact import redact

__all__ = ["HIGH_WATER", "KEEPALIVE_S", "STREAM_ERRORS", "Upstream", "UpstreamCut", "UpstreamResponse"]

KEEPALIVE_S = 15.0
"""An idle pooled connection unused this long is closed rather than reused."""
HIGH_WATER = 1 << 20
"""Unread body bytes past which reading from upstream pauses (streams read chunk by chunk)."""
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAFE = (string.ascii_letters + string.digits + string.punctuation).encode()


class UpstreamCut(ConnectionError):
    """The upstream connection closed, or sent something that isn't HTTP/1.1, mid-exchange."""

    def __init__(self, message: str, *, before_answer: bool = False) -> None:
        super().__init__(message)
        self.before_answer = before_answer


STREAM_ERRORS = (ConnectionError, TimeoutError)
"""What reading a response body can raise when upstream cuts it off or stalls."""


class UpstreamResponse:
    """One upstream answer: status and raw headers at once, the body as it arrives.

    Read it whole with :meth:`read` or chunk by chunk with :meth:`readany`/:meth:`iter_chunks`, then
    :meth:`release` it (a body left unread closes its connection rather than leaving it half-read).
    """

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_eof",
        "_error",
        "_loop",
        "_waiter",
        "_whole",
        "content_length",
        "content_type",
        "raw_headers",
        "request_id",
        "status",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        """Response headers as received, names lower-cased, repeated names kept."""
        self.content_type = ""
        """The media type, lower-cased, without parameters (``text/event-stream``)."""
        self.content_length: int | None = None
        self.request_id: str | None = None
        self._loop = loop
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._whole = False
        self._conn: _Connection | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        key = name.lower().encode("latin-1")
        for k, v in self.raw_headers:
            if k == key:
                return v.decode("latin-1")
        return None

    @property
    def complete(self) -> bool:
        """The whole body has arrived and been read: the next :meth:`readany` returns ``b""``."""
        return self._eof and not self._chunks

    async def read(self) -> bytes:
        """The whole body (raises what cut it short: see :data:`STREAM_ERRORS`)."""
        self._whole = True  # held whole anyway: never pause reading for it
        if self._conn is not None:
            self._conn.resume()
        while not self._eof and self._error is None:
            await self._wait()
        if self._error is not None:
            raise self._error
        chunks, self._chunks = self._chunks, []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def readany(self) -> bytes:
        """The bytes that arrived since the last call, waiting for some; ``b""`` at the body's end.

        Bytes that arrived before a failure are returned first; the failure is raised after them."""
        if not self._chunks:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            await self._wait()
            if not self._chunks:
                if self._error is not None:
                    raise self._error
                return b""
        chunks, self._chunks = self._chunks, []
        if self._buffered > HIGH_WATER and self._conn is not None:
            self._conn.resume()
        self._buffered = 0
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk as it arrives."""
        while True:
            chunk = await self.readany()
            if not chunk:
                return
            yield chunk

    def release(self) -> None:
        """Done with the response: a body not read to its end closes the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abandon(self)
        self._chunks = []

    async def _wait(self) -> None:
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self._conn = None
        if self._error is None and not self._eof:
            self._error = exc
        self._wake()


class _Connection(asyncio.Protocol):
    """One keep-alive connection to upstream; at most one exchange at a time."""

    def __init__(self, pool: Upstream) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.resp: UpstreamResponse | None = None
        self.head: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.paused = False
        self.received = False
        self.head_only = False
        self.framed = False
        self.informational = False
        self.idle_since = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports subclass no asyncio class
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.resp is None:  # bytes nobody asked for: this connection can't be trusted again
            self.abort()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(UpstreamCut(f"the upstream API sent a malformed HTTP response: {exc}"))

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost does the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        resp = self.resp
        if resp is None:
            return
        if self.head is not None and not self.head.done():
            self.fail(
                UpstreamCut(
                    "the upstream API closed the connection before answering",
                    before_answer=not self.received,
                )
            )
        elif not self.framed and not self.head_only:  # a body delimited by the connection's end
            self.finish()
        else:
            self.fail(UpstreamCut("the upstream API closed the connection before the end of its answer"))

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        resp = self.resp
        if resp is None:
            return
        name = name.lower()
        resp.raw_headers.append((name, value))
        if name == b"content-type":
            resp.content_type = value.decode("latin-1").partition(";")[0].strip().lower()
        elif name == b"request-id":
            resp.request_id = value.decode("latin-1")
        elif name == b"content-length":
            self.framed = True
            with contextlib.suppress(ValueError):
                resp.content_length = int(value)
        elif name == b"transfer-encoding":
            self.framed = True

    def on_headers_complete(self) -> None:
        resp = self.resp
        if resp is None:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # informational: the real answer follows
            self.informational = True
            resp.raw_headers = []
            self.framed = False
            return
        resp.status = status
        if status in (204, 304):
            self.framed = True
        head, self.head = self.head, None  # the connection may serve another exchange before this one resumes
        if head is not None and not head.done():
            head.set_result(None)
        if self.head_only:
            self.finish(reuse=False)

    def on_body(self, body: bytes) -> None:
        resp = self.resp
        if resp is None:
            return
        resp._chunks.append(body)
        resp._buffered += len(body)
        resp._wake()
        if resp._buffered > HIGH_WATER and not resp._whole and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        if self.resp is not None:
            self.finish(reuse=self.parser.should_keep_alive())

    # -- one exchange ---------------------------------------------------------------------------

    async def exchange(
        self, request: bytes, body: bytes | None, deadline: float, head_only: bool
    ) -> UpstreamResponse:
        """Write one request and wait for the head of its answer."""
        resp = UpstreamResponse(self.loop)
        resp._conn = self
        self.resp = resp
        self.head = head = self.loop.create_future()
        self.received = self.framed = self.informational = False
        self.head_only = head_only
        self.timer = self.loop.call_at(deadline, self.time_out)
        transport = self.transport
        assert transport is not None
        if body is None:
            transport.write(request)
        elif len(body) < 1 << 16:
            transport.write(request + body)
        else:
            transport.writelines((request, body))
        try:
            await head
        except BaseException:
            if self.head is head:
                self.head = None
            self.abandon(resp)
            raise
        return resp

    def finish(self, *, reuse: bool = False) -> None:
        """The answer is complete: hand it over and put the connection back in the pool."""
        resp, self.resp = self.resp, None
        self._stop_timer()
        if resp is not None:
            resp._eof = True
            resp._conn = None
            resp._wake()
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        if reuse and not self.closed:
            self.pool.put(self)
        else:
            self.abort()

    def fail(self, exc: BaseException) -> None:
        """The exchange failed: tell whoever waits, and drop the connection."""
        resp, self.resp = self.resp, None
        self._stop_timer()
        head, self.head = self.head, None
        if head is not None and not head.done():
            head.set_exception(exc)
        elif resp is not None:
            resp._fail(exc)
        self.abort()

    def time_out(self) -> None:
        self.timer = None
        self.fail(TimeoutError("the upstream API did not answer in time"))

    def abandon(self, resp: UpstreamResponse) -> None:
        """The caller gave up on ``resp`` before its end: the connection can't be reused."""
        if self.resp is resp:
            self.resp = None
            self._stop_timer()
            self.abort()

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        else:
            self.pool.forget(self)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Upstream:
    """Sends requests to ``base_url`` over one keep-alive connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 10.0,
        connections: int = 256,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        try:
            explicit = parts.port
        except ValueError:
            explicit = None
        self._port = explicit or (443 if self._tls else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = f"{host}:{explicit}" if explicit else host
        self._prefix = parts.path.rstrip("/")
        self._auth = ""
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode("latin-1", "replace")
            self._auth = "Basic " + base64.b64encode(pair).decode("ascii")
        self._valid = parts.scheme in ("http", "https") and bool(self._host)
        self._timeout = timeout_s
        self._connect_timeout = connect_timeout_s
        self._limit = connections
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._ssl: ssl.SSLContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the pool lives in (the one of its first request)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> UpstreamResponse:
        """Start one request; the response's body is read by the caller (who must release it)."""
        request = self._request(method, path, headers, body)
        loop = self.loop
        deadline = loop.time() + self._timeout
        head_only = method == "HEAD"
        for attempt in (1, 2):
            reused = False
            try:
                conn, reused = await self._acquire(deadline)
                return await conn.exchange(request, body, deadline, head_only)
            except UpstreamCut as exc:
                if exc.before_answer and reused and attempt == 1:
                    continue  # the server had closed this idle connection: once more on a fresh one
                raise GatewayRefusal(
                    502, f"clawback gateway: cannot reach the upstream API: {redact(_describe(exc))}"
                ) from None
            except TimeoutError:
                raise GatewayRefusal(
                    504, "clawback gateway: the upstream API did not answer in time"
                ) from None
            except OSError as exc:
                raise GatewayRefusal(
                    502, f"clawback gateway: cannot reach the upstream API: {redact(_describe(exc))}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
        """The request's head as bytes; 400 for what no HTTP/1.1 request may carry."""
        if not self._valid:
            raise GatewayRefusal(
                400,
                f"clawback gateway: the request can't be forwarded: invalid upstream URL {redact(self.base_url)!r}",
            )
        if method not in _METHODS and _TOKEN.fullmatch(method) is None:
            raise GatewayRefusal(400, "clawback gateway: the request can't be forwarded: invalid method")
        target = self._prefix + path
        if not target.isascii() or any(c in target for c in " \r\n\t\x00"):
            raw = target.encode("latin-1", "replace")
            if any(b <= 0x20 or b == 0x7F for b in raw):
                raise GatewayRefusal(400, "clawback gateway: the request can't be forwarded: invalid path")
            target = quote_from_bytes(raw, safe=_SAFE)
        lines = "".join([f"{k}: {v}\r\n" for k, v in headers.items()])
        # one CR and one LF per header line written here, none inside a name or value
        if lines.count("\n") != len(headers) or lines.count("\r") != len(headers) or "\x00" in lines:
            raise GatewayRefusal(
                400, "clawback gateway: the request can't be forwarded: a header holds a control character"
            )
        if self._auth and "authorization" not in headers:
            lines += f"authorization: {self._auth}\r\n"
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines += f"content-length: {len(body) if body is not None else 0}\r\n"
        try:
            return f"{method} {target} HTTP/1.1\r\nhost: {self._host_header}\r\n{lines}\r\n".encode("latin-1")
        except UnicodeEncodeError:
            raise GatewayRefusal(
                400, "clawback gateway: the request can't be forwarded: a header is not Latin-1"
            ) from None

    async def _acquire(self, deadline: float) -> tuple[_Connection, bool]:
        loop = self.loop
        while True:
            now = loop.time()
            while self._idle:
                conn = self._idle.pop()
                if conn.closed or conn.transport is None or conn.transport.is_closing():
                    continue
                if now - conn.idle_since > KEEPALIVE_S:
                    conn.abort()
                    continue
                return conn, True
            if len(self._all) < self._limit:
                return await self._connect(deadline), False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiting.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()

    async def _connect(self, deadline: float) -> _Connection:
        loop = self.loop
        conn = _Connection(self)
        self._all.add(conn)
        if self._tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        try:
            async with asyncio.timeout(min(self._connect_timeout, max(0.0, deadline - loop.time()))):
                await loop.create_connection(
                    lambda: conn,
                    self._host,
                    self._port,
                    ssl=self._ssl if self._tls else None,
                    server_hostname=self._host if self._tls else None,
                )
        except BaseException:
            self.forget(conn)
            raise
        return conn

    def put(self, conn: _Connection) -> None:
        """A connection whose exchange is over and can be reused."""
        conn.idle_since = self.loop.time()
        self._idle.append(conn)
        self._wake_one()

    def forget(self, conn: _Connection) -> None:
        """A connection that is closed (or never opened)."""
        if conn in self._all:
            self._all.discard(conn)
            with contextlib.suppress(ValueError):
                self._idle.remove(conn)
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every connection."""
        for conn in list(self._all):
            conn.abort()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports run connection_lost


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
