"""Where each shape position lives in a Messages request body (pure).

:func:`clawback.shapes.request_shape` numbers a request's blocks tools → system → messages,
reading a string ``system`` or message ``content`` as one text block and skipping entries that
are not objects. :func:`body_blocks` walks a body in exactly that order, so position ``p`` of a
shape is item ``p`` here, with the path needed to change it: the planner's marks become
``cache_control`` on ``tools[i]``, ``system[j]`` or ``messages[m].content[j]``, and the linter
and the volatile-content detectors read the text of the same blocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from clawback.shapes import Level

__all__ = ["BodyBlock", "block_text", "body_blocks"]


@dataclass(frozen=True, slots=True)
class BodyBlock:
    """One block of a body: its shape position, where it sits, and the block as the API reads it."""

    position: int
    level: Level
    block: Mapping[str, Any]
    item: int
    """Index in the ``tools`` list, the ``system`` list or the message's content list."""
    message: int | None = None
    """Index in ``messages`` for a message block."""
    as_string: bool = False
    """The container holds a plain string (``system`` or ``content``) standing for this one block."""


def _content(value: Any) -> tuple[list[tuple[int, Mapping[str, Any]]], bool]:
    if value is None:
        return [], False
    if isinstance(value, str):
        return [(0, {"type": "text", "text": value})], True
    if type(value) is not list and isinstance(value, Mapping):  # a list first: no ABC check
        return [(0, value)], False
    out: list[tuple[int, Mapping[str, Any]]] = []
    for j, item in enumerate(value):
        out.append(
            (
                j,
                item
                if type(item) is dict or isinstance(item, Mapping)
                else {"type": "text", "text": str(item)},
            )
        )
    return out, False


def body_blocks(body: Mapping[str, Any]) -> Iterator[BodyBlock]:
    """Every block of ``body`` in shape order, numbered as :func:`request_shape` numbers them."""
    position = 0
    for i, tool in enumerate(body.get("tools") or ()):
        if isinstance(tool, Mapping):
            yield BodyBlock(position, "tools", tool, i)
            position += 1
    blocks, as_string = _content(body.get("system"))
    for j, block in blocks:
        yield BodyBlock(position, "system", block, j, as_string=as_string)
        position += 1
    for m, message in enumerate(body.get("messages") or ()):
        if type(message) is not dict and not isinstance(message, Mapping):
            continue
        blocks, as_string = _content(message.get("content"))
        for j, block in blocks:
            yield BodyBlock(position, "messages", block, j, message=m, as_string=as_string)
            position += 1


def block_text(block: Mapping[str, Any]) -> str:
    """The human-written text a block carries (text, tool descriptions, tool results, documents)."""
    parts: list[str] = []
    for key in ("text", "name", "description", "content", "source", "input"):
        value = block.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, Mapping):
            if value.get("type") == "text" and isinstance(value.get("data"), str):
                parts.append(value["data"])
            elif key == "input":
                parts.append(str(value))
        elif isinstance(value, list) and key == "content":
            parts.extend(block_text(v) for v in value if isinstance(v, Mapping))
    return "\n".join(parts)
