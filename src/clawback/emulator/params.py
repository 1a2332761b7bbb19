"""Validation of a Messages request body, with the API's own 400 and 404 answers (pure).

:func:`parse_message_request` checks what the Claude API checks before it bills anything — the
model exists and is not retired, ``max_tokens`` is present and within the model's limit, the
messages are well formed, removed or unsupported parameters are absent — and returns a
:class:`MessageRequest` the core can run. Unknown top-level fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from clawback.emulator.wire import invalid_request, not_found
from clawback.pricing.catalogue import Catalogue, ModelInfo

__all__ = [
    "VERSIONS",
    "MessageRequest",
    "check_cache_control",
    "check_version",
    "model_version",
    "parse_message_request",
    "resolve_model",
]

VERSIONS: Final = frozenset({"2023-01-01", "2023-06-01", "2026-10-21"})
REMOVED_IN_2026_10_21: Final = ("temperature", "top_p", "top_k")
_ROLES: Final = ("user", "assistant")
_TTLS: Final = ("5m", "1h")
_TOOL_CHOICES: Final = ("auto", "any", "tool", "none")
_EFFORTS: Final = ("low", "medium", "high", "xhigh", "max")
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
    return tuple(int(p) for p in info.version.split(".") if p.isdigit())


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


def _check_block(block: Any, where: str) -> None:
    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
        raise invalid_request(f"{where}: each content block must be an object with a 'type'")
    if block["type"] == "text" and not isinstance(block.get("text"), str):
        raise invalid_request(f"{where}.text: Input should be a valid string")
    if "cache_control" in block and block["cache_control"] is not None:
        check_cache_control(block["cache_control"], where)


def _check_content(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid_request(f"{where}: Input should be a valid string or a list of content blocks")
    for j, block in enumerate(content):
        _check_block(block, f"{where}.{j}")


def _check_messages(messages: Any) -> None:
    if messages is None:
        raise invalid_request("messages: Field required")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise invalid_request(f"messages.{i}: Input should be an object")
        if not isinstance(message.get("role"), str) or message["role"] not in _ROLES:
            raise invalid_request(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise invalid_request(f"messages.{i}.content: Field required")
        _check_content(message["content"], f"messages.{i}.content")


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
    system = body.get("system")
    if system is not None:
        _check_content(system, "system")
    _check_tools(body.get("tools"), body.get("tool_choice"))
    _check_output_config(body.get("output_config"))
    if body.get("cache_control") is not None:
        check_cache_control(body["cache_control"], "")
    stops = body.get("stop_sequences")
    if stops is None:
        return ()
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise invalid_request("stop_sequences: Input should be a list of non-empty strings")
    return tuple(stops)


def _check_tools(tools: Any, tool_choice: Any) -> None:
    if tools is not None:
        if not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools):
            raise invalid_request("tools: Input should be a list of tool definitions")
        for i, tool in enumerate(tools):
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise invalid_request(f"tools.{i}.name: Field required")
            if tool.get("cache_control") is not None:
                check_cache_control(tool["cache_control"], f"tools.{i}")
    if tool_choice is None:
        return
    if not isinstance(tool_choice, Mapping) or tool_choice.get("type") not in _TOOL_CHOICES:
        raise invalid_request("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if tool_choice["type"] == "tool" and not isinstance(tool_choice.get("name"), str):
        raise invalid_request("tool_choice.name: Field required")


def _check_output_config(output_config: Any) -> None:
    if output_config is None:
        return
    if not isinstance(output_config, Mapping):
        raise invalid_request("output_config: Input should be an object")
    effort = output_config.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise invalid_request(
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
        )
    fmt = output_config.get("format")
    if fmt is not None and not isinstance(fmt, Mapping):
        raise invalid_request("output_config.format: Input should be an object")


def _check_model_features(body: Mapping[str, Any], info: ModelInfo, *, in_batch: bool) -> None:
    version = model_version(info)
    messages: Sequence[Any] = body["messages"]
    if version >= (4, 6) and messages[-1].get("role") == "assistant":
        raise invalid_request(
            "This model does not support assistant message prefill. "
            "The conversation must end with a user message."
        )
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled" and version >= (4, 7):
        raise invalid_request(f"thinking.type: 'enabled' is not supported on {info.id}; use 'adaptive'")
    geo = body.get("inference_geo")
    if geo is not None and (geo not in ("us", "global") or not info.inference_geo_us):
        raise invalid_request(f"inference_geo: {geo!r} is not supported for {info.id}")
    speed = body.get("speed")
    if speed is not None and speed not in ("standard", "fast"):
        raise invalid_request("speed: Input should be 'standard' or 'fast'")
    if speed == "fast" and in_batch:
        raise invalid_request("speed: 'fast' is not supported in Message Batches")
    if speed == "fast" and info.fast_mode is None and info.id not in _FAST_RUNS_STANDARD:
        raise invalid_request(f"speed: 'fast' is not supported for {info.id}")
    if body.get("service_tier", "auto") not in ("auto", "standard_only"):
        raise invalid_request("service_tier: Input should be 'auto' or 'standard_only'")


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

    ``counting`` validates a ``count_tokens`` body, where ``max_tokens`` is not required.
    """
    if not isinstance(body, Mapping):
        raise invalid_request("request body must be a JSON object")
    info = resolve_model(catalogue, body.get("model"), today)
    if counting and body.get("max_tokens") is None:
        max_tokens = 1
    else:
        max_tokens = _check_max_tokens(body.get("max_tokens"), info, in_batch=in_batch)
    _check_messages(body.get("messages"))
    stops = _check_optional_fields(body, version)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid_request("stream: Input should be a valid boolean")
    if stream and in_batch:
        raise invalid_request("stream: streaming is not supported in Message Batches")
    _check_model_features(body, info, in_batch=in_batch)
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


def check_version(version: str | None) -> str:
    """The ``anthropic-version`` header, required and known."""
    if not version:
        raise invalid_request("anthropic-version: header is required")
    if version not in VERSIONS:
        raise invalid_request(f"anthropic-version: {version!r} is not a valid version")
    return version
