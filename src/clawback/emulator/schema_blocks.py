"""The content blocks of a Messages request, as pydantic v2 models (see :mod:`.schema`).

One model per block kind, tagged by ``type``, mirroring the official SDK's block params; scalars
strict, unknown fields refused. Server-tool result blocks are checked for their envelope only.
Also the shared building blocks: strict scalar types, the strict and open base models,
``cache_control``, and :data:`Content`, the string-or-list shape of every ``content`` field.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Discriminator, Field, Strict, Tag

__all__ = [
    "CC",
    "Block",
    "Bool",
    "CacheControl",
    "Content",
    "Int",
    "Num",
    "Obj",
    "OpenModel",
    "Str",
    "StrictModel",
    "SystemContent",
    "TextBlock",
]


Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Num = Annotated[float, Strict(), AllowInfNan(False)]
Obj = dict[str, Any]


class StrictModel(BaseModel):
    """Unknown fields refused (``Extra inputs are not permitted``)."""

    model_config = ConfigDict(extra="forbid")


class OpenModel(BaseModel):
    """Unknown fields kept (objects whose dated versions change often)."""

    model_config = ConfigDict(extra="allow")


class CacheControl(StrictModel):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


CC = CacheControl | None


class CitationsConfig(StrictModel):
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


class TextBlock(StrictModel):
    type: Literal["text"]
    text: Str
    cache_control: CC = None
    citations: list[Obj] | None = None


class Base64Image(StrictModel):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: Str


class UrlSource(StrictModel):
    type: Literal["url"]
    url: Str


class FileSource(StrictModel):
    type: Literal["file"]
    file_id: Str


class ImageTransformations(StrictModel):
    oversized_image: Literal["downsize", "error"] | None = None


class ImageBlock(StrictModel):
    type: Literal["image"]
    source: Annotated[Base64Image | UrlSource | FileSource, Field(discriminator="type")]
    cache_control: CC = None
    transformations: ImageTransformations | None = None


class Base64Pdf(StrictModel):
    type: Literal["base64"]
    media_type: Literal["application/pdf"]
    data: Str


class PlainTextSource(StrictModel):
    type: Literal["text"]
    media_type: Literal["text/plain"]
    data: Str


class ContentSource(StrictModel):
    type: Literal["content"]
    content: Str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]]


class DocumentBlock(StrictModel):
    type: Literal["document"]
    source: Annotated[
        Base64Pdf | PlainTextSource | ContentSource | UrlSource | FileSource, Field(discriminator="type")
    ]
    cache_control: CC = None
    citations: CitationsConfig | None = None
    context: Str | None = None
    title: Str | None = None


class SearchResultBlock(StrictModel):
    type: Literal["search_result"]
    content: list[TextBlock]
    source: Str
    title: Str
    cache_control: CC = None
    citations: CitationsConfig | None = None


class ThinkingBlock(StrictModel):
    type: Literal["thinking"]
    thinking: Str
    signature: Str


class RedactedThinkingBlock(StrictModel):
    type: Literal["redacted_thinking"]
    data: Str


ToolUseId = Annotated[str, Strict(), Field(pattern=r"^[a-zA-Z0-9_-]+$")]


class ToolUseBlock(StrictModel):
    type: Literal["tool_use"]
    id: ToolUseId
    name: Str
    input: Obj
    cache_control: CC = None
    caller: Obj | None = None
    toolset_name: Str | None = None


class ToolReferenceBlock(StrictModel):
    type: Literal["tool_reference"]
    tool_name: Str
    cache_control: CC = None


class BrowserStateBlock(OpenModel):
    type: Literal["browser_state"]
    tabs: list[Obj]


ResultContent = Annotated[
    TextBlock | ImageBlock | SearchResultBlock | DocumentBlock | ToolReferenceBlock | BrowserStateBlock,
    Field(discriminator="type"),
]


ResultContents = Annotated[
    Annotated[str, Strict(), Tag("str")] | Annotated[list[ResultContent], Tag("list")], _CONTENT
]


class ToolResultBlock(StrictModel):
    type: Literal["tool_result"]
    tool_use_id: Str
    content: ResultContents | None = None
    is_error: Bool | None = None
    cache_control: CC = None
    toolset_name: Str | None = None


class ServerToolUseBlock(StrictModel):
    type: Literal["server_tool_use"]
    id: Str
    name: Str
    input: Obj
    cache_control: CC = None
    caller: Obj | None = None


class _ServerResult(StrictModel):
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


class McpToolUse(StrictModel):
    type: Literal["mcp_tool_use"]
    id: Str
    name: Str
    server_name: Str
    input: Obj
    cache_control: CC = None


class ContainerUploadBlock(StrictModel):
    type: Literal["container_upload"]
    file_id: Str
    cache_control: CC = None


class CompactionBlock(OpenModel):
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
