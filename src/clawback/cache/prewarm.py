"""Pre-warm requests: the cheapest request that reads or writes one cached prefix (pure).

A keep-alive ping (the client) and a batch warm-up (the runner) both send a request whose only job
is to touch a cache entry. :func:`prewarm_params` sets ``max_tokens`` as low as the API allows:
``0`` (writes or refreshes the cache, generates and bills no output), but ``1`` where the API
refuses ``0`` and the refusing parameter is part of the cached prefix (``output_config.format``, a
forced ``tool_choice``), and the request's own ``max_tokens`` with thinking on, whose budget must
fit under it. :func:`prefix_request` cuts a body down to the prefix that ends at one block, so a
ping does not pay again for the uncached tail (the question) that followed the breakpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clawback.cache.apply import cache_control
from clawback.cache.blocks import BodyBlock, body_blocks
from clawback.errors import CacheRuleError
from clawback.shapes import Ttl

__all__ = ["FILLER_MESSAGE", "prefix_request", "prewarm_params"]

FILLER_MESSAGE: dict[str, Any] = {"role": "user", "content": "."}
"""The user turn after a prefix that ends in tools, system or an assistant turn (a few tokens)."""


def prewarm_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the lowest ``max_tokens`` the API accepts for it (and never streaming)."""
    out = {k: v for k, v in params.items() if k != "stream"}
    thinking = params.get("thinking")
    output_config = params.get("output_config")
    tool_choice = params.get("tool_choice")
    if isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"):
        return out
    forced = isinstance(tool_choice, Mapping) and tool_choice.get("type") in ("any", "tool")
    if forced or (isinstance(output_config, Mapping) and output_config.get("format") is not None):
        return {**out, "max_tokens": 1}
    return {**out, "max_tokens": 0}


def _marked(block: BodyBlock, ttl: Ttl) -> Mapping[str, Any]:
    if isinstance(block.block.get("cache_control"), Mapping):
        return block.block
    return {**block.block, "cache_control": cache_control(ttl)}


def _tools_up_to(body: Mapping[str, Any], target: BodyBlock, ttl: Ttl) -> dict[str, Any]:
    out = dict(body)
    tools = [*list(body["tools"])[: target.item], _marked(target, ttl)]
    out["tools"] = tools
    out.pop("system", None)
    out["messages"] = [FILLER_MESSAGE]
    choice = body.get("tool_choice")
    kept = {t.get("name") for t in tools if isinstance(t, Mapping)}
    if isinstance(choice, Mapping) and choice.get("type") == "tool" and choice.get("name") not in kept:
        out.pop("tool_choice")
    return out


def _system_up_to(body: Mapping[str, Any], target: BodyBlock, ttl: Ttl) -> dict[str, Any]:
    out = dict(body)
    system = body["system"]
    kept = [] if target.as_string or isinstance(system, Mapping) else list(system)[: target.item]
    out["system"] = [*kept, _marked(target, ttl)]
    out["messages"] = [FILLER_MESSAGE]
    return out


def _messages_up_to(body: Mapping[str, Any], target: BodyBlock, ttl: Ttl) -> dict[str, Any] | None:
    assert target.message is not None
    messages = list(body["messages"])[: target.message + 1]
    last = dict(messages[-1])
    raw = last.get("content")
    kept = [] if target.as_string or not isinstance(raw, list) else raw[: target.item]
    content = [*kept, _marked(target, ttl)]
    last["content"] = content
    messages[-1] = last
    if last.get("role") != "user":
        if any(isinstance(b, Mapping) and b.get("type") == "tool_use" for b in content):
            return None  # a tool_use turn must be answered by its tool_result: no shorter valid request
        messages.append(FILLER_MESSAGE)
    return {**body, "messages": messages}


def prefix_request(body: Mapping[str, Any], position: int, ttl: Ttl) -> dict[str, Any]:
    """``body`` cut after block ``position``, which carries a breakpoint (``ttl`` unless it has one).

    Everything the cached prefix depends on (model, tools, system, thinking, tool choice, earlier
    breakpoints) stays; the blocks after ``position`` go, top-level automatic caching goes (it would
    write a new entry on the filler turn), and a user turn of one character follows when the prefix
    does not end in one. When no shorter valid request exists (the prefix ends on an assistant
    ``tool_use`` turn) the whole body is returned, its automatic caching included.
    """
    target = next((b for b in body_blocks(body) if b.position == position), None)
    if target is None:
        raise CacheRuleError(f"the request has no block at position {position}")
    trimmed = {k: v for k, v in body.items() if k != "cache_control"}
    if target.level == "tools":
        return _tools_up_to(trimmed, target, ttl)
    if target.level == "system":
        return _system_up_to(trimmed, target, ttl)
    cut = _messages_up_to(trimmed, target, ttl)
    return dict(body) if cut is None else cut
