"""Everything CPU-heavy about a request body, as pure functions a worker process can run.

:func:`prepare_message` turns the bytes of a Messages (or ``count_tokens``, or batch item) body
into a :class:`Prepared`: the body's hash and model for the log, and either the API's error or
the validated request with its shape (tokens and prefix hashes) — JSON decoding, the schema,
the model rules, tokenising, hashing and the context-window check, in that order. A body the API
rejects never reaches the cache or billing. :func:`prepare_batch` does the same for the items of
a batch at creation, as the API validates them.

Everything here is picklable and needs only the catalogue, so
:class:`~clawback.emulator.offload.Offloader` can run it in a worker process for big bodies; the
request it hands back then carries a *light* body (the last user message and the forced tool,
which is all a responder reads) rather than the whole prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, NamedTuple

from clawback.emulator.batches import validate_requests
from clawback.emulator.core import block_counter
from clawback.emulator.params import MessageRequest, check_context_window, parse_message_request
from clawback.emulator.records import params_hash
from clawback.emulator.wire import ApiError, dumps, invalid_request
from clawback.errors import InputFileError
from clawback.pricing.catalogue import Catalogue
from clawback.safe_input import loads
from clawback.shapes import RequestShape, request_shape

__all__ = [
    "BatchItems",
    "Job",
    "Prepared",
    "decode_json",
    "light_body",
    "prepare_batch",
    "prepare_message",
]


def decode_json(raw: bytes) -> Any:
    """The JSON value of a request body; 400 for an empty, non-UTF-8, malformed or unbounded one."""
    if not raw:
        raise invalid_request("request body is empty; expected a JSON object")
    try:
        return loads(raw)
    except InputFileError as exc:
        raise invalid_request(f"request body is not valid JSON: {exc}") from None


class Job(NamedTuple):
    """How to prepare one body: the API version, the clock's date, the endpoint's rules."""

    version: str
    today: date
    counting: bool = False
    in_batch: bool = False
    light: bool = False


class Prepared(NamedTuple):
    """A prepared body: log fields, then an error (``status, message, type``, ``details``) or a request
    and its shape."""

    params_hash: str
    model: str | None = None
    stream: bool = False
    decoded: bool = True
    error: tuple[int, str, str] | None = None
    request: MessageRequest | None = None
    shape: RequestShape | None = None
    details: dict[str, Any] | None = None

    def ready(self) -> tuple[MessageRequest, RequestShape]:
        """The request and its shape, or the API's error raised."""
        if self.error is not None:
            status, message, kind = self.error
            raise ApiError(status, message, error_type=kind, details=self.details)
        assert self.request is not None and self.shape is not None
        return self.request, self.shape


def _fault(err: ApiError) -> tuple[int, str, str]:
    return (err.status, err.message, err.error_type)


def light_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a responder reads of ``body``: parameters, the last user message, the forced tool."""
    out = {k: v for k, v in body.items() if k not in ("messages", "system", "tools")}
    messages = body.get("messages") or []
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    out["messages"] = [last_user] if last_user is not None else []
    choice = body.get("tool_choice")
    tools = body.get("tools") or []
    if isinstance(choice, Mapping) and choice.get("type") in ("any", "tool") and tools:
        named = [t for t in tools if isinstance(t.get("name"), str)]
        wanted = (
            named[:1] if choice["type"] == "any" else [t for t in named if t["name"] == choice.get("name")]
        )
        out["tools"] = wanted[:1]
    return out


def prepare_message(raw: bytes, job: Job, catalogue: Catalogue) -> Prepared:
    """Decode, validate, tokenise and hash one Messages body."""
    digest = params_hash(raw)
    try:
        body = decode_json(raw)
    except ApiError as err:
        return Prepared(digest, decoded=False, error=_fault(err))
    model = body.get("model") if isinstance(body, Mapping) else None
    stream = isinstance(body, Mapping) and body.get("stream") is True
    model = model if isinstance(model, str) else None
    try:
        request = parse_message_request(
            body,
            catalogue,
            version=job.version,
            today=job.today,
            counting=job.counting,
            in_batch=job.in_batch,
        )
        tokenizer = request.info.tokenizer
        shape = request_shape(request.body, tokenizer=tokenizer, count=block_counter(tokenizer))
        check_context_window(shape.total_tokens, request.info)  # count_tokens and batch items too
    except ApiError as err:
        return Prepared(digest, model, stream, error=_fault(err), details=err.details)
    if job.light:  # the caller needs only what responders read (count_tokens needs nothing)
        light = {"model": request.info.id, "messages": []} if job.counting else light_body(request.body)
        request = replace(request, body=light)
    return Prepared(digest, model, stream, request=request, shape=shape)


@dataclass(frozen=True, slots=True)
class BatchItems:
    """A batch body checked at creation: per item its ``custom_id`` and params bytes, or its error."""

    items: list[tuple[str, bytes | tuple[int, str, str]]]
    hashes: list[str]
    models: list[str | None]


def prepare_batch(raw: bytes, job: Job, catalogue: Catalogue, max_requests: int) -> BatchItems:
    """Decode a batch body, check its envelope (400/413 raised), and validate each item's params.

    An item whose params the API would refuse keeps the error it will end ``errored`` with; the
    others keep their params as compact JSON bytes, run when the batch reaches them.
    """
    pairs = validate_requests(decode_json(raw), max_requests)
    items: list[tuple[str, bytes | tuple[int, str, str]]] = []
    hashes: list[str] = []
    models: list[str | None] = []
    for custom_id, params in pairs:
        data = dumps(params)
        hashes.append(params_hash(data))
        model = params.get("model")
        models.append(model if isinstance(model, str) else None)
        try:
            parse_message_request(params, catalogue, version=job.version, today=job.today, in_batch=True)
        except ApiError as err:
            items.append((custom_id, _fault(err)))
            continue
        items.append((custom_id, data))
    return BatchItems(items, hashes, models)
