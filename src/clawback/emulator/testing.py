"""Helpers for tests that need a Claude API: the emulator behind the official SDK, in one line.

    from clawback.emulator.testing import emulator_client

    with emulator_client() as (client, app):
        client.messages.create(model="claude-haiku-5-5", max_tokens=16, messages=[...])
        app.state.emulator.clock.advance(301)   # a manual clock by default

:func:`emulator_client` serves the app over real loopback HTTP in a background thread (sync SDK,
streams, connection faults); :func:`async_emulator_client` runs it in-process through
``httpx2.ASGITransport`` (no socket at all). Both close everything on exit. The clock is manual
unless a clock, or a config that sets ``clock`` explicitly, is given; the SDK's retries are off
unless ``max_retries`` is given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NamedTuple

import anthropic
import httpx2
from starlette.applications import Starlette

from clawback.emulator.app import create_app
from clawback.emulator.clock import VirtualClock
from clawback.emulator.config import EmulatorConfig
from clawback.emulator.server import running
from clawback.emulator.state import EmulatorState
from clawback.pricing.catalogue import Catalogue

__all__ = ["ASGI_BASE_URL", "TEST_KEY", "EmulatorSession", "async_emulator_client", "emulator_client"]

TEST_KEY = "sk-ant-emulator-test-key"
ASGI_BASE_URL = "http://emulator.test"


class EmulatorSession(NamedTuple):
    """An SDK client bound to an emulator app; unpacks as ``(client, app)``."""

    client: Any
    app: Starlette
    base_url: str

    @property
    def state(self) -> EmulatorState:
        """The emulator's state."""
        state: EmulatorState = self.app.state.emulator
        return state

    def advance(self, seconds: float) -> float:
        """Move the emulator's clock forward; returns the new time."""
        return self.state.clock.advance(seconds)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.client, self.app))


def _app(config: EmulatorConfig | None, clock: VirtualClock | None, catalogue: Catalogue | None) -> Starlette:
    if clock is None:  # manual unless the config asks for a clock explicitly
        explicit = config is not None and "clock" in config.model_fields_set
        clock = VirtualClock(config.clock if explicit and config is not None else "manual")
    return create_app(config, clock=clock, catalogue=catalogue)


@contextmanager
def emulator_client(
    config: EmulatorConfig | None = None,
    *,
    clock: VirtualClock | None = None,
    catalogue: Catalogue | None = None,
    api_key: str = TEST_KEY,
    max_retries: int = 0,
    **client_kwargs: Any,
) -> Iterator[EmulatorSession]:
    """A sync ``anthropic.Anthropic`` talking HTTP to an emulator in a background thread."""
    app = _app(config, clock, catalogue)
    with (
        running(app) as base_url,
        anthropic.Anthropic(
            base_url=base_url, api_key=api_key, max_retries=max_retries, **client_kwargs
        ) as client,
    ):
        yield EmulatorSession(client, app, base_url)


@asynccontextmanager
async def async_emulator_client(
    config: EmulatorConfig | None = None,
    *,
    clock: VirtualClock | None = None,
    catalogue: Catalogue | None = None,
    api_key: str = TEST_KEY,
    max_retries: int = 0,
    **client_kwargs: Any,
) -> AsyncIterator[EmulatorSession]:
    """An ``anthropic.AsyncAnthropic`` wired to an in-process emulator through ASGITransport."""
    app = _app(config, clock, catalogue)
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=ASGI_BASE_URL)
    try:
        async with (
            http,
            anthropic.AsyncAnthropic(
                base_url=ASGI_BASE_URL,
                api_key=api_key,
                http_client=http,
                max_retries=max_retries,
                **client_kwargs,
            ) as client,
        ):
            yield EmulatorSession(client, app, ASGI_BASE_URL)
    finally:
        app.state.emulator.close()
