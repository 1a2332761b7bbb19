"""A gateway in front of an emulator, both on loopback, for the gateway's integration tests."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clawback.emulator.app import create_app
from clawback.emulator.clock import VirtualClock
from clawback.emulator.config import EmulatorConfig
from clawback.emulator.server import running
from clawback.emulator.state import EmulatorState
from clawback.gateway.app import GatewayApp, build_gateway
from clawback.gateway.config import GatewayConfig
from clawback.gateway.core import Gateway
from clawback.gateway.testing import running_gateway
from clawback.ledger.api import open_ledger
from clawback.ledger.record import CallRecord
from clawback.settings import Settings

CALLER_KEY = "sk-ant-caller-key-0000-WXYZ"
GATEWAY_KEY = "gwk-team-alpha-secret-7777"
UPSTREAM_KEY = "sk-ant-upstream-secret-5555"


def sha(key: str) -> str:
    """The config's key_sha256 of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Stack:
    """A running gateway and the emulator behind it."""

    url: str
    emulator_url: str
    app: GatewayApp
    emulator: Any
    ledger: Path

    @property
    def gw(self) -> Gateway:
        """The gateway's collaborators."""
        return self.app.gateway

    @property
    def emu(self) -> EmulatorState:
        """The emulator's state."""
        state: EmulatorState = self.emulator.state.emulator
        return state

    def records(self, at_least: int = 1) -> list[CallRecord]:
        """Every ledger row so far, oldest first (waiting up to 5 s for ``at_least`` rows: a row is
        handed to the writer just after the response is sent)."""
        deadline = time.monotonic() + 5
        while True:
            if self.gw.writer is not None:
                assert self.gw.writer.flush(5.0)
            with open_ledger(self.ledger) as ledger:
                rows = list(ledger.iter_records())
            if len(rows) >= at_least or time.monotonic() > deadline:
                return rows
            time.sleep(0.02)


@contextmanager
def stack(
    tmp_path: Path,
    config: GatewayConfig | None = None,
    *,
    emulator: EmulatorConfig | None = None,
    clock: VirtualClock | None = None,
) -> Iterator[Stack]:
    """Start an emulator (manual clock unless given) and a gateway in front of it."""
    emu_app = create_app(emulator, clock=clock or VirtualClock("manual"))
    ledger = tmp_path / "gateway-ledger.sqlite3"
    with ExitStack() as stack:
        emulator_url = stack.enter_context(running(emu_app))
        cfg = replace(config or GatewayConfig(), upstream=emulator_url, ledger=str(ledger))
        app = build_gateway(cfg, settings=Settings(home=tmp_path / "home"))
        url = stack.enter_context(running_gateway(app))
        yield Stack(url, emulator_url, app, emu_app, ledger)
