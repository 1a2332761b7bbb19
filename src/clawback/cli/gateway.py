"""``clawback gateway``: serve the Claude API through clawback (keys, budgets, policies, ledger)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clawback.errors import UsageError

_LOG_LEVELS = ("debug", "info", "warning", "error")


def _banner(base_url: str, upstream: str, ledger: str) -> str:
    from clawback.redact import redact
    from clawback.storage.location import mask_url

    upstream = redact(mask_url(upstream))
    return (
        f"clawback gateway listening on {base_url}  (Ctrl-C to stop)\n"
        f"upstream: {upstream}\nledger:   {ledger}\n"
        "Point any Claude API client at it:\n"
        f"  export ANTHROPIC_BASE_URL={base_url}\n"
        f"Dashboard {base_url}/  metrics {base_url}/metrics  health {base_url}/healthz\n"
    )


def gateway(
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on (0 picks a free one).")] = 8787,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    config: Annotated[
        Path | None, typer.Option("--config", help="Gateway config file (TOML or JSON); see docs/gateway.md.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes serving the port.")] = 1,
    upstream: Annotated[
        str | None,
        typer.Option("--upstream", help="Upstream API URL (default: config, ANTHROPIC_BASE_URL, the API)."),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="Ledger path or postgresql:// URL (default: config, CLAWBACK_LEDGER)."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = None,
    hash_key: Annotated[
        bool,
        typer.Option(
            "--hash-key", help="Read a gateway key on stdin, print its key_sha256 for the config, exit."
        ),
    ] = False,
) -> None:
    """Serve the Claude API through clawback: pass-through or managed keys, budgets, policies, a ledger."""
    from dataclasses import replace

    from clawback.gateway.config import load_config
    from clawback.gateway.keys import key_digest
    from clawback.gateway.logs import configure_logging
    from clawback.gateway.server import serve
    from clawback.ledger.api import resolve_location
    from clawback.settings import Settings

    if hash_key:
        key = sys.stdin.readline().strip()
        if not key:
            raise UsageError("--hash-key reads the key from stdin; got nothing")
        sys.stdout.write(key_digest(key) + "\n")
        return
    if log_level is not None and log_level not in _LOG_LEVELS:
        raise UsageError(f"--log-level must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")
    settings = Settings.load()
    cfg = load_config(config)
    changes: dict[str, object] = {}
    if upstream is not None:
        if not upstream.startswith(("http://", "https://")):
            raise UsageError(f"--upstream must be an http(s) URL, got {upstream!r}")
        changes["upstream"] = upstream.rstrip("/")
    if ledger is not None:
        changes["ledger"] = ledger
    if log_level is not None:
        changes["log_level"] = log_level
    cfg = replace(cfg, **changes)  # type: ignore[arg-type]
    configure_logging(cfg.log_level, cfg.secrets)
    where = resolve_location(cfg.ledger, settings).display

    def ready(base_url: str) -> None:
        sys.stdout.write(_banner(base_url, cfg.upstream, where))
        sys.stdout.flush()

    try:
        serve(cfg, host=host, port=port, workers=workers, settings=settings, on_ready=ready)
    except KeyboardInterrupt:
        return
