"""The Messages request schema as the API enforces it: pydantic v2 models, one per object kind.

Mirrors the official SDK's request types (``anthropic.types.MessageCreateParams`` and the content
block params): unknown fields are refused (``Extra inputs are not permitted``), content blocks are
a union tagged by ``type`` (an unknown ``type`` names the expected tags), scalars are strict (a
string is not a number, a number is not a string), numbers are finite and in range. Server-tool
definitions and server-tool result blocks, whose dated versions change often, are checked for
their envelope (``type``, ids, ``cache_control``) and otherwise passed through.

:func:`schema_error` validates a parsed body and returns the API's one-line message for the first
problem (``messages.0.content.0.image.source: Field required``), or ``None``. Rules that depend on
the model, the API version or the whole conversation live in :mod:`clawback.emulator.params`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    TypeAdapter,
    ValidationError,
)

__all__ = ["COUNT_FIELDS", "MESSAGE_FIELDS", "fits_simply", "schema_error"]

Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Num = Annotated[float, Strict(), AllowInfNan(False)]
Obj = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CacheControl(_Strict):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


CC = CacheControl | None


class CitationsConfig(_Strict):
    enabled: Bool


def _str_or_list(value: Any) -> str | None:
    if isinstance(value, str):
        return "str"
    return "list" if isinstance(value, list) else None


_CONTENT: Final = Discriminator(
    _str_or_list,
    custom_error_type="content_type",
    custom_error_message="Input should be a valid string or a list of content blocks",
)
"""Every ``content`` field is a string or a list of blocks: errors come from the branch given."""


class TextBlock(_Strict):
    type: Literal["text"]
    text: Str
    cache_control: CC = None
    citations: list[Obj] | None = None


class Base64Image(_Strict):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: Str


class UrlSource(_Strict):
    type: Literal["url"]
    url: Str


class FileSource(_Strict):
    type: Literal["file"]
    file_id: Str


class ImageTransformations(_Strict):
    oversized_image: Literal["downsize", "error"] | None = None


class ImageBlock(_Strict):
    type: Literal["image"]
    source: Annotated[Base64Image | UrlSource | FileSource, Field(discriminator="type")]
    cache_control: CC = None
    transformations: ImageTransformations | None = None


class Base64Pdf(_Strict):
    type: Literal["base64"]
    media_type: Literal["application/pdf"]
    data: Str


class PlainTextSource(_Strict):
    type: Literal["text"]
    media_type: Literal["text/plain"]
    data: Str


class ContentSource(_Strict):
    type: Literal["content"]
    content: Str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]]


class DocumentBlock(_Strict):
    type: Literal["document"]
    source: Annotated[
        Base64Pdf | PlainTextSource | ContentSource | UrlSource | FileSource, Field(discriminator="type")
    ]
    cache_control: CC = None
    citations: CitationsConfig | None = None
    context: Str | None = None
    title: Str | None = None


class SearchResultBlock(_Strict):
    type: Literal["search_result"]
    content: list[TextBlock]
    source: Str
    title: Str
    cache_control: CC = None
    citations: CitationsConfig | None = None


class ThinkingBlock(_Strict):
    type: Literal["thinking"]
    thinking: Str
    signature: Str


class RedactedThinkingBlock(_Strict):
    type: Literal["redacted_thinking"]
    data: Str


ToolUseId = Annotated[str, Strict(), Field(pattern=r"^[a-zA-Z0-9_-]+$")]


class ToolUseBlock(_Strict):
    type: Literal["tool_use"]
    id: ToolUseId
    name: Str
    input: Obj
    cache_control: CC = None
    caller: Obj | None = None
    toolset_name: Str | None = None


class ToolReferenceBlock(_Strict):
    type: Literal["tool_reference"]
    tool_name: Str
    cache_control: CC = None


class BrowserStateBlock(_Open):
    type: Literal["browser_state"]
    tabs: list[Obj]


ResultContent = Annotated[
    TextBlock | ImageBlock | SearchResultBlock | DocumentBlock | ToolReferenceBlock | BrowserStateBlock,
    Field(discriminator="type"),
]


ResultContents = Annotated[
    Annotated[str, Strict(), Tag("str")] | Annotated[list[ResultContent], Tag("list")], _CONTENT
]


class ToolResultBlock(_Strict):
    type: Literal["tool_result"]
    tool_use_id: Str
    content: ResultContents | None = None
    is_error: Bool | None = None
    cache_control: CC = None
    toolset_name: Str | None = None


class ServerToolUseBlock(_Strict):
    type: Literal["server_tool_use"]
    id: Str
    name: Str
    input: Obj
    cache_control: CC = None
    caller: Obj | None = None


class _ServerResult(_Strict):
    tool_use_id: Str
    content: Any
    cache_control: CC = None
    caller: Obj | None = None


class WebSearchResult(_ServerResult):
    type: Literal["web_search_tool_result"]


class WebFetchResult(_ServerResult):
    type: Literal["web_fetch_tool_result"]


class CodeExecutionResult(_ServerResult):
    type: Literal["code_execution_tool_result"]


class BashResult(_ServerResult):
    type: Literal["bash_code_execution_tool_result"]


class TextEditorResult(_ServerResult):
    type: Literal["text_editor_code_execution_tool_result"]


class ToolSearchResult(_ServerResult):
    type: Literal["tool_search_tool_result"]


class McpToolResult(_ServerResult):
    type: Literal["mcp_tool_result"]
    is_error: Bool | None = None


class McpToolUse(_Strict):
    type: Literal["mcp_tool_use"]
    id: Str
    name: Str
    server_name: Str
    input: Obj
    cache_control: CC = None


class ContainerUploadBlock(_Strict):
    type: Literal["container_upload"]
    file_id: Str
    cache_control: CC = None


class CompactionBlock(_Open):
    type: Literal["compaction"]


Block = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | SearchResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ToolUseBlock
    | ToolResultBlock
    | ServerToolUseBlock
    | WebSearchResult
    | WebFetchResult
    | CodeExecutionResult
    | BashResult
    | TextEditorResult
    | ToolSearchResult
    | McpToolUse
    | McpToolResult
    | ContainerUploadBlock
    | CompactionBlock,
    Field(discriminator="type"),
]


Content = Annotated[Annotated[str, Strict(), Tag("str")] | Annotated[list[Block], Tag("list")], _CONTENT]
SystemContent = Annotated[
    Annotated[str, Strict(), Tag("str")] | Annotated[list[TextBlock], Tag("list")], _CONTENT
]


class Message(_Strict):
    role: Literal["user", "assistant", "system"]
    content: Content
    output_config: OutputConfig | None = None  # per-message effort (beta)


# Server tools: their type names a family and (usually) a date; new dates appear often.
SERVER_TOOL: Final = re.compile(
    r"^(bash|code_execution|computer|computer_toolset|browser_toolset|memory|text_editor|web_search|"
    r"web_fetch|tool_search_tool_bm25|tool_search_tool_regex|mcp_toolset)(_\d{8})?$"
)
ToolName = Annotated[str, Strict(), Field(pattern=r"^[a-zA-Z0-9_-]{1,128}$")]


class InputSchema(_Open):
    type: Literal["object"]
    properties: Obj | None = None
    required: list[Str] | None = None


class CustomTool(_Strict):
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


class ServerTool(_Open):
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


class ToolChoiceAuto(_Strict):
    type: Literal["auto"]
    disable_parallel_tool_use: Bool | None = None


class ToolChoiceAny(_Strict):
    type: Literal["any"]
    disable_parallel_tool_use: Bool | None = None


class ToolChoiceTool(_Strict):
    type: Literal["tool"]
    name: Str
    disable_parallel_tool_use: Bool | None = None


class ToolChoiceNone(_Strict):
    type: Literal["none"]


ToolChoice = Annotated[
    ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")
]
Display = Literal["summarized", "omitted"] | None


class ThinkingEnabled(_Strict):
    type: Literal["enabled"]
    budget_tokens: Annotated[int, Strict(), Field(ge=1024)]
    display: Display = None


class ThinkingDisabled(_Strict):
    type: Literal["disabled"]


class ThinkingAdaptive(_Strict):
    type: Literal["adaptive"]
    display: Display = None


class ThinkingBetweenTools(_Strict):
    type: Literal["between_tools"]


Thinking = Annotated[
    ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive | ThinkingBetweenTools, Field(discriminator="type")
]


class JsonFormat(_Strict):
    type: Literal["json_schema"]
    schema_: Obj = Field(alias="schema")


class OutputConfig(_Strict):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: JsonFormat | None = None
    task_budget: Any = None


class Metadata(_Strict):
    user_id: Str | None = None


class Container(_Strict):
    id: Str | None = None
    skills: list[Obj] | None = None


class Diagnostics(_Strict):
    previous_message_id: Str | None = None


Unit = Annotated[float, Strict(), AllowInfNan(False), Field(ge=0, le=1)]


class _Common(_Strict):
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
