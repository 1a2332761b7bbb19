"""Hypothesis strategies for the emulator's routes, derived from its request schema, and the oracle.

:func:`body_strategy` walks the JSON Schema of :class:`~clawback.emulator.schema.MessageParams`
(or ``CountTokensParams``) and draws bodies that fit it; :func:`malformed` applies one mutation
that no API accepts (a required field dropped, an unknown field, NaN, JSON nested past the bound,
a lone surrogate, bytes that are not UTF-8, UTF-16, a 5,000-digit number, an empty text block,
``content: []``, truncation). :func:`request_strategy` mixes them over every route — messages,
count_tokens, batch creation (good and poisoned items), batch poll/list/results/cancel/delete
and models — as ``Probe`` values; :func:`check` is the oracle. Used by ``test_fuzz.py`` (a bounded
run) and by ``benchmarks/emulator_fuzz.py`` (thousands of requests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from clawback.emulator.schema import CountTokensParams, MessageParams

__all__ = ["API_ERROR_TYPES", "HEADERS", "Probe", "body_strategy", "check", "malformed", "request_strategy"]

HEADERS = {
    "anthropic-version": "2023-06-01",
    "x-api-key": "sk-ant-fuzz-0000",
    "content-type": "application/json",
}
API_ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "overloaded_error",
    }
)
MODELS = [
    "claude-haiku-5-5",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-6",
    "claude-sonnet-5-5",
    "claude-haiku-3-5",
]
_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_JSON = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@dataclass(frozen=True)
class Probe:
    """One request to send, and whether its body is certainly refused (4xx) by the API."""

    method: str
    path: str
    body: bytes | None = None
    invalid: bool = False
    note: str = ""


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _from_schema(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    schema = _resolve(schema, defs)
    if schema.get("title") == "Messages":  # an empty list is refused before anything interesting
        return st.lists(_from_schema(schema["items"], defs, depth + 1), min_size=1, max_size=2)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if depth < 5 or _resolve(s, defs).get("type") != "array"]
            return st.one_of([_from_schema(s, defs, depth) for s in options or schema[key][:1]])
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        props = schema["properties"]
        required = {
            k: _from_schema(v, defs, depth + 1) for k, v in props.items() if k in schema.get("required", ())
        }
        optional = (
            {}
            if depth > 4
            else {k: _from_schema(v, defs, depth + 1) for k, v in props.items() if k not in required}
        )
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "object":
        return st.dictionaries(st.text(max_size=5), _LEAF, max_size=2)
    if kind == "array":
        return st.lists(
            _from_schema(schema.get("items", {}), defs, depth + 1), max_size=2 if depth < 4 else 1
        )
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) < 64)
        return st.text(min_size=schema.get("minLength", 0), max_size=12)
    if kind == "integer":
        return st.integers(schema.get("minimum", -5), schema.get("maximum", 3000))
    if kind == "number":
        return st.floats(schema.get("minimum", -2.0), schema.get("maximum", 2.0), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return _JSON


def body_strategy(*, counting: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies that fit the request schema, with realistic models and (often) a plain user turn."""
    model = CountTokensParams if counting else MessageParams
    schema = model.model_json_schema()
    raw = _from_schema(schema, schema.get("$defs", {}), 0)
    plain = st.fixed_dictionaries(
        {
            "messages": st.lists(
                st.fixed_dictionaries({"role": st.just("user"), "content": st.text(min_size=1, max_size=40)}),
                min_size=1,
                max_size=2,
            )
        }
    )

    def tidy(pair: tuple[dict[str, Any], dict[str, Any], str, int, bool]) -> dict[str, Any]:
        body, simple, name, max_tokens, use_plain = pair
        body = {**body, "model": name}
        if not counting:
            body["max_tokens"] = max_tokens
        if use_plain:
            body = {k: v for k, v in body.items() if k in ("model", "max_tokens", "system", "metadata")}
            body.update(simple)
        return body

    return st.tuples(raw, plain, st.sampled_from(MODELS), st.integers(0, 64), st.booleans()).map(tidy)


