"""Settings, built once from an explicit environment mapping and passed where they are needed.

Precedence for every value: an explicit argument > a config file > the environment > the default.
This module handles the last two; callers apply arguments on top with :meth:`Settings.override`.

Environment variables::

    CLAWBACK_HOME      data directory (default: $XDG_DATA_HOME/clawback or ~/.local/share/clawback)
    CLAWBACK_PRICES    price files overriding the bundled catalogue, separated by os.pathsep
    CLAWBACK_LEDGER    ledger path or postgresql:// URL (default: $CLAWBACK_HOME/ledger.sqlite3)
    CLAWBACK_ROUTING   routing config the client follows (default: $CLAWBACK_HOME/routing.toml)
    ANTHROPIC_API_KEY  the API key, as the official SDK reads it (never printed)
    ANTHROPIC_BASE_URL the API base URL, as the official SDK reads it (e.g. the emulator)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Secret", "Settings", "mask_key"]


def mask_key(key: str | None) -> str:
    """A key shown safely: its kind prefix and last four characters only."""
    if not key:
        return "<none>"
    prefix = "sk-ant-" if key.startswith("sk-ant-") else ""
    return f"{prefix}…{key[-4:]}" if len(key) > 8 else "…"


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that never shows itself in ``repr``, ``str``, logs or reports."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Secret({mask_key(self.value)})"

    def __str__(self) -> str:
        return mask_key(self.value)

    def reveal(self) -> str:
        """The real value, for the one place that must send it."""
        return self.value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything clawback reads from its environment."""

    home: Path
    price_files: tuple[Path, ...] = ()
    ledger: str | None = None
    routing: str | None = None
    api_key: Secret | None = None
    base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (``os.environ`` when None)."""
        env = os.environ if env is None else env
        if env.get("CLAWBACK_HOME"):
            home = Path(env["CLAWBACK_HOME"]).expanduser()
        elif env.get("XDG_DATA_HOME"):
            home = Path(env["XDG_DATA_HOME"]).expanduser() / "clawback"
        else:
            home = Path(env.get("HOME", "~")).expanduser() / ".local" / "share" / "clawback"
        prices = tuple(Path(p) for p in env.get("CLAWBACK_PRICES", "").split(os.pathsep) if p.strip())
        key = env.get("ANTHROPIC_API_KEY")
        return cls(
            home=home,
            price_files=prices,
            ledger=env.get("CLAWBACK_LEDGER") or None,
            routing=env.get("CLAWBACK_ROUTING") or None,
            api_key=Secret(key) if key else None,
            base_url=env.get("ANTHROPIC_BASE_URL") or None,
        )

    @property
    def ledger_location(self) -> str:
        """The ledger path or URL in effect."""
        return self.ledger or str(self.home / "ledger.sqlite3")

    @property
    def routing_location(self) -> Path:
        """The routing config in effect (it need not exist)."""
        return Path(self.routing) if self.routing else self.home / "routing.toml"

    def override(self, **changes: Any) -> Settings:
        """A copy with explicit arguments applied (None means 'not given')."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
