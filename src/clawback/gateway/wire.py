"""What the gateway puts on the wire of its own: error bodies, request ids, forwarded headers (pure).

Every error the gateway itself answers with has the Claude API's shape and a ``request-id``
header, so SDKs raise their usual typed errors::

    {"type": "error", "error": {"type": "rate_limit_error", "message": "..."}, "request_id": "req_..."}

Upstream errors are never rewritten: their status, headers and body pass through unchanged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Final

from clawback.emulator.wire import ERROR_TYPES as API_ERROR_TYPES
from clawback.errors import ClawbackError

__all__ = [
    "ERROR_TYPES",
    "HOP_BY_HOP",
    "GatewayRefusal",
    "error_body",
    "forward_headers",
    "new_request_id",
    "response_headers",
]

ERROR_TYPES: Final[dict[int, str]] = {**API_ERROR_TYPES, 408: "timeout_error", 502: "api_error"}
"""The API's error type for each status (the emulator's table, plus the two only a proxy answers)."""

HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"accept-encoding",
    }
)
"""Headers that belong to one hop and are never forwarded (``accept-encoding`` too: the gateway
asks upstream for plain bodies so it can read usage from them)."""

_AUTH: Final = frozenset({b"x-api-key", b"authorization"})
_GATEWAY_ONLY: Final = frozenset({b"clawback-task"})
_RESPONSE_DROP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"server",
        b"date",
        b"upgrade",
        b"trailer",
    }
)


class GatewayRefusal(ClawbackError):
    """An answer the gateway gives itself, in the API's error shape.

    Its own refusals are 4xx; 502, 504 and 529 stand only for an upstream that could not be
    reached, timed out or is overloaded (see docs/gateway.md).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.http_status = status
        self.message = message
        self.type = error_type or ERROR_TYPES.get(status, "api_error")
        self.headers: dict[str, str] = dict(headers or {})


def new_request_id() -> str:
    """A request id in the API's form (``req_01`` + 22 hex characters)."""
    return f"req_01{secrets.token_hex(11)}"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def error_body(status: int, message: str, request_id: str, error_type: str | None = None) -> bytes:
    """The JSON body of an error response in the API's shape."""
    kind = error_type or ERROR_TYPES.get(status, "api_error")
    payload: dict[str, Any] = {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": request_id,
    }
    return _ENCODER.encode(payload).encode("utf-8")


def forward_headers(raw: Iterable[tuple[bytes, bytes]], *, auth: tuple[str, str] | None) -> dict[str, str]:
    """The caller's headers to send upstream: hop-by-hop ones dropped, everything else kept.

    ``auth`` replaces the caller's credentials with ``(header, value)`` (managed keys); None keeps
    the caller's own ``x-api-key`` / ``authorization`` (pass-through). Header names arrive
    lower-cased from the ASGI server; values are decoded as latin-1 (HTTP's own charset).
    """
    out: dict[str, str] = {}
    for name, value in raw:
        if name in HOP_BY_HOP or name in _GATEWAY_ONLY:
            continue
        if auth is not None and name in _AUTH:
            continue
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        out[key] = f"{out[key]}, {text}" if key in out else text
    if auth is not None:
        out[auth[0]] = auth[1]
    out["accept-encoding"] = "identity"
    return out


def response_headers(
    upstream: Iterable[tuple[bytes, bytes]], extra: Iterable[tuple[bytes, bytes]] = ()
) -> list[tuple[bytes, bytes]]:
    """Upstream's raw response headers for the caller (hop-by-hop and length dropped), plus ``extra``."""
    out = [(k.lower(), v) for k, v in upstream if k.lower() not in _RESPONSE_DROP]
    out.extend(extra)
    return out
