"""Who is calling: the key a request carries, its one-way identity, and the managed key it maps to (pure).

A key is never stored or logged. It is identified by a salted SHA-256 (the salt is the gateway's
own, kept in its state store so every process of one deployment agrees) and its last four
characters: ``gw:3f2a9c0d1b7e4a55:sk-ant-…AbCd``. Managed gateway keys are held only as the
unsalted SHA-256 hex of the key, so a config file never holds one in clear either.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from clawback.redact import mask_key

__all__ = ["CallerKey", "KeyTable", "caller_key", "key_digest", "key_identity"]


@dataclass(frozen=True, slots=True)
class CallerKey:
    """The credential a request carried: which header, and the value (kept only for this request)."""

    header: str
    value: str

    def __repr__(self) -> str:
        return f"CallerKey({self.header}, {mask_key(self.value)})"


def caller_key(headers: Iterable[tuple[bytes, bytes]]) -> CallerKey | None:
    """The request's ``x-api-key``, else its ``Authorization: Bearer`` token; None when neither."""
    bearer: str | None = None
    for name, value in headers:
        if name == b"x-api-key":
            text = value.decode("latin-1").strip()
            if text:
                return CallerKey("x-api-key", text)
        elif name == b"authorization" and bearer is None:
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
    return CallerKey("authorization", bearer) if bearer is not None else None


def key_digest(key: str) -> str:
    """The unsalted SHA-256 hex of a gateway key, as a managed key is written in the config."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_identity(key: str, salt: str) -> str:
    """``gw:<16 hex of HMAC-SHA256(salt, key)>:<masked key>`` — stable per deployment, not reversible."""
    digest = hmac.new(salt.encode(), key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"gw:{digest[:16]}:{mask_key(key)}"


@dataclass(frozen=True, slots=True)
class KeyTable:
    """Managed keys by the SHA-256 of their value; a lookup compares digests, never keys."""

    by_digest: Mapping[str, str]
    """digest → managed key name."""

    def lookup(self, key: str) -> str | None:
        """The name of the managed key ``key`` is, or None."""
        if not self.by_digest:
            return None
        return self.by_digest.get(key_digest(key))
