"""Run a gateway in a background thread for tests and benchmarks: :func:`running_gateway`.

    with running(create_app()) as emulator_url:
        config = GatewayConfig(upstream=emulator_url, ledger=str(tmp_path / "ledger.sqlite3"))
        with running_gateway(build_gateway(config)) as gateway_url:
            anthropic.Anthropic(base_url=gateway_url, api_key="sk-ant-…").messages.create(...)

The gateway runs with its lifespan (state store started, ledger flushed and closed on exit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from clawback.emulator.server import bind
from clawback.errors import UpstreamError
from clawback.gateway.app import GatewayApp
from clawback.gateway.server import uvicorn_server

__all__ = ["running_gateway"]


@contextmanager
def running_gateway(app: GatewayApp, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yields its base URL."""
    sock = bind(host, 0)
    port = sock.getsockname()[1]
    server = uvicorn_server(app, "warning", access_log=False, loop="asyncio")
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"gateway-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        if not server.started:
            raise UpstreamError(f"the gateway did not start on {host}:{port}")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
