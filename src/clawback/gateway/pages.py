"""The gateway's own pages: ``/healthz``, ``/readyz``, ``/metrics`` and the dashboard at ``/``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

from clawback.gateway.asgi import Scope, Send, send_response
from clawback.gateway.core import Gateway
from clawback.gateway.dashboard import render, summarize
from clawback.gateway.ledger_view import read_facts
from clawback.gateway.pg_state import PostgresState
from clawback.gateway.wire import GatewayRefusal

__all__ = ["handle"]

_TEXT = (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
_HTML = (b"content-type", b"text/html; charset=utf-8")


async def handle(gw: Gateway, scope: Scope, send: Send, path: str, method: str) -> None:
    """Serve one of the gateway's pages (GET only), else 404 in the API's shape."""
    if path not in ("/", "/healthz", "/readyz", "/metrics"):
        raise GatewayRefusal(404, f"Not found: {method} {path}")
    if method not in ("GET", "HEAD"):
        raise GatewayRefusal(405, f"Method {method} is not allowed on {path}")
    if path == "/healthz":
        await send_response(send, 200, b'{"ok":true}', [], json=True)
    elif path == "/readyz":
        ready = gw.ready
        body = json.dumps({"ready": ready, "ledger_degraded": bool(gw.writer and gw.writer.stats.degraded)})
        await send_response(send, 200 if ready else 503, body.encode(), [], json=True)
    elif path == "/metrics":
        await _refresh(gw)
        metrics = gw.metrics
        if gw.shared is not None:  # --workers N: every worker's counters, summed
            metrics = metrics.merged(await asyncio.to_thread(gw.shared.others))
        await send_response(send, 200, metrics.render(gw.budget_gauges()).encode(), [_TEXT])
    else:
        await _refresh(gw)
        html = await asyncio.to_thread(_dashboard, gw)
        await send_response(send, 200, html.encode("utf-8"), [_HTML, (b"cache-control", b"no-store")])
    gw.metrics.request(path, 200)


async def _refresh(gw: Gateway) -> None:
    state = gw.state
    if isinstance(state, PostgresState):
        budgets = sorted(
            {b for k in gw.config.keys.values() for b in k.all_budgets}, key=lambda b: (b.scope, b.period)
        )
        with contextlib.suppress(GatewayRefusal):
            await state.refresh(budgets, gw.clock())


def _dashboard(gw: Gateway) -> str:
    """Read the last day of the gateway's ledger rows (in a worker thread) and render the page."""
    now = datetime.fromtimestamp(gw.clock(), UTC)
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    calls = []
    if gw.ledger_location is not None:
        if gw.writer is not None:
            gw.writer.flush(1.0)
        calls = read_facts(gw.ledger_location, since)
    return render(summarize(calls, now, budgets=gw.budget_gauges()))
