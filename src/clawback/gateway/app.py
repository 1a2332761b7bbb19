"""The gateway as one raw ASGI app: a router over the API routes and its own pages.

=====================================================  ===========================================
``POST /v1/messages``                                  :mod:`clawback.gateway.messages`
``GET /v1/messages/batches/{id}/results``              :mod:`clawback.gateway.batches`
``/v1/messages/count_tokens``, ``/v1/models…``,         :mod:`clawback.gateway.passthrough`
``/v1/messages/batches…``, any other ``/v1/…``
``/healthz``, ``/readyz``, ``/metrics``, ``/``         this module and :mod:`clawback.gateway.pages`
=====================================================  ===========================================

Anything else is 404 ``not_found_error`` and a wrong method 405, both in the API's error shape.
:func:`build_gateway` wires the collaborators from a config; tests pass their own.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from pathlib import Path
from typing import Any

from clawback.gateway import pages
from clawback.gateway.asgi import Receive, Scope, Send, send_error
from clawback.gateway.batches import handle_results
from clawback.gateway.config import GatewayConfig
from clawback.gateway.core import Gateway
from clawback.gateway.messages import handle_messages
from clawback.gateway.passthrough import handle_passthrough
from clawback.gateway.pg_state import PostgresState
from clawback.gateway.policy import PolicyRunner
from clawback.gateway.shared_metrics import SharedMetrics
from clawback.gateway.state import LocalState, open_state
from clawback.gateway.upstream import Upstream
from clawback.gateway.wire import GatewayRefusal, new_request_id
from clawback.ledger.api import open_writer, resolve_location
from clawback.ledger.options import WriterOptions
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.loader import load_catalogue
from clawback.settings import Settings
from clawback.storage.location import parse_location

__all__ = ["GatewayApp", "build_gateway"]

log = logging.getLogger("clawback.gateway")
_BATCH = re.compile(r"^/v1/messages/batches/([^/]+)(/results|/cancel)?$")


class GatewayApp:
    """The ASGI callable. ``startup()``/``shutdown()`` run from the server's lifespan (or a test)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._started = False

    async def startup(self) -> None:
        """Connect the state store and start its background work."""
        if self._started:
            return
        state = self.gateway.state
        if isinstance(state, PostgresState):
            await state.start()
        else:
            state.start()
        if self.gateway.shared is not None:
            self.gateway.shared.start(self.gateway.metrics)
        self._started = True
        self.gateway.ready = True

    async def shutdown(self) -> None:
        """Finish settlements, write the last budget state, flush the ledger, close the pool."""
        gw = self.gateway
        gw.ready = False
        await gw.state.close()
        if gw.shared is not None:
            await gw.shared.stop(gw.metrics)
        await gw.upstream.close()
        if gw.writer is not None:
            gw.writer.close()
        self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": self.gateway.mask(str(exc))})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self.gateway
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if path == "/v1/messages":
                if method != "POST":
                    raise _method(method, path)
                await handle_messages(gw, scope, receive, send)
            elif path.startswith("/v1/"):
                await self._api(scope, receive, send, path, method)
            else:
                await pages.handle(gw, scope, send, path, method)
        except GatewayRefusal as refusal:
            gw.metrics.request("other", refusal.status)
            await send_error(send, refusal, new_request_id())
        except Exception as exc:  # a bug must not take the connection down without an answer
            log.error("gateway: unexpected error on %s %s: %s", method, path, gw.mask(repr(exc)))
            gw.metrics.error("internal")
            with contextlib.suppress(Exception):
                await send_error(
                    send, GatewayRefusal(500, "clawback gateway: internal error"), new_request_id()
                )

    async def _api(self, scope: Scope, receive: Receive, send: Send, path: str, method: str) -> None:
        gw = self.gateway
        if path == "/v1/messages/count_tokens":
            if method != "POST":
                raise _method(method, path)
            await handle_passthrough(gw, scope, receive, send, "count_tokens")
        elif path == "/v1/messages/batches":
            if method not in ("GET", "POST"):
                raise _method(method, path)
            await handle_passthrough(
                gw, scope, receive, send, "batch_create" if method == "POST" else "batch_list"
            )
        elif path.startswith("/v1/messages/batches/"):
            match = _BATCH.match(path)
            if match is None:
                raise GatewayRefusal(404, f"Not found: {method} {path}")
            suffix = match.group(2)
            allowed = {None: ("GET", "DELETE"), "/results": ("GET",), "/cancel": ("POST",)}[suffix]
            if method not in allowed:
                raise _method(method, path)
            if suffix == "/results":
                await handle_results(gw, scope, receive, send, match.group(1))
            else:
                await handle_passthrough(gw, scope, receive, send, "batch_cancel" if suffix else "batch")
        elif path == "/v1/models" or path.startswith("/v1/models/"):
            if method != "GET":
                raise _method(method, path)
            await handle_passthrough(gw, scope, receive, send, "models")
        else:
            await handle_passthrough(gw, scope, receive, send, "other_api")


def _method(method: str, path: str) -> GatewayRefusal:
    return GatewayRefusal(405, f"Method {method} is not allowed on {path}")


def build_gateway(
    config: GatewayConfig,
    *,
    settings: Settings | None = None,
    catalogue: Catalogue | None = None,
    clock: Any = time.time,
    upstream: Upstream | None = None,
    ledger: bool = True,
    metrics_dir: Path | None = None,
) -> GatewayApp:
    """A gateway app from ``config``: ledger writer, state store, upstream pool, policies
    (``metrics_dir``: the folder the workers of ``--workers N`` share their counters in)."""
    settings = settings or Settings.from_env()
    catalogue = catalogue or load_catalogue([*settings.price_files, *config.prices])
    ledger_loc = resolve_location(config.ledger, settings)
    state_loc = parse_location(config.state) if config.state else ledger_loc
    salt = config.salt.reveal() if config.salt is not None else None
    state: LocalState | PostgresState = open_state(state_loc, salt=salt)
    writer = None
    if ledger:
        writer = open_writer(
            ledger_loc.target,
            settings=settings,
            options=WriterOptions(mode=config.ledger_mode, max_queue=20_000, maintenance_interval_s=5.0),
        )
    gw = Gateway(
        config,
        upstream=upstream
        or Upstream(
            config.upstream,
            timeout_s=config.upstream_timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            connections=config.upstream_connections,
        ),
        state=state,
        writer=writer,
        catalogue=catalogue,
        policies=PolicyRunner(catalogue, prices=config.prices, clock=clock),
        clock=clock,
        ledger_location=ledger_loc if ledger else None,
    )
    if metrics_dir is not None:
        gw.shared = SharedMetrics(metrics_dir)
    return GatewayApp(gw)
