"""Shared by the robustness tests: known secrets and the grep for them, and an upstream that misbehaves."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clawback.emulator.app import create_app
from clawback.emulator.clock import VirtualClock
from clawback.emulator.config import EmulatorConfig
from clawback.emulator.server import running
from tests.cli.helpers import Result, run_in_process

KEY = "sk-ant-api03-Xq7RbT2mVn9LpK4wZs8YdF3hJc6GtQ1aEu5iOo0PrN"
"""A key of the real shape: ``sk-ant-api03-`` and 40-odd characters."""
PASSWORD = "PgSecretPassw0rd77"
"""A database password, given in ``postgresql://user:PASSWORD@host/db`` URLs."""
FRAGMENT = 8
"""No run of this many characters of the key may appear anywhere."""


def fragments(secret: str, size: int = FRAGMENT) -> set[str]:
    """Every run of ``size`` characters of ``secret``."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


_KEY_PARTS = fragments(KEY)


def leaks_in(text: str | bytes) -> list[str]:
    """The key fragments and the password found in ``text`` (empty when it is clean)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    found = sorted(part for part in _KEY_PARTS if part.encode() in data)
    if PASSWORD.encode() in data:
        found.append(PASSWORD)
    return found


@dataclass
class Trace:
    """Everything a producer wrote: its streams by name; every file under ``root`` is read too."""

    root: Path
    streams: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, result: Result | str) -> Result | str:
        """Keep a stream (or both streams of a CLI run) under ``name``."""
        if isinstance(result, Result):
            self.streams[f"{name} (stdout)"] = result.out
            self.streams[f"{name} (stderr)"] = result.err
        else:
            self.streams[name] = result
        return result

    def leaks(self) -> dict[str, list[str]]:
        """Where a secret was found: stream names and file paths, with the fragments."""
        out: dict[str, list[str]] = {}
        for name, text in self.streams.items():
            if found := leaks_in(text):
                out[name] = found
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and (found := leaks_in(path.read_bytes())):
                out[str(path.relative_to(self.root))] = found
        return out

    def files(self) -> list[Path]:
        """Every file written under ``root``."""
        return [p for p in self.root.rglob("*") if p.is_file()]


def cli(trace: Trace, capsys: pytest.CaptureFixture[str], name: str, *args: str) -> Result:
    """Run ``clawback ARGS`` in-process and keep both of its streams in ``trace``."""
    result = run_in_process(capsys, *args)
    trace.add(name, result)
    return result


@contextmanager
def logs_to(path: Path) -> Iterator[None]:
    """Every log record of every logger (DEBUG and up) written to ``path`` while the block runs."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


class EchoKeyFaults:
    """ASGI wrapper: an upstream whose errors echo the caller's API key back in every form.

    ``plan`` maps ``(method, path prefix)`` to how many of the first matching requests fail with
    ``status``; the message carries the received ``x-api-key`` bare, as a header and as a bearer.
    """

    def __init__(
        self, app: Any, plan: dict[tuple[str, str], tuple[int, int, str]], log: list[str] | None = None
    ) -> None:
        self.app = app
        self.state = app.state
        self.plan = dict(plan)
        self.seen: dict[tuple[str, str], int] = {}
        self.log = log if log is not None else []
        """Every request received, as ``METHOD /path``."""

    def _fault(self, scope: dict[str, Any]) -> tuple[int, str, str] | None:
        if scope.get("type") != "http":
            return None
        path = scope.get("path", "")
        for (method, prefix), (count, status, kind) in self.plan.items():
            if scope.get("method") == method and path.startswith(prefix) and not path.endswith("/results"):
                n = self.seen.get((method, prefix), 0) + 1
                self.seen[(method, prefix)] = n
                if n <= count:
                    headers = dict(scope.get("headers") or [])
                    key = headers.get(b"x-api-key", b"").decode()
                    bearer = headers.get(b"authorization", b"").decode().partition(" ")[2]
                    assert key or bearer, "the caller sent no key: nothing to echo"
                    return status, kind, key or bearer  # the SDK sends its key as a bearer token
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            self.log.append(f"{scope.get('method')} {scope.get('path')}")
        fault = self._fault(scope)
        if fault is None:
            await self.app(scope, receive, send)
            return
        status, kind, key = fault
        message = f"invalid x-api-key {key} (x-api-key: {key}; Authorization: Bearer {key})"
        body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"retry-after", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def echoing_emulator(
    plan: dict[tuple[str, str], tuple[int, int, str]],
    config: EmulatorConfig | None = None,
    log: list[str] | None = None,
) -> Iterator[str]:
    """An emulator on a manual clock that moves 5 s every 10 ms, behind :class:`EchoKeyFaults`
    (which appends every request it receives to ``log``)."""
    clock = VirtualClock("manual", start=1_795_000_000.0)
    app = create_app(config or EmulatorConfig(clock="manual"), clock=clock)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.01):
            clock.advance(5.0)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        with running(EchoKeyFaults(app, plan, log)) as base_url:  # type: ignore[arg-type]
            yield base_url
    finally:
        stop.set()
        thread.join()
