"""``clawback emulate``: serve the offline Claude API emulator on a local port."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from clawback.cli._common import catalogue_for
from clawback.errors import UsageError

_CLOCKS = ("real", "manual")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _instructions(base_url: str, auth: bool) -> str:
    key = (
        "'<one of your auth keys>'   # auth is on: only --auth-key / auth_keys values are accepted"
        if auth
        else "sk-ant-emulator   # any value; auth is off"
    )
    return (
        f"clawback emulator listening on {base_url}  (Ctrl-C to stop)\n"
        "Point your code at it:\n"
        f"  export ANTHROPIC_BASE_URL={base_url}\n"
        f"  export ANTHROPIC_API_KEY={key}\n"
        "  python your_app.py\n"
        f"Control API: {base_url}/_emulator/stats, /_emulator/log, POST /_emulator/clock/advance\n"
    )


def emulate(
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on (0 picks a free one).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Emulator config file (TOML or JSON); see docs/emulator.md."),
    ] = None,
    batch_seconds: Annotated[
        float | None,
        typer.Option("--batch-seconds", help="Seconds from batch creation to its end (default 3)."),
    ] = None,
    clock: Annotated[
        str | None, typer.Option("--clock", help="real (default) or manual (moved only by the control API).")
    ] = None,
    clock_speed: Annotated[
        float | None,
        typer.Option(
            "--clock-speed", help="Run the real clock this many times faster (60: 5 minutes in 5 s)."
        ),
    ] = None,
    auth_key: Annotated[
        list[str] | None,
        typer.Option("--auth-key", help="Accept only this API key (repeatable); auth is off without it."),
    ] = None,
    latency: Annotated[
        bool | None,
        typer.Option("--latency/--no-latency", help="Wait out time to first token and tokens per second."),
    ] = None,
    prices: Annotated[
        list[Path] | None, typer.Option("--prices", help="A price file overriding the bundled catalogue.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="Server log level.")] = "warning",
) -> None:
    """Serve an offline Claude API whose usage follows Anthropic's cache, batch and billing rules."""
    from clawback.emulator.app import create_app
    from clawback.emulator.config import EmulatorConfig, load_config
    from clawback.emulator.server import serve

    if clock is not None and clock not in _CLOCKS:
        raise UsageError(f"--clock must be real or manual, got {clock!r}")
    if log_level not in _LOG_LEVELS:
        raise UsageError(f"--log-level must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")
    if batch_seconds is not None and not batch_seconds >= 0:
        raise UsageError(f"--batch-seconds must be zero or more, got {batch_seconds}")
    if clock_speed is not None and not clock_speed > 0:
        raise UsageError(f"--clock-speed must be positive, got {clock_speed}")
    base = load_config(config) if config is not None else EmulatorConfig()
    changes: dict[str, Any] = {"clock": clock, "clock_speed": clock_speed, "auth_keys": auth_key or None}
    if batch_seconds is not None:
        changes["batch"] = {**base.batch.model_dump(), "seconds": batch_seconds}
    if latency is not None:
        changes["latency"] = {**base.latency.model_dump(), "enabled": latency}
    settings = base.with_overrides(**changes)
    app = create_app(settings, catalogue=catalogue_for(prices))

    def ready(base_url: str) -> None:
        sys.stdout.write(_instructions(base_url, settings.auth_keys is not None))
        sys.stdout.flush()

    try:
        serve(app, host, port, log_level=log_level, on_ready=ready)
    except KeyboardInterrupt:
        return
