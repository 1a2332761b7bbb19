"""Which parameter changes between two requests invalidate which cache levels (pure).

The cache matches a prefix only if everything folded into it is identical. Per the prompt-caching
documentation (``../shared/docs/anthropic-api-facts.md`` §2): tool definitions invalidate tools,
system and messages; toggling web search or citations, or changing ``speed``, invalidates system
and messages; ``tool_choice`` (and ``disable_parallel_tool_use``), adding or removing images,
thinking settings and ``output_config.effort`` invalidate messages (thinking and effort also
tools and system on models that render them ahead of those); a new ``output_config.format``
invalidates the cached prompt; another model has a cache of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from clawback.cache.blocks import body_blocks
from clawback.shapes import RequestShape

__all__ = ["common_prefix", "parameter_changes"]

_DEFAULT_EFFORT = {"claude-opus-5-5": "medium", "claude-haiku-5-5": "medium"}
_ALL = "tools, system and messages"
_SYSTEM = "system and messages"
_MESSAGES = "messages"


def _plain(value: Any) -> str:
    def strip(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: strip(x) for k, x in v.items() if k != "cache_control"}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(value), sort_keys=True, ensure_ascii=False, default=str)


def _web_and_citations(body: Mapping[str, Any]) -> tuple[bool, bool]:
    tools = body.get("tools") or ()
    web = any(isinstance(t, Mapping) and "web_search" in str(t.get("type", "")) for t in tools)
    citations = any(
        isinstance(item.block.get("citations"), Mapping) and bool(item.block["citations"].get("enabled"))
        for item in body_blocks(body)
    )
    return web, citations


def _images(body: Mapping[str, Any]) -> bool:
    for item in body_blocks(body):
        if item.level != "messages":
            continue
        if item.block.get("type") == "image" or "'type': 'image'" in str(item.block.get("content", "")):
            return True
    return False


def _output(body: Mapping[str, Any], key: str) -> Any:
    config = body.get("output_config")
    return config.get(key) if isinstance(config, Mapping) else None


def _effort(body: Mapping[str, Any]) -> Any:
    effort = _output(body, "effort")
    return None if effort == _DEFAULT_EFFORT.get(str(body.get("model", "")), "high") else effort


def parameter_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(what changed, which levels it invalidates) for each cache-relevant difference."""
    checks: list[tuple[str, str, Callable[[Mapping[str, Any]], Any]]] = [
        ("model", "the whole cache (each model has its own)", lambda b: b.get("model")),
        ("tool definitions", _ALL, lambda b: _plain(b.get("tools") or [])),
        ("web search / citations", _SYSTEM, _web_and_citations),
        ("speed", _SYSTEM, lambda b: b.get("speed") or "standard"),
        ("system prompt", _SYSTEM, lambda b: _plain(b.get("system"))),
        ("tool_choice", _MESSAGES, lambda b: _plain(b.get("tool_choice"))),
        ("images (added or removed)", _MESSAGES, _images),
        (
            "thinking",
            f"{_MESSAGES} (and tools/system on models that render it first)",
            lambda b: _plain(b.get("thinking")),
        ),
        ("output_config.effort", f"{_MESSAGES} (and tools/system on models that render it first)", _effort),
        ("output_config.format", "the cached prompt", lambda b: _plain(_output(b, "format"))),
    ]
    return [(name, levels) for name, levels, key in checks if key(before) != key(after)]


def common_prefix(before: RequestShape, after: RequestShape) -> int:
    """How many leading blocks the two shapes share (equal prefix hashes)."""
    common = 0
    for old, new in zip(before.blocks, after.blocks, strict=False):
        if old.prefix_hash != new.prefix_hash:
            break
        common += 1
    return common
