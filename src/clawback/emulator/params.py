"""Validation of a Messages request body, with the API's own 400 and 404 answers (pure).

:func:`parse_message_request` checks what the Claude API checks before it bills anything — the
body fits the request schema (:mod:`clawback.emulator.schema`: types, ranges, required fields,
no unknown fields, known block types), the model exists and is not retired, ``max_tokens`` is
within the model's limit, text blocks are not empty, and parameters the model or API version
refuses (sampling parameters, prefill, thinking modes, fast mode, ``inference_geo``) are absent —
and returns a :class:`MessageRequest` the core can run. :func:`check_context_window` is applied
once the prompt's tokens are known. Messages follow the API's wording where it is known.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from clawback.emulator.media import MAX_IMAGE_BYTES, check_media
from clawback.emulator.schema import schema_error
from clawback.emulator.wire import invalid_request, not_found
from clawback.pricing.catalogue import Catalogue, ModelInfo

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_MESSAGES",
    "NOT_IN_BATCHES",
    "VERSIONS",
    "MessageRequest",
    "check_cache_control",
    "check_context_window",
    "check_tool_pairing",
    "check_version",
    "model_version",
    "parse_message_request",
    "resolve_model",
]

VERSIONS: Final = frozenset({"2023-01-01", "2023-06-01", "2026-10-21"})
REMOVED_IN_2026_10_21: Final = ("temperature", "top_p", "top_k")
_TTLS: Final = ("5m", "1h")
MAX_MESSAGES: Final = 100_000
# parameters the Messages API takes that a batch item may not carry (facts §3)
NOT_IN_BATCHES: Final = (
    "store",
    "previous_thread_event_id",
    "cache_hint",
    "context_hint",
    "research_preview_2026_02",
    "fallbacks",
)
# models on which thinking cannot be turned off (facts §6); Fable and Mythos too
_THINKING_ALWAYS_ON: Final = frozenset({"claude-opus-5-5", "claude-sonnet-5-5"})
# Claude Opus 4.6 accepts speed "fast" but runs (and bills) at standard speed (facts §1.4)
_FAST_RUNS_STANDARD: Final = frozenset({"claude-opus-4-6"})


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """A validated Messages request."""

    info: ModelInfo
    body: Mapping[str, Any]
    max_tokens: int
    stream: bool = False
    stop_sequences: tuple[str, ...] = ()
    inference_geo: str | None = None
    speed: str | None = None


def model_version(info: ModelInfo) -> tuple[int, ...]:
    """A model's version as numbers: ``"4.6"`` → ``(4, 6)``."""
    return _version_numbers(info.version)


