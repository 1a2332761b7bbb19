"""Where a store lives: a SQLite path or a PostgreSQL URL, with passwords masked for display (pure)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clawback.errors import UsageError

__all__ = ["StoreLocation", "mask_url", "parse_location", "scrub"]

Kind = Literal["sqlite", "postgres"]

_PG_SCHEMES = ("postgresql", "postgres")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A resolved store: ``target`` is the path or full URL; ``display`` never shows a password."""

    kind: Kind
    target: str
    display: str
    secrets: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        """The SQLite file (only for ``kind == "sqlite"``)."""
        return Path(self.target)

    def key(self) -> str:
        """A short stable id of the store that ignores passwords (for naming local side files)."""
        return hashlib.sha256(self.display.encode()).hexdigest()[:12]

    def scrub(self, message: str) -> str:
        """``message`` with every secret of this location replaced by ``***``."""
        return scrub(message, self.secrets)


def scrub(message: str, secrets: tuple[str, ...]) -> str:
    """``message`` with each of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def mask_url(url: str) -> str:
    """``url`` with the password (in the authority or a ``password=`` parameter) shown as ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        auth, _, host = netloc.rpartition("@")
        if ":" in auth:
            auth = auth.split(":", 1)[0] + ":***"
        netloc = f"{auth}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k in _SECRET_PARAMS else v) for k, v in pairs], safe="*/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _url_secrets(url: str) -> tuple[str, ...]:
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in _SECRET_PARAMS and v]
    return tuple(found)


def parse_location(location: str | Path) -> StoreLocation:
    """A store location from a path, a ``sqlite:///path`` URL or a ``postgresql://`` URL.

    Any other URL scheme is a :class:`UsageError`; the message never shows a password.
    """
    if isinstance(location, Path):
        path = location.expanduser()
        return StoreLocation("sqlite", str(path), str(path))
    text = location.strip()
    if not text:
        raise UsageError("a ledger location must be a path or a postgresql:// URL, got an empty string")
    match = _URL.match(text)
    if match is None:
        path = Path(text).expanduser()
        return StoreLocation("sqlite", str(path), str(path))
    scheme = match.group(1).lower()
    if scheme in _PG_SCHEMES:
        return StoreLocation("postgres", text, mask_url(text), _url_secrets(text))
    if scheme == "sqlite":
        rest = text[len("sqlite://") :]
        if not rest.startswith("/"):
            raise UsageError(f"a sqlite URL needs an absolute path (sqlite:///path), got {text!r}")
        path = Path(rest)
        return StoreLocation("sqlite", str(path), str(path))
    raise UsageError(
        f"unsupported store URL scheme {scheme!r} in {mask_url(text)!r}: "
        "use a file path or a postgresql:// URL"
    )
