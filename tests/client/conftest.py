"""Fixtures: a clawback client bound to a fresh emulator, on the emulator's manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import clawback
from clawback.client import ClientOptions
from clawback.emulator import EmulatorConfig
from clawback.emulator.testing import TEST_KEY, EmulatorSession, emulator_client

SYSTEM = (
    "You are a meticulous support-ticket classifier for an online shop. Read the ticket, pick exactly one "
    "category from: shipping, billing, returns, account, product, other. Answer with the category only. "
) * 40


@pytest.fixture
def emulator() -> Iterator[EmulatorSession]:
    """A fresh emulator (manual clock) behind a plain SDK client."""
    with emulator_client() as session:
        yield session


ClientFactory = Callable[..., clawback.Anthropic]


@pytest.fixture
def make_client(emulator: EmulatorSession, tmp_path: Path) -> Iterator[ClientFactory]:
    """Builds ``clawback.Anthropic`` clients on the emulator; all are closed at the end."""
    made: list[clawback.Anthropic] = []

    def make(
        *, config: EmulatorConfig | None = None, ledger: Any = None, **options: Any
    ) -> clawback.Anthropic:
        opts = ClientOptions(clock=emulator.state.clock.now, **options)
        client = clawback.Anthropic(
            base_url=emulator.base_url,
            api_key=TEST_KEY,
            max_retries=0,
            ledger=tmp_path / "ledger.sqlite3" if ledger is None else ledger,
            options=opts,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def ticket(i: int) -> dict[str, Any]:
    """One classification request."""
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 64,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": f"Ticket {i}: my parcel has not arrived yet."}],
    }
