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
from clawback.shapes import Ttl

__all__ = ["apply_plan", "cache_control"]


def cache_control(ttl: Ttl) -> dict[str, str]:
    """The ``cache_control`` object for ``ttl`` (5 minutes is the API's default and sent bare)."""
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def _marked(block: Mapping[str, Any], ttl: Ttl) -> dict[str, Any]:
    return {**block, "cache_control": cache_control(ttl)}


def apply_plan(body: Mapping[str, Any], plan: CachePlan) -> dict[str, Any]:
    """A new request body with ``cache_control`` on exactly the plan's new breakpoints."""
    todo = dict(plan.marks)
    out: dict[str, Any] = dict(body)
    if not todo:
        return out
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
