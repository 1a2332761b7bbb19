"""The Messages request schema as the API enforces it: pydantic v2 models, one per object kind.

Mirrors the official SDK's request types (``anthropic.types.MessageCreateParams`` and the content
block params): unknown fields are refused (``Extra inputs are not permitted``), content blocks are
a union tagged by ``type`` (an unknown ``type`` names the expected tags), scalars are strict (a
string is not a number, a number is not a string), numbers are finite and in range. Server-tool
definitions and server-tool result blocks, whose dated versions change often, are checked for
their envelope (``type``, ids, ``cache_control``) and otherwise passed through.

:func:`schema_error` validates a parsed body and returns the API's one-line message for the first
problem (``messages.0.content.0.image.source: Field required``), or ``None``. Rules that depend on
the model, the API version or the whole conversation live in :mod:`clawback.emulator.params`;
the content blocks in :mod:`clawback.emulator.schema_blocks`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import AllowInfNan, Discriminator, Field, Strict, Tag, TypeAdapter, ValidationError

from clawback.emulator.schema_blocks import (
    CC,
    Bool,
    Content,
    Obj,
    OpenModel,
    Str,
    StrictModel,
    SystemContent,
)

__all__ = ["COUNT_FIELDS", "MESSAGE_FIELDS", "fits_simply", "schema_error"]


class Message(StrictModel):
    role: Literal["user", "assistant", "system"]
    content: Content
    output_config: OutputConfig | None = None  # per-message effort (beta)


# Server tools: their type names a family and (usually) a date; new dates appear often.
SERVER_TOOL: Final = re.compile(
    r"^(bash|code_execution|computer|computer_toolset|browser_toolset|memory|text_editor|web_search|"
    r"web_fetch|tool_search_tool_bm25|tool_search_tool_regex|mcp_toolset)(_\d{8})?$"
)
ToolName = Annotated[str, Strict(), Field(pattern=r"^[a-zA-Z0-9_-]{1,128}$")]


class InputSchema(OpenModel):
    type: Literal["object"]
    properties: Obj | None = None
    required: list[Str] | None = None


class CustomTool(StrictModel):
    name: ToolName
    input_schema: InputSchema
    type: Literal["custom"] | None = None
    description: Str | None = None
    cache_control: CC = None
    strict: Bool | None = None
    defer_loading: Bool | None = None
    eager_input_streaming: Bool | None = None
    input_examples: list[Obj] | None = None
    allowed_callers: list[Str] | None = None


class ServerTool(OpenModel):
    type: Annotated[str, Strict(), Field(pattern=SERVER_TOOL.pattern)]
    name: Str | None = None
    cache_control: CC = None


def _tool_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind is None or kind == "custom":
        return "custom"
    return "server" if isinstance(kind, str) and SERVER_TOOL.match(kind) else None


Tool = Annotated[
    Annotated[CustomTool, Tag("custom")] | Annotated[ServerTool, Tag("server")],
    Discriminator(
        _tool_kind,
        custom_error_type="tool_type",
        custom_error_message="Input should be a custom tool (name, input_schema) or a known server tool type",
    ),
]


class ToolChoiceAuto(StrictModel):
    type: Literal["auto"]
    disable_parallel_tool_use: Bool | None = None


class ToolChoiceAny(StrictModel):
    type: Literal["any"]
    disable_parallel_tool_use: Bool | None = None


class ToolChoiceTool(StrictModel):
    type: Literal["tool"]
    name: Str
    disable_parallel_tool_use: Bool | None = None


class ToolChoiceNone(StrictModel):
    type: Literal["none"]


ToolChoice = Annotated[
    ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")
]
Display = Literal["summarized", "omitted"] | None


class ThinkingEnabled(StrictModel):
    type: Literal["enabled"]
    budget_tokens: Annotated[int, Strict(), Field(ge=1024)]
    display: Display = None


class ThinkingDisabled(StrictModel):
    type: Literal["disabled"]


class ThinkingAdaptive(StrictModel):
    type: Literal["adaptive"]
    display: Display = None


class ThinkingBetweenTools(StrictModel):
    type: Literal["between_tools"]


Thinking = Annotated[
    ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive | ThinkingBetweenTools, Field(discriminator="type")
]


class JsonFormat(StrictModel):
    type: Literal["json_schema"]
    schema_: Obj = Field(alias="schema")


class OutputConfig(StrictModel):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: JsonFormat | None = None
    task_budget: Any = None


class Metadata(StrictModel):
    user_id: Str | None = None


class Container(StrictModel):
    id: Str | None = None
    skills: list[Obj] | None = None


class Diagnostics(StrictModel):
    previous_message_id: Str | None = None


Unit = Annotated[float, Strict(), AllowInfNan(False), Field(ge=0, le=1)]


class _Common(StrictModel):
    model: Str
    messages: list[Message]
    system: SystemContent | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    cache_control: CC = None
    speed: Literal["standard", "fast"] | None = None
    # beta parameters, accepted as sent
    context_management: Any = None
    mcp_servers: Any = None


class CountTokensParams(_Common):
    """The body of ``POST /v1/messages/count_tokens``."""


class MessageParams(_Common):
    """The body of ``POST /v1/messages`` (and a batch item's ``params``)."""

    max_tokens: Annotated[int, Strict(), Field(ge=0)]
    stream: Bool | None = None
    stop_sequences: list[Str] | None = None
    metadata: Metadata | None = None
    temperature: Unit | None = None
    top_p: Unit | None = None
    top_k: Annotated[int, Strict(), Field(ge=0)] | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    inference_geo: Str | None = None
    container: Str | Container | None = None
    diagnostics: Diagnostics | None = None
    output_format: Obj | None = None
    fallbacks: Any = None
    # parameters that exist on the Messages API but are refused inside batches (facts §3)
    store: Any = None
    previous_thread_event_id: Any = None
    cache_hint: Any = None
    context_hint: Any = None
    research_preview_2026_02: Any = None


MESSAGE_FIELDS: Final = frozenset(MessageParams.model_fields)
COUNT_FIELDS: Final = frozenset(CountTokensParams.model_fields)
_MESSAGES: Final = TypeAdapter(MessageParams)
_COUNT: Final = TypeAdapter(CountTokensParams)
# labels pydantic adds to a location that the API's own paths do not show
_HIDDEN: Final = frozenset({"str", "list", "custom", "server"})


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in _HIDDEN)


