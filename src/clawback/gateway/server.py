"""Serving the gateway: uvicorn (uvloop, httptools) on one socket, in one or several processes.

The listening socket is bound once, by the parent; with ``workers > 1`` each worker is a forked
process serving the same socket (the kernel spreads connections), with its own upstream pool,
ledger writer and state connection. Budgets held in memory can't be shared between processes, so
several workers with budgets or rate limits need a PostgreSQL state store. The workers' counters
are summed for ``/metrics`` through a private folder the parent makes and removes
(:mod:`clawback.gateway.shared_metrics`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from clawback.emulator.server import bind
from clawback.errors import UsageError
from clawback.gateway.app import GatewayApp, build_gateway
from clawback.gateway.config import GatewayConfig
from clawback.settings import Settings
from clawback.storage.location import parse_location

__all__ = ["GC_THRESHOLD", "check_workers", "serve", "settle_heap", "uvicorn_server"]

GC_THRESHOLD = 20_000
"""Allocations between young-generation collections in a gateway process (CPython's default: 700)."""


def check_workers(config: GatewayConfig, workers: int, settings: Settings) -> None:
    """Refuse several workers with budgets or rate limits held in memory."""
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if workers == 1 or not config.limited:
        return
    location = config.state or config.ledger or settings.ledger_location
    if parse_location(location).kind != "postgres":
        raise UsageError(
            "--workers > 1 with budgets or rate limits needs a PostgreSQL state store (state = or ledger = "
            "a postgresql:// URL in the config): each process would otherwise keep its own budgets"
        )


def uvicorn_server(
    app: GatewayApp, log_level: str, *, access_log: bool, loop: str = "uvloop"
) -> uvicorn.Server:
    """A uvicorn server for the gateway: its lifespan on, httptools, no server header or proxy headers."""
    config = uvicorn.Config(
        app,
        lifespan="on",
        loop=loop,
        http="httptools",
        log_level=log_level,
        access_log=access_log,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=75,
        backlog=2048,
        log_config=None,
    )
    return uvicorn.Server(config)


def _run_worker(
    config: GatewayConfig, settings: Settings, sock: socket.socket, metrics_dir: Path | None = None
) -> None:
    app = build_gateway(config, settings=settings, metrics_dir=metrics_dir)
    server = uvicorn_server(app, config.log_level, access_log=config.access_log)
    settle_heap()
    server.run(sockets=[sock])


def settle_heap() -> None:
    """Move everything alive once the gateway is built (modules, config, catalogue) out of the
    garbage collector's sight, and collect the young generation every :data:`GC_THRESHOLD`
    allocations: the hot path makes few reference cycles, and collections over the start-up heap
    were about 5% of the CPU under load. Only in a process that serves the gateway and nothing else
    (not when an app is built inside another program)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 50)


def serve(
    config: GatewayConfig,
    *,
    host: str,
    port: int,
    workers: int,
    settings: Settings,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop every worker after it finishes its requests)."""
    check_workers(config, workers, settings)
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    if on_ready is not None:
        on_ready(f"http://{'[' + host + ']' if ':' in host else host}:{bound}")
    cleanup = contextlib.ExitStack()
    try:
        if workers == 1:
            _run_worker(config, settings, sock)
            return
        ctx = multiprocessing.get_context("fork")
        metrics_dir = Path(tempfile.mkdtemp(prefix="clawback-gateway-metrics-"))  # private: mode 0700
        cleanup.callback(shutil.rmtree, metrics_dir, ignore_errors=True)
        procs = [
            ctx.Process(target=_run_worker, args=(config, settings, sock, metrics_dir), daemon=False)
            for _ in range(workers)
        ]
        for p in procs:
            p.start()

        def stop(signum: int, frame: Any) -> None:
            for p in procs:
                if p.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p.pid, signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for p in procs:
            p.join()
    finally:
        sock.close()
        cleanup.close()
