"""Settings, built once from an explicit environment mapping and passed where they are needed.

Precedence for every value: an explicit argument > a config file > the environment > the default.
:meth:`Settings.load` applies all four (the CLI uses it); :meth:`Settings.from_env` only the last
two, and :meth:`Settings.override` puts arguments on top of any Settings.

Environment variables::

    CLAWBACK_HOME      data directory (default: $XDG_DATA_HOME/clawback or ~/.local/share/clawback)
    CLAWBACK_PRICES    price files overriding the bundled catalogue, separated by os.pathsep
    CLAWBACK_LEDGER    ledger path or postgresql:// URL (default: $CLAWBACK_HOME/ledger.sqlite3)
    CLAWBACK_ROUTING   routing config the client follows (default: $CLAWBACK_HOME/routing.toml)
    CLAWBACK_CONFIG    the config file (default: $XDG_CONFIG_HOME/clawback/config.toml or
                       ~/.config/clawback/config.toml, read when it exists)
    ANTHROPIC_API_KEY  the API key, as the official SDK reads it (never printed)
    ANTHROPIC_BASE_URL the API base URL, as the official SDK reads it (e.g. the emulator)

The config file is TOML with the keys ``home``, ``prices`` (a file or a list of files), ``ledger``
and ``routing``; relative paths are relative to the file. API keys and base URLs stay with the
environment the official SDK reads. Price files are layered rather than replaced: the bundled
catalogue, then ``CLAWBACK_PRICES``, then the config file's, then ``--prices``, each later file
winning where they disagree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clawback.errors import UsageError
from clawback.redact import mask_key

__all__ = ["CONFIG_KEYS", "Secret", "Settings", "default_config_path", "mask_key", "read_config"]

CONFIG_KEYS = ("home", "ledger", "prices", "routing")


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

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        config_file: str | Path | None = None,
        **arguments: Any,
    ) -> Settings:
        """Settings from every source: ``arguments`` > the config file > ``env`` > defaults.

        The config file is ``config_file``, else ``CLAWBACK_CONFIG``, else the default location
        when a file exists there; a file named explicitly must exist. ``price_files`` given as an
        argument are layered on top of the others rather than replacing them.
        """
        env = os.environ if env is None else env
        settings = cls.from_env(env)
        named = config_file or env.get("CLAWBACK_CONFIG") or None
        path = Path(named).expanduser() if named else default_config_path(env)
        if named or path.is_file():
            settings = settings.with_config(read_config(path), base=path.parent)
        extra_prices = tuple(Path(p) for p in arguments.pop("price_files", None) or ())
        settings = settings.override(**arguments)
        return replace(settings, price_files=settings.price_files + extra_prices)

    def with_config(self, config: Mapping[str, Any], *, base: Path = Path()) -> Settings:
        """A copy with a parsed config file's values applied over these (see :func:`read_config`)."""

        def local(value: str) -> str:
            return value if "://" in value else str(base / Path(value).expanduser())

        changes: dict[str, Any] = {}
        if "home" in config:
            changes["home"] = Path(local(config["home"]))
        if "ledger" in config:
            changes["ledger"] = local(config["ledger"])
        if "routing" in config:
            changes["routing"] = local(config["routing"])
        prices = config.get("prices", ())
        prices = [prices] if isinstance(prices, str) else prices
        changes["price_files"] = self.price_files + tuple(Path(local(p)) for p in prices)
        return replace(self, **changes)


def default_config_path(env: Mapping[str, str]) -> Path:
    """Where the config file is looked for when neither an argument nor CLAWBACK_CONFIG names one."""
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]).expanduser() / "clawback" / "config.toml"
    return Path(env.get("HOME", "~")).expanduser() / ".config" / "clawback" / "config.toml"


def read_config(path: Path) -> dict[str, Any]:
    """A config file's values, checked: known keys only, strings (``prices``: one or a list)."""
    from clawback.safe_input import loads_toml, read_input

    data = loads_toml(read_input(path, f"config file {path}"), f"config file {path}")
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            raise UsageError(f"config file {path}: unknown key {key!r} (known: {', '.join(CONFIG_KEYS)})")
        texts = value if key == "prices" and isinstance(value, list) else [value]
        if not all(isinstance(v, str) and v for v in texts):
            kind = "a file name or a list of file names" if key == "prices" else "a non-empty string"
            raise UsageError(f"config file {path}: {key!r} must be {kind}, got {value!r}")
    return data
