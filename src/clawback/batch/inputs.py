"""Reading one line of a batch input file: the two accepted forms, and every check made before sending (pure).

A line is one JSON object in either form:

* a Messages request body, with an optional ``id`` (or ``custom_id``) beside the API's own
  fields: ``{"id": "ticket-17", "model": "...", "max_tokens": 64, "messages": [...]}``;
* the API's own batch form: ``{"custom_id": "ticket-17", "params": {...}}`` (``id`` works too).

An id is a string or an integer; it need not fit the API's ``custom_id`` rules (see
:mod:`clawback.batch.ids`). Blank lines are skipped. Every check the API would otherwise make only
after a batch has run — and a few it makes per request — is made here, naming the line: bad JSON,
a missing or bad ``model``/``max_tokens``/``messages``, a model the catalogue does not know or
that is retired, ``max_tokens`` above the model's output limit, parameters the Batch API refuses
(``stream``, fast mode ``speed``, ``fallbacks``), and a request larger than the size limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from clawback.batch.chunking import Limits
from clawback.errors import InputFileError, UnknownModelError
from clawback.pricing.catalogue import Catalogue, ModelInfo
from clawback.redact import redact
from clawback.safe_input import loads

__all__ = ["InputItem", "LineError", "dumps_params", "parse_line"]

_BATCH_FORBIDDEN: Final = {
    "stream": "streaming is not available in the Batch API",
    "speed": "fast mode (speed) is not available in the Batch API",
    "fallbacks": "fallbacks are not supported in the Batch API",
}
_ID_KEYS: Final = ("id", "custom_id")


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: StrictStr
    content: StrictStr | list[dict[str, Any]]


class _Params(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    max_tokens: StrictInt = Field(ge=1)
    messages: list[_Message] = Field(min_length=1)
    system: StrictStr | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class InputItem:
    """One valid input line: its id, the exact params to send and their size."""

    line: int
    user_id: str | int | None
    params: dict[str, Any]
    params_json: str
    model: ModelInfo

    @property
    def nbytes(self) -> int:
        """Bytes of the params JSON as sent."""
        return len(self.params_json.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class LineError:
    """Why one input line cannot be sent (the message masked: a line may carry an API key)."""

    line: int
    message: str
    user_id: str | int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", redact(self.message))

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def dumps_params(params: dict[str, Any]) -> str:
    """The params as sent: compact JSON, key order kept (it matters for ``tool_use`` caching)."""
    return json.dumps(params, ensure_ascii=False, separators=(",", ":"))


def _pydantic_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return f"{where}: {first['msg']}"


def _split_id(obj: dict[str, Any]) -> tuple[str | int | None, dict[str, Any] | str]:
    """The id and the params of a line, or an error message in place of the params."""
    given = [k for k in _ID_KEYS if k in obj]
    if len(given) > 1:
        return None, "give the id as 'id' or 'custom_id', not both"
    user_id = obj.get(given[0]) if given else None
    if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, str | int)):
        return None, f"{given[0]} must be a string or an integer, got {json.dumps(user_id)[:40]}"
    if isinstance(user_id, str) and not user_id:
        return None, f"{given[0]} must not be empty"
    if "params" in obj:
        extra = sorted(set(obj) - {"params", *_ID_KEYS})
        if extra:
            return user_id, f"unexpected key {extra[0]!r} beside 'params'"
        params = obj["params"]
        if not isinstance(params, dict):
            return user_id, "params must be a JSON object"
        return user_id, params
    return user_id, {k: v for k, v in obj.items() if k not in _ID_KEYS}


def _check_params(params: dict[str, Any], catalogue: Catalogue, today: date) -> ModelInfo | str:
    try:
        checked = _Params.model_validate(params)
    except ValidationError as exc:
        return _pydantic_message(exc)
    for name, why in _BATCH_FORBIDDEN.items():
        value = params.get(name)
        if value not in (None, False, "standard") and value != []:
            return f"{name}: {why}"
    try:
        info = catalogue.resolve(checked.model)
    except UnknownModelError as exc:
        return str(exc)
    retired = info.retired or info.retires
    if retired is not None and today >= retired:
        return f"model {checked.model!r} was retired on {retired.isoformat()}"
    if checked.max_tokens > info.max_output:
        return f"max_tokens {checked.max_tokens:,} is above {info.id}'s output limit of {info.max_output:,}"
    return info


def parse_line(
    raw: bytes | str,
    line: int,
    *,
    catalogue: Catalogue,
    today: date,
    limits: Limits,
) -> InputItem | LineError | None:
    """The item on one input line, why it is invalid, or None for a blank line."""
    if not raw.strip() or raw.strip() == (b"\xef\xbb\xbf" if isinstance(raw, bytes) else "\ufeff"):
        return None
    try:
        obj = loads(raw)
    except InputFileError as exc:
        return LineError(line, str(exc))
    if not isinstance(obj, dict):
        return LineError(line, f"expected a JSON object, got {type(obj).__name__}")
    user_id, params = _split_id(obj)
    if isinstance(params, str):
        return LineError(line, params, user_id)
    checked = _check_params(params, catalogue, today)
    if isinstance(checked, str):
        return LineError(line, checked, user_id)
    params_json = dumps_params(params)
    item = InputItem(line, user_id, params, params_json, checked)
    if not limits.fits_alone(item.nbytes):
        return LineError(
            line,
            f"request is {item.nbytes:,} bytes, over the {limits.max_request_bytes:,}-byte limit for one request",
            user_id,
        )
    return item
