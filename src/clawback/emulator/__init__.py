"""An offline Claude API: Messages (streaming too), token counting, Message Batches and Models.

Its usage numbers follow Anthropic's billing rules through the shared cache-rules engine
(:mod:`clawback.cache.rules`); its clock can be moved by tests; responders, latency and faults
are configurable. See ``docs/emulator.md``.

    from clawback.emulator import create_app, EmulatorConfig
    app = create_app(EmulatorConfig(clock="manual"))
"""

from __future__ import annotations

from clawback.emulator.app import create_app
from clawback.emulator.clock import VirtualClock
from clawback.emulator.config import EmulatorConfig, load_config
from clawback.emulator.server import running, serve
from clawback.emulator.state import EmulatorState

__all__ = ["EmulatorConfig", "EmulatorState", "VirtualClock", "create_app", "load_config", "running", "serve"]