_MODEL_TYPE: Final = re.compile(r"Input should be a valid dictionary or instance of \w+")


def describe(exc: ValidationError) -> str:
    """The API's one-line message for the first problem: ``path: message``."""
    first = exc.errors(include_url=False, include_context=False, include_input=False)[0]
    where = _where(tuple(first["loc"]))
    message = _MODEL_TYPE.sub(
        "Input should be a valid dictionary or object to extract fields from", first["msg"]
    )
    return f"{where}: {message}" if where else message


_SIMPLE_TOP: Final = frozenset({"model", "max_tokens", "messages", "system", "stream"})
_SIMPLE_MESSAGE: Final = frozenset({"role", "content"})


def fits_simply(body: Any, *, counting: bool = False) -> bool:
    """True for the commonest small body — string model, integer ``max_tokens``, plain-text turns —
    which certainly fits the schema; the check is a few dict look-ups instead of building models.

    False means only "not this simple shape": :func:`schema_error` then runs the full validation.
    """
    if type(body) is not dict or not _SIMPLE_TOP.issuperset(body) or type(body.get("model")) is not str:
        return False
    max_tokens = body.get("max_tokens")
    if counting:
        if max_tokens is not None or "stream" in body:
            return False
    elif type(max_tokens) is not int or max_tokens < 0:
        return False
    if "stream" in body and type(body["stream"]) is not bool:
        return False
    if "system" in body and type(body["system"]) is not str:
        return False
    messages = body.get("messages")
    if type(messages) is not list:
        return False
    for message in messages:
        if (
            type(message) is not dict
            or message.keys() != _SIMPLE_MESSAGE
            or type(message["content"]) is not str
            or message["role"] not in ("user", "assistant")
        ):
            return False
    return True


def schema_error(body: Any, *, counting: bool = False) -> str | None:
    """``None`` when ``body`` fits the request schema, else the API's message for the first problem."""
    if fits_simply(body, counting=counting):
        return None
    try:
        (_COUNT if counting else _MESSAGES).validate_python(body)
    except ValidationError as exc:
        return describe(exc)
    return None
