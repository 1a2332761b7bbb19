"""What happened to one request, whether to try it again, and the output line that reports it (pure).

Result types come from the batch results file: ``succeeded`` (with the message), ``errored`` (with
an API error), ``expired`` (the batch hit its 24-hour limit first) and ``canceled``. clawback adds
``invalid`` for input lines it refused to send (``--skip-invalid``). Errored requests are not
billed; an ``invalid_request_error`` means the request itself must change, so it is reported and
never retried. Any other error and every expiry is retried in a follow-up batch until the job's
attempt limit; canceled requests are final.

One output line per input line, as compact JSON::

    {"id": "ticket-17", "line": 3, "outcome": "succeeded", "attempts": 1, "message": {...},
     "usage": {...}, "cost_usd": "0.000125", "custom_id": "k3v9qa0000-ticket-17", "batch_id": "msgbatch_..."}
    {"id": 18, "line": 4, "outcome": "errored", "attempts": 3, "error": {"type": "overloaded_error", "message": "..."},
     "usage": null, "cost_usd": "0.00", ...}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "FINAL_OUTCOMES",
    "ItemResult",
    "Outcome",
    "classify_result",
    "next_step",
    "render_output_line",
]

Outcome = Literal["succeeded", "errored", "expired", "canceled", "invalid"]
FINAL_OUTCOMES: Final = ("succeeded", "errored", "expired", "canceled", "invalid")
NOT_RETRIED: Final = frozenset({"invalid_request_error"})


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One result line of a batch, reduced to what the journal keeps."""

    custom_id: str
    outcome: Outcome
    message: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None

    @property
    def usage(self) -> Mapping[str, Any] | None:
        """The message's usage object, if it succeeded."""
        if self.message is None:
            return None
        usage = self.message.get("usage")
        return usage if isinstance(usage, Mapping) else None

    @property
    def retryable(self) -> bool:
        """True for expiries and for errors other than ``invalid_request_error``."""
        if self.outcome == "expired":
            return True
        if self.outcome != "errored":
            return False
        return str((self.error or {}).get("type")) not in NOT_RETRIED


def _error_of(result: Mapping[str, Any]) -> dict[str, Any]:
    error = result.get("error")
    if (
        isinstance(error, Mapping)
        and error.get("type") == "error"
        and isinstance(error.get("error"), Mapping)
    ):
        error = error["error"]
    if not isinstance(error, Mapping):
        return {"type": "api_error", "message": "errored without an error object"}
    return {"type": str(error.get("type", "api_error")), "message": str(error.get("message", ""))}


def classify_result(line: Mapping[str, Any]) -> ItemResult:
    """An :class:`ItemResult` from one parsed line of a results file; ValueError if it is not one."""
    custom_id = line.get("custom_id")
    result = line.get("result")
    if not isinstance(custom_id, str) or not isinstance(result, Mapping):
        raise ValueError("a batch result needs a custom_id and a result object")
    kind = result.get("type")
    if kind == "succeeded":
        message = result.get("message")
        if not isinstance(message, Mapping):
            raise ValueError(f"succeeded result {custom_id} has no message")
        return ItemResult(custom_id, "succeeded", message=message)
    if kind == "errored":
        return ItemResult(custom_id, "errored", error=_error_of(result))
    if kind == "expired":
        return ItemResult(
            custom_id, "expired", error={"type": "expired", "message": "the batch expired first"}
        )
    if kind == "canceled":
        return ItemResult(
            custom_id, "canceled", error={"type": "canceled", "message": "the batch was canceled"}
        )
    raise ValueError(f"unknown result type {kind!r} for {custom_id}")


def next_step(
    result: ItemResult, attempts: int, max_attempts: int, *, canceling: bool
) -> Literal["final", "retry"]:
    """Whether an item whose ``attempts``-th try produced ``result`` is done or goes out again."""
    if result.retryable and attempts < max_attempts and not canceling:
        return "retry"
    return "final"


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """Everything one output line says."""

    user_id: str | int | None
    line: int
    outcome: Outcome
    attempts: int
    message: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None
    cost_usd: str = "0.00"
    custom_id: str | None = None
    batch_id: str | None = None


def render_output_line(record: OutputRecord) -> str:
    """The output line (no newline) for one finished item."""
    usage = record.message.get("usage") if record.message is not None else None
    body: dict[str, Any] = {
        "id": record.user_id,
        "line": record.line,
        "outcome": record.outcome,
        "attempts": record.attempts,
    }
    if record.message is not None:
        body["message"] = record.message
    else:
        body["error"] = record.error
    body["usage"] = usage
    body["cost_usd"] = record.cost_usd
    body["custom_id"] = record.custom_id
    body["batch_id"] = record.batch_id
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