@functools.lru_cache(maxsize=256)
def _version_numbers(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def resolve_model(catalogue: Catalogue, model: Any, today: date) -> ModelInfo:
    """The catalogue entry for ``model``; 404 ``not_found_error`` if unknown or retired on ``today``."""
    if not isinstance(model, str) or not model:
        raise invalid_request("model: Field required")
    info = catalogue.get(model)
    if info is None:
        raise not_found(f"model: {model}")
    retired = info.retired or info.retires
    if retired is not None and today >= retired:
        raise not_found(f"model: {model} (retired on {retired.isoformat()})")
    return info


def check_cache_control(control: Any, where: str) -> None:
    """A ``cache_control`` value: ``{"type": "ephemeral"}`` with an optional ``ttl`` of 5m or 1h."""
    field = f"{where}.cache_control" if where else "cache_control"
    if not isinstance(control, Mapping):
        raise invalid_request(f"{field}: Input should be an object")
    if control.get("type") != "ephemeral":
        raise invalid_request(f"{field}.type: Input should be 'ephemeral'")
    ttl = control.get("ttl")
    if ttl is not None and ttl not in _TTLS:
        raise invalid_request(f"{field}.ttl: Input should be '5m' or '1h'")


def _blocks(content: Any) -> Sequence[Any]:
    return content if isinstance(content, list) else ()


def _check_texts(content: Any, where: str) -> None:
    """Text blocks must hold non-whitespace text (the API's own wording)."""
    for block in _blocks(content):
        if block.get("type") == "text":
            text = block["text"]
            if not text:
                raise invalid_request(f"{where}: text content blocks must be non-empty")
            if text.isspace():
                raise invalid_request(f"{where}: text content blocks must contain non-whitespace text")


def _check_messages(messages: list[Any], info: ModelInfo, version: str) -> None:
    if not messages:
        raise invalid_request("messages: at least one message is required")
    if len(messages) > MAX_MESSAGES:
        raise invalid_request(f"messages: at most {MAX_MESSAGES:,} messages are allowed per request")
    last = len(messages) - 1
    blocks = False
    for i, message in enumerate(messages):
        role, content = message["role"], message["content"]
        blocks = blocks or type(content) is list
        if not content and not (i == last and role == "assistant"):
            raise invalid_request(
                f"messages.{i}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        if role == "system" and not _system_messages_allowed(info):
            raise invalid_request(f"messages.{i}.role: 'system' messages are not supported on {info.id}")
        _check_texts(content, "messages")
        if version == "2026-10-21":
            _check_2026_blocks(content, role, i)
    final = messages[last]
    if final["role"] == "assistant" and _trailing_space(final["content"]):
        raise invalid_request("messages: final assistant content cannot end with trailing whitespace")
    if blocks:
        check_media(messages)
        check_tool_pairing(messages)


def _tool_uses(content: Any, i: int, seen: set[str], pending: dict[str, int]) -> None:
    """Record the ``tool_use`` ids of assistant message ``i`` (unique across the request)."""
    for j, block in enumerate(_blocks(content)):
        if block.get("type") != "tool_use":
            continue
        tool_id = block["id"]
        if tool_id in seen:
            raise invalid_request(f"messages.{i}.content.{j}: `tool_use` ids must be unique")
        seen.add(tool_id)
        pending.setdefault(tool_id, i)


def _tool_results(content: Any, i: int, pending: dict[str, int], answered: set[str]) -> None:
    """Match the ``tool_result`` blocks of user message ``i`` with the previous turn's ``tool_use``."""
    for j, block in enumerate(_blocks(content)):
        if block.get("type") != "tool_result":
            continue
        tool_id = block["tool_use_id"]
        if tool_id not in pending:
            raise invalid_request(
                f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{tool_id}. Each `tool_result` block must have a corresponding `tool_use` block in the "
                "previous message."
            )
        if tool_id in answered:
            raise invalid_request(
                f"messages.{i}.content.{j}: each tool_use must have a single result. Found multiple "
                f"`tool_result` blocks with id: {tool_id}"
            )
        answered.add(tool_id)


def _unanswered(pending: dict[str, int], answered: set[str]) -> None:
    missing = [tool_id for tool_id in pending if tool_id not in answered]
    if missing:
        raise invalid_request(
            f"messages.{pending[missing[0]]}: `tool_use` ids were found without `tool_result` blocks "
            f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
            "`tool_result` block in the next message."
        )


def check_tool_pairing(messages: Sequence[Any]) -> None:
    """Client tool calls and their results pair up turn by turn, as the API enforces.

    Every ``tool_use`` block of an assistant turn needs a ``tool_result`` with its id in the user
    turn right after it, and every ``tool_result`` must answer a ``tool_use`` of the assistant turn
    right before it, once; ``tool_use`` ids are unique. Consecutive messages of one role form one
    turn (the API merges them); mid-conversation ``system`` messages are passed over. Server-tool
    blocks (``server_tool_use`` and their results, MCP calls) live in one assistant turn and are
    not paired here. ``messages`` must already fit the schema.
    """
    seen: set[str] = set()
    pending: dict[str, int] = {}  # tool_use id → the assistant message holding it
    answered: set[str] = set()
    role = ""
    for i, message in enumerate(messages):
        kind = message["role"]
        if kind == "system":
            continue
        if kind != role:  # a new turn: the previous assistant turn must have been answered in full
            if role == "user":
                _unanswered(pending, answered)
                pending, answered = {}, set()
            role = kind
        if kind == "assistant":
            _tool_uses(message["content"], i, seen, pending)
        else:
            _tool_results(message["content"], i, pending, answered)
    _unanswered(pending, answered)


def _trailing_space(content: Any) -> bool:
    if isinstance(content, str):
        return content != content.rstrip()
    blocks = _blocks(content)
    if not blocks or blocks[-1].get("type") != "text":
        return False
    text: str = blocks[-1]["text"]
    return text != text.rstrip()


def _check_2026_blocks(content: Any, role: str, i: int) -> None:
    for j, block in enumerate(_blocks(content)):
        kind = block.get("type")
        if role == "assistant" and kind == "document":
            raise invalid_request(
                f"messages.{i}.content.{j}: document blocks are not allowed in assistant messages "
                "(anthropic-version 2026-10-21)"
            )
        if role == "user" and kind == "text" and block.get("citations") is not None:
            raise invalid_request(
                f"messages.{i}.content.{j}.citations: Extra inputs are not permitted "
                "(anthropic-version 2026-10-21)"
            )


def _system_messages_allowed(info: ModelInfo) -> bool:
    """Mid-conversation ``system`` messages: Fable, Mythos, Opus 4.8 and later, 5.x models but Sonnet 5."""
    if info.family in ("fable", "mythos"):
        return True
    version = model_version(info)
    if info.family == "opus":
        return version >= (4, 8)
    return version >= (5,) and info.id != "claude-sonnet-5"


def _check_max_tokens(value: Any, info: ModelInfo, *, in_batch: bool) -> int:
    if value is None:
        raise invalid_request("max_tokens: Field required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_request("max_tokens: Input should be a valid integer")
    minimum = 1 if in_batch else 0
    if value < minimum:
        raise invalid_request(f"max_tokens: Input should be greater than or equal to {minimum}")
    if value > info.max_output:
        raise invalid_request(
            f"max_tokens: {value} > {info.max_output}, which is the maximum allowed number of "
            f"output tokens for {info.id}"
        )
    return value


def _check_optional_fields(body: Mapping[str, Any], version: str) -> tuple[str, ...]:
    if version == "2026-10-21":
        for name in REMOVED_IN_2026_10_21:
            if name in body:
                raise invalid_request(
                    f"{name}: Extra inputs are not permitted (removed in anthropic-version 2026-10-21)"
                )
    _check_texts(body.get("system"), "system")
    stops = body.get("stop_sequences")
    if stops is None:
        return ()
    if not all(stops):
        raise invalid_request("stop_sequences: Input should be a list of non-empty strings")
    return tuple(stops)


def _check_sampling(body: Mapping[str, Any], info: ModelInfo) -> None:
    """Sonnet 5 and later and Haiku 5.5 refuse non-default sampling parameters (facts §6)."""
    version = model_version(info)
    if not ((info.family == "sonnet" and version >= (5,)) or (info.family == "haiku" and version >= (5, 5))):
        return
    for name, default in (("temperature", 1.0), ("top_p", 1.0), ("top_k", None)):
        value = body.get(name)
        if value is not None and value != default:
            raise invalid_request(
                f"{name}: {info.id} does not support non-default sampling parameters; remove `{name}`"
            )


def _check_thinking(body: Mapping[str, Any], info: ModelInfo, max_tokens: int, *, counting: bool) -> None:
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping):
        return
    kind = thinking["type"]
    version = model_version(info)
    if kind == "enabled":
        if version >= (4, 7):
            raise invalid_request(f"thinking.type: 'enabled' is not supported on {info.id}; use 'adaptive'")
        if not counting and max_tokens <= thinking["budget_tokens"]:
            raise invalid_request("`max_tokens` must be greater than `thinking.budget_tokens`")
    if kind != "disabled":
        return
    effort = (body.get("output_config") or {}).get("effort")
    if info.family in ("fable", "mythos") or info.id in _THINKING_ALWAYS_ON:
        raise invalid_request(f"thinking.type: thinking cannot be disabled on {info.id}")
    if info.id == "claude-opus-5" and effort in ("xhigh", "max"):
        raise invalid_request(
            f"thinking.type: thinking can be disabled on {info.id} only at effort high or lower"
        )


def _check_model_features(body: Mapping[str, Any], info: ModelInfo, *, in_batch: bool) -> None:
    version = model_version(info)
    messages: Sequence[Any] = body["messages"]
    if version >= (4, 6) and messages[-1]["role"] == "assistant":
        raise invalid_request(
            "This model does not support assistant message prefill. "
            "The conversation must end with a user message."
        )
    geo = body.get("inference_geo")
    if geo is not None and (geo not in ("us", "global") or not info.inference_geo_us):
        raise invalid_request(f"inference_geo: {geo!r} is not supported for {info.id}")
    speed = body.get("speed")
    if speed == "fast" and in_batch:
        raise invalid_request("speed: 'fast' is not supported in Message Batches")
    if speed == "fast" and info.fast_mode is None and info.id not in _FAST_RUNS_STANDARD:
        raise invalid_request(f"speed: 'fast' is not supported for {info.id}")
    if in_batch:
        for name in NOT_IN_BATCHES:
            if body.get(name) is not None:
                raise invalid_request(f"{name}: not supported in Message Batches")


def _check_prewarm(body: Mapping[str, Any], stream: bool) -> None:
    thinking = body.get("thinking")
    output_config = body.get("output_config")
    tool_choice = body.get("tool_choice")
    if stream:
        raise invalid_request("max_tokens: 0 (cache pre-warming) cannot be used with stream")
    if isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"):
        raise invalid_request("max_tokens: 0 (cache pre-warming) cannot be used with thinking")
    if isinstance(output_config, Mapping) and output_config.get("format") is not None:
        raise invalid_request("max_tokens: 0 (cache pre-warming) cannot be used with output_config.format")
    if isinstance(tool_choice, Mapping) and tool_choice.get("type") in ("any", "tool"):
        raise invalid_request("max_tokens: 0 (cache pre-warming) cannot be used with a forced tool_choice")


def parse_message_request(
    body: Any,
    catalogue: Catalogue,
    *,
    version: str = "2023-06-01",
    today: date,
    in_batch: bool = False,
    counting: bool = False,
) -> MessageRequest:
    """A validated request, or an ``ApiError`` exactly as the API would answer.

    The body is checked against the request schema first (:mod:`clawback.emulator.schema`), then
    against the rules of its model and API version. ``counting`` validates a ``count_tokens``
    body, which has no ``max_tokens``. ``body`` must already be bounded JSON (see
    :func:`clawback.safe_input.check_json`).
    """
    if not isinstance(body, Mapping):
        raise invalid_request("request body must be a JSON object")
    problem = schema_error(body, counting=counting)
    if problem is not None:
        raise invalid_request(problem)
    info = resolve_model(catalogue, body["model"], today)
    max_tokens = 1 if counting else _check_max_tokens(body.get("max_tokens"), info, in_batch=in_batch)
    _check_messages(body["messages"], info, version)
    stops = _check_optional_fields(body, version)
    stream = bool(body.get("stream"))
    if stream and in_batch:
        raise invalid_request("stream: streaming is not supported in Message Batches")
    _check_model_features(body, info, in_batch=in_batch)
    _check_sampling(body, info)
    _check_thinking(body, info, max_tokens, counting=counting)
    if max_tokens == 0 and not counting:
        _check_prewarm(body, stream)
    speed = body.get("speed")
    if speed == "fast" and info.id in _FAST_RUNS_STANDARD:
        speed = "standard"
        body = {k: v for k, v in body.items() if k != "speed"}
    if body.get("model") != info.id:
        body = {**body, "model": info.id}
    return MessageRequest(
        info=info,
        body=body,
        max_tokens=max_tokens,
        stream=stream,
        stop_sequences=stops,
        inference_geo=body.get("inference_geo"),
        speed=speed,
    )


def check_context_window(total_tokens: int, info: ModelInfo) -> None:
    """400 ``prompt is too long`` when the prompt does not fit the model's context window."""
    if total_tokens > info.context_window:
        raise invalid_request(f"prompt is too long: {total_tokens} tokens > {info.context_window} maximum")


def check_version(version: str | None) -> str:
    """The ``anthropic-version`` header, required and known."""
    if not version:
        raise invalid_request("anthropic-version: header is required")
    if version not in VERSIONS:
        raise invalid_request(f"anthropic-version: {version!r} is not a valid version")
    return version