def _deep(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


_BODY_LEVEL = (
    "nan",
    "infinity",
    "huge_float",
    "deep",
    "surrogate",
    "surrogate_model",
    "not_utf8",
    "utf16",
    "digits",
    "truncated",
    "not_object",
)
"""Mutations that break the JSON of the whole body: inside a batch they refuse the whole batch."""
_MUTATIONS = (
    *_BODY_LEVEL,
    "drop_model",
    "drop_messages",
    "unknown_field",
    "unknown_block_field",
    "empty_text",
    "empty_content",
    "tool_result_content",
    "no_source_image",
    "temperature_text",
)


def malformed(body: dict[str, Any], mutation: str) -> bytes:
    """``body`` changed by ``mutation`` into bytes the API certainly refuses."""
    b = dict(body)
    if mutation == "drop_model":
        b.pop("model", None)
    elif mutation == "drop_messages":
        b.pop("messages", None)
    elif mutation == "unknown_field":
        b["frobnicate"] = 1
    elif mutation == "unknown_block_field":
        b["messages"] = [{"role": "user", "content": [{"type": "text", "text": "x", "colour": "red"}]}]
    elif mutation in ("nan", "infinity", "huge_float"):
        literal = {"nan": "NaN", "infinity": "Infinity", "huge_float": "1e400"}[mutation]
        return json.dumps({**b, "temperature": 0.5}).replace("0.5", literal, 1).encode()
    elif mutation == "deep":
        text = json.dumps({**b, "metadata": "@@"})
        return text.replace('"@@"', _deep(990), 1).encode()
    elif mutation in ("surrogate", "surrogate_model"):
        where = "model" if mutation == "surrogate_model" else "metadata"
        return json.dumps({**b, where: "@@"}).replace('"@@"', '"x\\ud800y"', 1).encode()
    elif mutation == "not_utf8":
        return json.dumps(b).encode()[:-1] + b'\xff"}'
    elif mutation == "utf16":
        return json.dumps(b).encode("utf-16")
    elif mutation == "digits":
        return json.dumps({**b, "max_tokens": 7}).replace(": 7", ": " + "9" * 5000, 1).encode()
    elif mutation == "empty_text":
        b["messages"] = [{"role": "user", "content": [{"type": "text", "text": ""}]}]
    elif mutation == "empty_content":
        b["messages"] = [{"role": "user", "content": []}]
    elif mutation == "truncated":
        return json.dumps(b).encode()[:-2]
    elif mutation == "not_object":
        return b"[1, 2, 3]"
    elif mutation == "tool_result_content":
        block = {"type": "tool_result", "tool_use_id": "toolu_1", "content": 5}
        b["messages"] = [{"role": "user", "content": [block]}]
    elif mutation == "no_source_image":
        b["messages"] = [{"role": "user", "content": [{"type": "image"}]}]
    elif mutation == "temperature_text":
        b["temperature"] = "x"
    return json.dumps(b).encode()


_IDS = st.one_of(st.just("msgbatch_missing"), st.text(max_size=20), st.just("\udcff"))
_LIMITS = st.one_of(
    st.just(""), st.integers(-5, 2000).map(str), st.just("9" * 5000), st.just("²"), st.text(max_size=6)
)


def _query(limit: str, after: str | None) -> str:
    from urllib.parse import quote

    out = f"?limit={quote(limit, errors='surrogateescape')}"
    if after is not None:
        out += f"&after_id={quote(after, errors='surrogateescape')}"
    return out


def _batch_body(items: list[tuple[str, dict[str, Any]]]) -> bytes:
    return json.dumps({"requests": [{"custom_id": c, "params": p} for c, p in items]}).encode()


def request_strategy() -> st.SearchStrategy[Probe]:
    """Requests over every route: valid-looking and certainly malformed bodies, odd ids and queries."""
    messages = body_strategy()
    counting = body_strategy(counting=True)
    mutation = st.sampled_from(_MUTATIONS)

    def as_message(pair: tuple[dict[str, Any], str | None, bool]) -> Probe:
        body, how, stream = pair
        if how is None:
            return Probe(
                "POST", "/v1/messages", json.dumps({**body, "stream": stream}).encode(), note="schema"
            )
        return Probe("POST", "/v1/messages", malformed(body, how), invalid=True, note=how)

    def as_count(pair: tuple[dict[str, Any], str | None]) -> Probe:
        body, how = pair
        if how is None:
            return Probe("POST", "/v1/messages/count_tokens", json.dumps(body).encode(), note="schema")
        return Probe("POST", "/v1/messages/count_tokens", malformed(body, how), invalid=True, note=how)

    def as_batch(items: list[tuple[str, dict[str, Any], str | None]]) -> Probe:
        chosen: list[tuple[str, dict[str, Any]]] = []
        for cid, body, how in items:
            if how is None:
                chosen.append((cid, body))
                continue
            try:
                params = json.loads(malformed(body, how))
            except ValueError:
                continue
            if isinstance(params, dict):
                chosen.append((cid, params))  # a poisoned item: the batch is created, the item errors
        return Probe("POST", "/v1/messages/batches", _batch_body(chosen or [("a", {})]), note="batch")

    def as_bad_batch(pair: tuple[dict[str, Any], str]) -> Probe:
        body, how = pair
        raw = _batch_body([("a", {})]).replace(b"{}", malformed(body, how))
        return Probe("POST", "/v1/messages/batches", raw, invalid=True, note=f"batch-{how}")

    custom_id = st.from_regex(r"[a-z0-9_-]{1,10}", fullmatch=True)
    batch_items = st.lists(
        st.tuples(custom_id, messages, st.none() | mutation), min_size=1, max_size=4, unique_by=lambda t: t[0]
    )

    def as_big(pair: tuple[int, str, bool]) -> Probe:
        size, path, bad = pair
        params = {
            "model": MODELS[0],
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "word " * (size // 5)}],
        }
        if path == "/v1/messages/count_tokens":
            del params["max_tokens"]
        if path == "/v1/messages/batches":
            return Probe("POST", path, _batch_body([("big", params)]), note=f"big-{size}")
        raw = malformed(params, "unknown_field") if bad else json.dumps(params).encode()
        return Probe("POST", path, raw, invalid=bad, note=f"big-{size}")

    big = st.tuples(
        st.sampled_from([70_000, 300_000, 2_000_000]),
        st.sampled_from(["/v1/messages", "/v1/messages/count_tokens", "/v1/messages/batches"]),
        st.booleans(),
    )
    return st.one_of(
        st.tuples(messages, st.none() | mutation, st.booleans()).map(as_message),
        st.tuples(counting, st.none() | mutation).map(as_count),
        batch_items.map(as_batch),
        st.tuples(messages, st.sampled_from(_BODY_LEVEL)).map(as_bad_batch),
        st.tuples(st.sampled_from(["", "/results", "/cancel"]), _IDS).map(
            lambda p: Probe(
                "POST" if p[0] == "/cancel" else "GET", f"/v1/messages/batches/{_quote(p[1])}{p[0]}"
            )
        ),
        st.tuples(_LIMITS, st.none() | _IDS).map(lambda p: Probe("GET", "/v1/messages/batches" + _query(*p))),
        st.tuples(_LIMITS, st.none() | _IDS).map(lambda p: Probe("GET", "/v1/models" + _query(*p))),
        _IDS.map(lambda i: Probe("GET", f"/v1/models/{_quote(i)}")),
        _IDS.map(lambda i: Probe("DELETE", f"/v1/messages/batches/{_quote(i)}")),
        big.map(as_big),
    )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="", errors="surrogateescape") or "x"


def check(probe: Probe, status: int, headers: Any, content: bytes) -> str | None:
    """None when the answer is one the API could give; else what is wrong."""
    if status >= 500:
        return f"{status} on {probe.method} {probe.path} ({probe.note})"
    if "request-id" not in headers:
        return f"no request-id header on {probe.method} {probe.path}"
    if status >= 400:
        try:
            data = json.loads(content)
        except ValueError:
            return f"{status} body is not JSON on {probe.method} {probe.path}"
        if set(data) != {"type", "error", "request_id"} or data["error"].get("type") not in API_ERROR_TYPES:
            return f"{status} without the API's error shape: {data!r:.200}"
        if data["request_id"] != headers["request-id"]:
            return "request_id in the body differs from the request-id header"
    elif probe.invalid:
        return f"{status} for a malformed body ({probe.note}) on {probe.path}"
    return None
