"""The emulator as an ASGI app: routes, and handlers that parse, call the core, and render.

``create_app()`` returns a Starlette app serving the Claude API's Messages, Token Counting,
Message Batches and Models endpoints, plus the control API under ``/_emulator/`` (see
``docs/emulator.md``). Its state is ``app.state.emulator`` (an
:class:`~clawback.emulator.state.EmulatorState`). Use it in-process through
``httpx2.ASGITransport(app)`` or serve it with :func:`clawback.emulator.server.serve`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from clawback.emulator import batch_routes, control
from clawback.emulator.clock import VirtualClock
from clawback.emulator.config import EmulatorConfig
from clawback.emulator.core import Served
from clawback.emulator.exchange import Exchange, api, read_body
from clawback.emulator.faults import Fault
from clawback.emulator.models_api import model_ids, model_object
from clawback.emulator.params import MessageRequest
from clawback.emulator.prepare import Job, prepare_message
from clawback.emulator.sse import SseEvent, error_event, message_events
from clawback.emulator.state import EmulatorState
from clawback.emulator.wire import ApiError, not_found, page_body, paginate, parse_limit
from clawback.pricing.catalogue import Catalogue
from clawback.shapes import RequestShape

__all__ = ["EmulatorApp", "SseResponse", "create_app"]


class SseResponse(Response):
    """A streamed Message, paced by the latency model, with stream faults applied."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: Sequence[SseEvent],
        headers: dict[str, str],
        *,
        exchange: Exchange,
        served: Served,
        fault: Fault | None,
    ) -> None:
        self.status_code = 200
        self.background = None
        self.events = events
        self.exchange = exchange
        self.served = served
        self.fault = fault
        base = {**headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in base.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        clock = self.exchange.state.clock
        tps = self.exchange.state.config.latency.output_tokens_per_second
        fault = self.fault
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await clock.sleep_until(self.exchange.start + self.served.timing.ttft)
        for i, event in enumerate(self.events):
            if fault is not None and i == fault.after_events:
                if fault.kind == "stream_cut":
                    return  # the response never completes: the server drops the connection
                err = ApiError(529, "Overloaded (injected mid-stream by the emulator)")
                await send(
                    {
                        "type": "http.response.body",
                        "body": error_event(err, self.exchange.request_id),
                        "more_body": True,
                    }
                )
                break
            if event.tokens and self.exchange.state.core.latency.enabled:
                await clock.sleep(event.tokens / tps)
            await send({"type": "http.response.body", "body": event.data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _message_request(
    ex: Exchange, *, counting: bool
) -> tuple[Fault | None, MessageRequest, RequestShape]:
    """Read, decode, validate and shape the body (off the event loop when it is big), then faults."""
    state = ex.state
    ex.authenticate()
    version = ex.version()
    raw = await read_body(ex.request, state.config.limits.messages_body_bytes)
    offload = state.offload
    job = Job(version, state.today(), counting=counting, light=len(raw) >= offload.threshold)
    prepared = await offload.run(prepare_message, raw, job)
    if not prepared.decoded:
        prepared.ready()  # not JSON: refused before anything else
    ex.note_body(prepared.params_hash, prepared.model, prepared.stream)
    fault = state.faults.pick("count_tokens" if counting else "messages", model=ex.model, stream=ex.stream)
    if fault is not None:
        state.stats.faults[fault.kind] += 1
        err = fault.error()
        if err is not None:
            raise err
    request, shape = prepared.ready()
    return fault, request, shape


def _uses_cache(shape: RequestShape) -> bool:
    """Whether a request can read or write the cache (a breakpoint, or automatic caching)."""
    return shape.auto_cache_ttl is not None or any(b.cache_ttl is not None for b in shape.blocks)


@api("messages")
async def create_message(ex: Exchange) -> Response:
    """POST /v1/messages."""
    state = ex.state
    fault, request, shape = await _message_request(ex, counting=False)
    if _uses_cache(shape):
        await asyncio.sleep(0)  # let requests that arrived together register before this one writes
    caller = ex.authenticate() if ex.caller is None else ex.caller
    state.limiter.check(caller.workspace, ex.start)
    if fault is not None and fault.kind == "slow":
        await asyncio.sleep(fault.delay_seconds)
    served = state.serve(request, caller, ex.start, shape=shape, arrival=ex.arrival)
    if request.stream:
        ex.finish(200)
        return SseResponse(
            message_events(served.message), ex.headers(), exchange=ex, served=served, fault=fault
        )
    await state.clock.sleep_until(ex.start + served.timing.total)
    return ex.json(served.message)


@api("count_tokens")
async def count_tokens(ex: Exchange) -> Response:
    """POST /v1/messages/count_tokens (cache_control is accepted and ignored)."""
    _, _, shape = await _message_request(ex, counting=True)
    return ex.json({"input_tokens": shape.total_tokens})


@api("models")
async def list_models(ex: Exchange) -> Response:
    """GET /v1/models."""
    ex.authenticate()
    ex.version()
    await ex.inject_fault("models")
    query = ex.request.query_params
    catalogue = ex.state.catalogue
    ids, more = paginate(
        model_ids(catalogue),
        limit=parse_limit(query.get("limit")),
        after_id=query.get("after_id"),
        before_id=query.get("before_id"),
    )
    today = ex.state.today()
    return ex.json(page_body([model_object(catalogue.resolve(i), today) for i in ids], more))


@api("models")
async def get_model(ex: Exchange) -> Response:
    """GET /v1/models/{model_id} (aliases resolve)."""
    ex.authenticate()
    ex.version()
    await ex.inject_fault("models")
    model_id = ex.request.path_params["model_id"]
    info = ex.state.catalogue.get(model_id)
    if info is None:
        raise not_found(f"model: {model_id}")
    return ex.json(model_object(info, ex.state.today()))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    ex = Exchange(request.app.state.emulator, request, "unknown")
    if status == 405:
        return ex.error(ApiError(405, f"Method {request.method} is not allowed on {request.url.path}"))
    return ex.error(ApiError(404, f"Not found: {request.method} {request.url.path}"))


def routes() -> list[BaseRoute]:
    """Every route of the emulator."""
    return [
        Route("/v1/messages", create_message, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        *batch_routes.routes(),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        *control.routes(),
    ]


Endpoint = Callable[[Request], Awaitable[Response]]

#: The API's hot routes, dispatched by exact method and path without Starlette's middleware and
#: router (their handlers already answer every error in the API's shape); every other request,
#: a mounted app (a ``root_path``) and an app given middleware go through the router.
_DIRECT: dict[tuple[str, str], Endpoint] = {
    ("POST", "/v1/messages"): create_message,
    ("POST", "/v1/messages/count_tokens"): count_tokens,
    ("GET", "/v1/models"): list_models,
}


class EmulatorApp(Starlette):
    """The emulator's Starlette app, with the hot routes dispatched directly."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path") and not self.user_middleware:
            endpoint = _DIRECT.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    config: EmulatorConfig | None = None,
    *,
    clock: VirtualClock | None = None,
    catalogue: Catalogue | None = None,
) -> Starlette:
    """A new emulator app with its own state (``app.state.emulator``)."""
    app = EmulatorApp(routes=routes(), exception_handlers={404: _http_error, 405: _http_error})
    app.router.redirect_slashes = False  # a trailing slash is a 404 in the API's shape, not a bare redirect
    app.state.emulator = EmulatorState(config, clock=clock, catalogue=catalogue)
    return app
