"""Answers shaped like the request asks: JSON for ``output_config.format``, a tool call when forced.

The echo responder answers free text with the prompt itself. A request that constrains its output
gets an answer that honours the constraint, as the real API guarantees, so code that parses it
(``client.messages.parse``, a tool loop) can be tested offline:

* ``output_config.format = {"type": "json_schema", "schema": …}`` → one text block holding a JSON
  document valid against the schema: :func:`schema_instance`, the smallest deterministic instance
  (required properties, ``enum[0]``/``const``/``default`` where given, ``minItems`` items, bounds
  respected — also those the official SDK moves into a ``description`` as ``{minimum: 1}`` —,
  local ``$ref`` followed);
* ``tool_choice = {"type": "tool", "name": N}`` or ``{"type": "any"}`` → a ``tool_use`` block for
  ``N`` (or the first tool) whose input is an instance of the tool's ``input_schema``.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["constrained_reply", "schema_instance"]

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
}
_MAX_DEPTH = 32
# The official SDK moves constraints strict mode does not take into the description, as
# "{minimum: 1, maximum: 5}" (anthropic.lib._parse._transform); a model reads them, so this does too.
_HINTS = re.compile(r"\{([^{}]*)\}\s*$")
_HINT_KEYS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "minItems", "format"}
)


def _hinted(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    description = schema.get("description")
    found = _HINTS.search(description) if isinstance(description, str) else None
    if found is None:
        return schema
    extra: dict[str, Any] = {}
    for pair in found.group(1).split(","):
        key, _, raw = (part.strip() for part in pair.partition(":"))
        if key not in _HINT_KEYS or key in schema or not raw:
            continue
        try:
            extra[key] = json.loads(raw)
        except ValueError:
            extra[key] = raw
    return {**schema, **extra} if extra else schema


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return schema
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _string(schema: Mapping[str, Any]) -> str:
    value = _FORMATS.get(str(schema.get("format")), "")
    minimum = schema.get("minLength")
    if isinstance(minimum, int) and len(value) < minimum:
        value += "x" * (minimum - len(value))
    return value


def _number(schema: Mapping[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    value: int | float = 0
    if isinstance(low, int | float) and not isinstance(low, bool):
        value = low + (1 if "minimum" not in schema else 0)
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(high, int | float) and not isinstance(high, bool) and value > high:
        value = high - (1 if "maximum" not in schema else 0)
    return int(value) if integer else value


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else list(properties)
    out: dict[str, Any] = {}
    for name in names:
        sub = properties.get(name)
        out[name] = _instance(sub if isinstance(sub, Mapping) else {}, root, depth + 1)
    return out


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> list[Any]:
    items = schema.get("items")
    items = items if isinstance(items, Mapping) else {}
    count = schema.get("minItems")
    return [_instance(items, root, depth + 1) for _ in range(count if isinstance(count, int) else 0)]


def _instance(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    schema = _hinted(_resolve(schema, root))
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and isinstance(options[0], Mapping):
            merged = {**schema, **_resolve(options[0], root)}
            merged.pop(key, None)
            return _instance(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, depth)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema)


def schema_instance(schema: Mapping[str, Any]) -> Any:
    """The smallest deterministic JSON value valid against ``schema`` (the usual keywords)."""
    return _instance(schema, schema, 0)


def _forced_tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choice = body.get("tool_choice")
    tools = [t for t in body.get("tools") or () if isinstance(t, Mapping) and isinstance(t.get("name"), str)]
    if not isinstance(choice, Mapping) or not tools:
        return None
    if choice.get("type") == "any":
        return tools[0]
    if choice.get("type") == "tool":
        return next((t for t in tools if t["name"] == choice.get("name")), None)
    return None


def constrained_reply(body: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...] | None:
    """The content a constrained request must get, or None when its output is free text."""
    tool = _forced_tool(body)
    if tool is not None:
        schema = tool.get("input_schema")
        value = schema_instance(schema) if isinstance(schema, Mapping) else {}
        return (
            {"type": "tool_use", "name": tool["name"], "input": value if isinstance(value, dict) else {}},
        )
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, Mapping) else None
    if (
        isinstance(fmt, Mapping)
        and fmt.get("type") == "json_schema"
        and isinstance(fmt.get("schema"), Mapping)
    ):
        text = json.dumps(schema_instance(fmt["schema"]), separators=(",", ":"), ensure_ascii=False)
        return ({"type": "text", "text": text},)
    return None
