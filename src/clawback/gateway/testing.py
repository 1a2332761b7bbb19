"""Run a gateway in a background thread for tests and benchmarks: :func:`running_gateway`.

    with running(create_app()) as emulator_url:
        config = GatewayConfig(upstream=emulator_url, ledger=str(tmp_path / "ledger.sqlite3"))
        with running_gateway(build_gateway(config)) as gateway_url:
            anthropic.Anthropic(base_url=gateway_url, api_key="sk-ant-…").messages.create(...)

The gateway runs with its lifespan (state store started, ledger flushed and closed on exit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clawback.emulator.server import serving_in_thread
from clawback.gateway.app import GatewayApp
from clawback.gateway.server import uvicorn_server

__all__ = ["running_gateway"]


@contextmanager
def running_gateway(app: GatewayApp, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yields its base URL."""
    server = uvicorn_server(app, "warning", access_log=False, loop="asyncio")
    with serving_in_thread(server, host, "gateway", timeout=15.0) as url:
        yield url
