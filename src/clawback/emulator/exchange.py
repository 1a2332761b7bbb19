"""One request/response pair on an API endpoint: ids, caller, body limits, headers, logging.

Every ``/v1`` handler is wrapped by :func:`api`, which gives it an :class:`Exchange`, turns an
:class:`~clawback.emulator.wire.ApiError` into the documented error response, turns anything
unexpected into a 500 ``api_error`` (the server keeps serving), and logs the outcome. Every
response carries ``request-id`` and ``anthropic-organization-id``; responses to identified
callers also carry the ``anthropic-ratelimit-*`` headers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from clawback.emulator.params import check_version
from clawback.emulator.visibility import Arrival
from clawback.emulator.wire import ApiError, dumps, error_body, invalid_request, new_id

if TYPE_CHECKING:
    from clawback.emulator.state import Caller, EmulatorState

__all__ = ["ORGANIZATION_ID", "Exchange", "JsonResponse", "api", "read_body"]

ORGANIZATION_ID = "emulator-org-00000000-0000-0000-0000-000000000000"
_JSON = "application/json"
_SMALL = 65_536
log = logging.getLogger("clawback.emulator")


async def _drain_rest(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"Request exceeds the maximum size of {limit:,} bytes")


async def read_body(request: Request, limit: int) -> bytes | bytearray:
    """The body's bytes; 413 ``request_too_large`` past ``limit`` (the rest is read and dropped).

    Read from the ASGI ``receive`` directly: a small body arrives in one message and is returned
    as it is; chunks of a bigger one are appended to one buffer as they arrive, so a 30 MB body
    is never joined in one go on the event loop.
    """
    declared = request.headers.get("content-length")
    receive = request.receive
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain_rest(receive)
        raise _too_large(limit)
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise invalid_request("the client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) + len(chunk) > limit:
            if more:
                await _drain_rest(receive)
            raise _too_large(limit)
        if not more and not body:  # the whole body in one message (every small request)
            return chunk
        body += chunk
        if not more:
            return body if len(body) > _SMALL else bytes(body)


def _path(request: Request) -> str:
    """``request.url.path`` without building the whole URL (the log's path, on every call)."""
    path: str = request.scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


_NAMES: dict[str, bytes] = {}  # header name → its lowercase bytes (the same dozen names on every answer)


def _name(name: str) -> bytes:
    encoded = name.lower().encode("latin-1")
    if len(_NAMES) < 256:
        _NAMES[name] = encoded
    return encoded


class JsonResponse(Response):
    """A JSON body with its headers encoded directly (every API answer is one: the hot path)."""

    media_type = _JSON

    def __init__(self, body: bytes, status: int, headers: Mapping[str, str]) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        names = _NAMES
        raw = [(names.get(k) or _name(k), v.encode("latin-1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        raw.append((b"content-type", b"application/json"))
        self.raw_headers = raw


class Exchange:
    """The context of one API request."""

    __slots__ = (
        "arrival",
        "batch_id",
        "caller",
        "endpoint",
        "model",
        "params_hash",
        "request",
        "request_id",
        "start",
        "state",
        "stream",
    )

    def __init__(self, state: EmulatorState, request: Request, endpoint: str) -> None:
        self.state = state
        self.request = request
        self.endpoint = endpoint
        self.request_id = new_id("req")
        self.start = state.clock.now()
        client = request.scope.get("client")
        self.arrival = Arrival(
            state.cache_store.begun, tuple(client) if client else None, self.start, fanout=True
        )
        self.caller: Caller | None = None
        self.model: str | None = None
        self.params_hash: str | None = None
        self.stream = False
        self.batch_id: str | None = None

    def authenticate(self) -> Caller:
        """The caller; 401 when auth is on and the key is missing or wrong."""
        self.caller = self.state.caller(self.request.headers)
        return self.caller

    def version(self) -> str:
        """The request's ``anthropic-version`` (400 if missing or unknown)."""
        return check_version(self.request.headers.get("anthropic-version"))

    def note_body(self, params_hash: str, model: str | None, stream: bool) -> None:
        """Remember the model and a hash of a Messages body (its bytes) for the log."""
        self.params_hash = params_hash
        self.model = model
        self.stream = stream

    async def inject_fault(self, endpoint: str) -> None:
        """Apply a fault rule for ``endpoint`` (Models and Batches requests): an error, or a slow answer."""
        state = self.state
        fault = state.faults.pick(endpoint)
        if fault is None:
            return
        state.stats.faults[fault.kind] += 1
        err = fault.error()
        if err is not None:
            raise err
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_seconds)

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The headers every response carries, plus ``extra``."""
        out = {"request-id": self.request_id, "anthropic-organization-id": ORGANIZATION_ID}
        if self.caller is not None:
            out.update(self.state.limiter.headers(self.caller.workspace, self.start))
        if extra:
            out.update(extra)
        return out

    def json(self, payload: Any, status: int = 200) -> Response:
        """A JSON response, logged."""
        self.finish(status)
        return JsonResponse(dumps(payload), status, self.headers())

    def error(self, err: ApiError) -> Response:
        """The documented error response for ``err``, logged."""
        self.finish(err.status)
        return JsonResponse(error_body(err, self.request_id), err.status, self.headers(err.headers))

    def finish(self, status: int) -> None:
        """Log the outcome and count it."""
        state = self.state
        state.stats.count(self.endpoint, status)
        state.log.add(
            at=self.start,
            endpoint=self.endpoint,
            method=self.request.method,
            path=_path(self.request),
            status=status,
            request_id=self.request_id,
            key=self.caller.key if self.caller is not None else "<none>",
            model=self.model,
            params_hash=self.params_hash,
            stream=self.stream,
            batch_id=self.batch_id,
        )


Handler = Callable[[Exchange], Awaitable[Response]]


def api(endpoint: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler taking an :class:`Exchange` into a Starlette endpoint."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint_fn(request: Request) -> Response:
            exchange = Exchange(request.app.state.emulator, request, endpoint)
            try:
                return await handler(exchange)
            except ApiError as err:
                return exchange.error(err)
            except Exception:
                log.exception("emulator: unexpected error on %s %s", request.method, request.url.path)
                return exchange.error(ApiError(500, "Internal server error"))

        endpoint_fn.__name__ = handler.__name__
        endpoint_fn.__doc__ = handler.__doc__
        return endpoint_fn

    return wrap
