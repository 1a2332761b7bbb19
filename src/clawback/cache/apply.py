"""Write a cache plan into a Messages request body (pure; the caller's body is never changed).

Each planned position becomes ``cache_control`` on ``tools[i]``, ``system[j]`` or
``messages[m].content[j]`` (positions as :mod:`clawback.cache.blocks` numbers them). Only the
containers on the way to a changed block are copied; everything else is shared with the original.
A plain-string ``system`` or message ``content`` becomes a one-block list only when a breakpoint
lands on it. Breakpoints already in the body are left as they are: a plan carries them unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clawback.cache.blocks import body_blocks
from clawback.cache.plan import CachePlan
from clawback.errors import CacheRuleError
from clawback.shapes import RequestShape, Ttl

__all__ = ["apply_plan", "cache_control"]


def cache_control(ttl: Ttl) -> dict[str, str]:
    """The ``cache_control`` object for ``ttl`` (5 minutes is the API's default and sent bare)."""
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def _marked(block: Mapping[str, Any], ttl: Ttl) -> dict[str, Any]:
    return {**block, "cache_control": cache_control(ttl)}


def apply_plan(body: Mapping[str, Any], plan: CachePlan, shape: RequestShape | None = None) -> dict[str, Any]:
    """A new request body with ``cache_control`` on exactly the plan's new breakpoints.

    ``shape``, when given, must be ``request_shape(body)``: its blocks say where each position is,
    so the body is not walked (the same body comes out).
    """
    todo = dict(plan.marks)
    if not todo:
        return dict(body)
    if shape is not None:
        found = _apply_at(body, todo, shape)
        if found is not None:
            return found
    out: dict[str, Any] = dict(body)
    tools = list(body["tools"]) if isinstance(body.get("tools"), list) else None
    system: Any = body.get("system")
    messages = list(body["messages"]) if isinstance(body.get("messages"), list) else None
    new_system: list[Any] | None = None
    new_content: dict[int, list[Any]] = {}
    for item in body_blocks(body):
        if not todo:
            break
        ttl = todo.pop(item.position, None)
        control = item.block.get("cache_control")
        if ttl is None or (control is not None and isinstance(control, Mapping)):
            continue
        if item.level == "tools" and tools is not None:
            tools[item.item] = _marked(item.block, ttl)
        elif item.level == "system":
            if new_system is None:
                new_system = [item.block] if item.as_string or isinstance(system, Mapping) else list(system)
            new_system[item.item] = _marked(item.block, ttl)
        elif item.message is not None and messages is not None:
            content = new_content.get(item.message)
            if content is None:
                raw = messages[item.message].get("content")
                content = [item.block] if item.as_string or isinstance(raw, Mapping) else list(raw)
                new_content[item.message] = content
            content[item.item] = _marked(item.block, ttl)
    if todo:
        raise CacheRuleError(f"plan has breakpoints at positions {sorted(todo)} that this body does not have")
    if tools is not None and "tools" in body:
        out["tools"] = tools
    if new_system is not None:
        out["system"] = new_system
    if messages is not None and new_content:
        for index, content in new_content.items():
            messages[index] = {**messages[index], "content": content}
        out["messages"] = messages
    return out


def _apply_at(
    body: Mapping[str, Any], marks: Mapping[int, Ttl], shape: RequestShape
) -> dict[str, Any] | None:
    """:func:`apply_plan` for plain dict bodies, finding each position through the body's shape; None
    for anything unusual (the general path then walks the body)."""
    blocks = shape.blocks
    tools = body.get("tools")
    system = body.get("system")
    messages = body.get("messages")
    if (
        type(body) is not dict
        or (tools is not None and (type(tools) is not list or any(type(t) is not dict for t in tools)))
        or (system is not None and type(system) is not str and type(system) is not list)
        or (messages is not None and type(messages) is not list)
    ):
        return None
    out = dict(body)
    new_tools: list[Any] | None = None
    new_system: list[Any] | None = None
    new_content: dict[int, list[Any]] = {}
    for position, ttl in marks.items():
        if position >= len(blocks):
            return None
        b = blocks[position]
        if b.level == "tools":
            assert tools is not None
            block = tools[b.index]
        elif b.level == "system":
            if type(system) is str:
                if b.index != 0:
                    return None
                block = {"type": "text", "text": system}
            else:
                block = system[b.index]  # type: ignore[index]
        else:
            if messages is None or b.message_index is None:
                return None
            message = messages[b.message_index]
            if type(message) is not dict:
                return None
            content = message.get("content")
            if type(content) is str:
                if b.index != 0:
                    return None
                block = {"type": "text", "text": content}
            elif type(content) is list:
                block = content[b.index]
            else:
                return None
        if type(block) is not dict:
            return None
        control = block.get("cache_control")
        if control is not None and isinstance(control, Mapping):
            continue
        if b.level == "tools":
            if new_tools is None:
                new_tools = list(tools)  # type: ignore[arg-type]
            new_tools[b.index] = _marked(block, ttl)
        elif b.level == "system":
            if new_system is None:
                new_system = [block] if type(system) is str else list(system)  # type: ignore[arg-type]
            new_system[b.index] = _marked(block, ttl)
        else:
            assert b.message_index is not None and messages is not None
            listed = new_content.get(b.message_index)
            if listed is None:
                raw = messages[b.message_index]["content"]
                listed = new_content[b.message_index] = [block] if type(raw) is str else list(raw)
            listed[b.index] = _marked(block, ttl)
    if tools is not None:
        out["tools"] = new_tools if new_tools is not None else list(tools)
    if new_system is not None:
        out["system"] = new_system
    if new_content:
        assert messages is not None
        copied = list(messages)
        for index, content in new_content.items():
            copied[index] = {**copied[index], "content": content}
        out["messages"] = copied
    return out
