"""Every error clawback raises on purpose.

All of them derive from one root, so callers can catch ``ClawbackError`` and nothing else::

    ClawbackError                 exit 1, HTTP 500
    ├── UsageError                exit 2, HTTP 400   bad arguments or input values
    │   ├── UnknownModelError                         a model id missing from the catalogue
    │   └── InputFileError                            a file that can't be read or parsed
    ├── CatalogueError            exit 2, HTTP 500   a price file with a missing or bad field
    ├── PricingError              exit 2, HTTP 400   usage that can't be priced (e.g. fast mode on batch)
    ├── CacheRuleError            exit 2, HTTP 400   a request the prompt-cache rules reject
    ├── UpstreamError             exit 3, HTTP 502   the Claude API (or the emulator) failed
    ├── StoreError                exit 4, HTTP 500   a ledger or journal could not be opened or written
    └── BatchJobError             exit 5, HTTP 409   a batch job is in a state that forbids the request

Each class carries an ``exit_code`` for the CLI and an ``http_status`` for servers; the CLI prints
``str(error)`` on one line and exits with the code. Errors from the SDK, httpx or sqlite are
translated at the boundary that meets them with ``raise ... from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BatchJobError",
    "CacheRuleError",
    "CatalogueError",
    "ClawbackError",
    "InputFileError",
    "PricingError",
    "StoreError",
    "UnknownModelError",
    "UpstreamError",
    "UsageError",
]


class ClawbackError(Exception):
    """Root of every error clawback raises on purpose."""

    exit_code: int = 1
    http_status: int = 500


class UsageError(ClawbackError):
    """The caller passed a value that is not acceptable (negative counts, bad dates, bad flags)."""

    exit_code = 2
    http_status = 400


class InputFileError(UsageError):
    """A file given to clawback could not be read or parsed."""


class UnknownModelError(UsageError):
    """A model id that the price catalogue does not know; never priced at $0."""

    def __init__(self, model: str, closest: Sequence[str] = ()) -> None:
        self.model = model
        self.closest = tuple(closest)
        hint = (
            f"; closest known ids: {', '.join(self.closest)}"
            if self.closest
            else "; no known id is close (`clawback models` lists them)"
        )
        super().__init__(f"unknown model {model!r}{hint}")


class CatalogueError(ClawbackError):
    """A price catalogue file is malformed (missing field, bad number, bad date)."""

    exit_code = 2


class PricingError(ClawbackError):
    """A usage object that cannot be priced as given (e.g. fast mode together with batch)."""

    exit_code = 2
    http_status = 400


class CacheRuleError(ClawbackError):
    """A request that the prompt-cache rules reject (five breakpoints, a 1h entry after a 5m one)."""

    exit_code = 2
    http_status = 400


class UpstreamError(ClawbackError):
    """The Claude API, or the emulator standing in for it, failed or could not be reached."""

    exit_code = 3
    http_status = 502


class StoreError(ClawbackError):
    """A ledger or batch journal could not be opened, migrated or written."""

    exit_code = 4


class BatchJobError(ClawbackError):
    """A batch job is missing or in a state that forbids what was asked."""

    exit_code = 5
    http_status = 409
