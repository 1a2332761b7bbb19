"""Serving the emulator over HTTP: :func:`serve` for the CLI, :func:`running` for tests.

Both bind the listening socket themselves, so a port in use is a one-line
:class:`~clawback.errors.UsageError` rather than a server log, and :func:`running` knows its port
(``0`` picks a free one) before the server starts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from clawback.errors import UpstreamError, UsageError

__all__ = ["bind", "running", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; a one-line error when that is impossible."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _server(app: Starlette, log_level: str) -> uvicorn.Server:
    # no proxy headers: a client is its socket (an X-Forwarded-For must not change which connection
    # a request came on, which cache visibility reads), and uvicorn's middleware is skipped per call
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


def serve(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    log_level: str = "warning",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until interrupted; ``on_ready`` gets the base URL once the port is bound."""
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    if on_ready is not None:
        on_ready(f"http://{_url_host(host)}:{bound}")
    try:
        _server(app, log_level).run(sockets=[sock])
    finally:
        sock.close()
        _close(app)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@contextmanager
def running(app: Starlette, *, host: str = "127.0.0.1", log_level: str = "warning") -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread on a free loopback port; yields the base URL."""
    try:
        with serving_in_thread(_server(app, log_level), host, "emulator") as url:
            yield url
    finally:
        _close(app)


@contextmanager
def serving_in_thread(
    server: uvicorn.Server, host: str, what: str, *, timeout: float = 10.0
) -> Iterator[str]:
    """Run a uvicorn ``server`` in a daemon thread on a free port of ``host``; yields its base URL
    once it has started (:class:`UpstreamError` naming ``what`` if it doesn't within ``timeout``)."""
    sock = bind(host, 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"{what}-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        if not server.started:
            raise UpstreamError(f"the {what} did not start on {host}:{port}")
        yield f"http://{_url_host(host)}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()


def _close(app: Starlette) -> None:
    """Stop what the app's state started (the emulator's preparation worker)."""
    state = getattr(app, "state", None)  # any ASGI app may be served; only the emulator has a state
    close = getattr(getattr(state, "emulator", None), "close", None)
    if callable(close):
        close()
