"""What the emulator puts on the wire besides messages: API errors, their JSON shape, and ids.

Every error the Claude API returns has the shape::

    {"type": "error", "error": {"type": "invalid_request_error", "message": "..."}, "request_id": "req_..."}

:class:`ApiError` carries the HTTP status, the error type and any extra headers (``retry-after``);
the core raises it and the HTTP layer renders it with :func:`error_body`.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Mapping
from typing import Any, Final

from clawback.errors import ClawbackError, InputFileError
from clawback.safe_input import parse_int

__all__ = [
    "ERROR_TYPES",
    "ApiError",
    "dumps",
    "error_body",
    "invalid_request",
    "new_id",
    "not_found",
    "page_body",
    "paginate",
    "parse_limit",
]

ERROR_TYPES: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class ApiError(ClawbackError):
    """An error the emulator answers with, in the Claude API's own terms."""

    exit_code = 3

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.http_status = status
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        self.details: dict[str, Any] | None = dict(details) if details is not None else None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.status, self.message, self.error_type, self.headers, self.details))

    def to_error(self) -> dict[str, Any]:
        """The inner ``error`` object (with ``details`` where the API gives them)."""
        out: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out


def _rebuild(
    status: int, message: str, error_type: str, headers: dict[str, str], details: dict[str, Any] | None
) -> ApiError:
    return ApiError(status, message, error_type=error_type, headers=headers, details=details)


def invalid_request(message: str) -> ApiError:
    """A 400 ``invalid_request_error``."""
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    """A 404 ``not_found_error``."""
    return ApiError(404, message)


def error_body(error: ApiError, request_id: str) -> bytes:
    """The JSON body of an error response."""
    return dumps({"type": "error", "error": error.to_error(), "request_id": request_id})


_RANDOM = random.Random(secrets.randbits(128))
if hasattr(os, "register_at_fork"):  # a forked child draws its own ids
    os.register_at_fork(after_in_child=lambda: _RANDOM.seed(secrets.randbits(128)))


def new_id(prefix: str) -> str:
    """A fresh opaque id such as ``msg_01…`` or ``req_01…`` (24 characters after the prefix).

    Ids need to be unique, not secret: a generator seeded once from the OS (no system call per id).
    """
    return f"{prefix}_01{_RANDOM.getrandbits(88):022x}"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON; text holding a lone surrogate is written as a ``\\udXXX`` escape."""
    text = _ENCODER.encode(data)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _ASCII_ENCODER.encode(data).encode("ascii")


def parse_limit(value: str | None, *, default: int = 20, maximum: int = 1000) -> int:
    """The ``limit`` query parameter of a list endpoint, 1 to ``maximum``."""
    if value is None:
        return default
    try:
        return parse_int(value, "limit", minimum=1, maximum=maximum)
    except InputFileError as exc:
        raise invalid_request(str(exc)) from None


def paginate(
    ids: list[str], *, limit: int, after_id: str | None = None, before_id: str | None = None
) -> tuple[list[str], bool]:
    """One page of ``ids`` (newest first) and whether more exist in that direction."""
    if before_id is not None:
        end = ids.index(before_id) if before_id in ids else 0
        start = max(0, end - limit)
        return ids[start:end], start > 0
    start = ids.index(after_id) + 1 if after_id in ids else (0 if after_id is None else len(ids))
    return ids[start : start + limit], start + limit < len(ids)


def page_body(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """The list-endpoint envelope: ``data``, ``has_more``, ``first_id``, ``last_id``."""
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
