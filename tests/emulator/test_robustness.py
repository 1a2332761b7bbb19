"""Every malformed case of issue #15, over raw HTTP: the API's status, error type and message, no 5xx.

Each case is followed by a normal request that must succeed, and no case may reach billing or the
cache (the usage totals and cache entries stay as they were).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from clawback.emulator.config import EmulatorConfig
from clawback.emulator.testing import EmulatorSession, emulator_client
from clawback.shapes import request_shape

from .helpers import HAIKU, OLD_HAIKU, assert_error, body, text, user

V = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-robust-0000", "content-type": "application/json"}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[EmulatorSession, httpx2.Client]]:
    with emulator_client() as emu, httpx2.Client(base_url=emu.base_url, timeout=30) as http:
        yield emu, http


def _deep(levels: int, leaf: str = "1") -> str:
    return "[" * levels + leaf + "]" * levels


def _raw(data: Any, **replace: str) -> bytes:
    text_ = json.dumps(data)
    for marker, literal in replace.items():
        text_ = text_.replace(f'"@{marker}@"', literal, 1)
    return text_.encode()


def _tool(schema: Any) -> dict[str, Any]:
    return {"name": "t", "input_schema": schema}


BLOCK = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "@x@"}
CASES: list[tuple[str, str, bytes, int, str, str]] = [
    (
        "nested 990 deep",
        "/v1/messages",
        _raw(body(metadata="@x@"), x=_deep(990)),
        400,
        "invalid_request_error",
        "nested deeper",
    ),
    (
        "nested 990 deep, count_tokens",
        "/v1/messages/count_tokens",
        _raw({"model": HAIKU, "messages": "@x@"}, x=_deep(990)),
        400,
        "invalid_request_error",
        "nested deeper",
    ),
    (
        "500 levels in input_schema",
        "/v1/messages",
        _raw(body(tools=[_tool({"type": "object", "properties": "@x@"})]), x=_deep(500, "{}")),
        400,
        "invalid_request_error",
        "nested deeper",
    ),
    (
        "500 levels in tool content",
        "/v1/messages/count_tokens",
        _raw({"model": HAIKU, "messages": [user([BLOCK])]}, x=_deep(500, '"a"')),
        400,
        "invalid_request_error",
        "nested deeper",
    ),
    (
        "lone surrogate in text",
        "/v1/messages",
        _raw(body(messages=[user("@x@")]), x='"a\\ud800b"'),
        400,
        "invalid_request_error",
        "surrogate",
    ),
    (
        "lone surrogate in model",
        "/v1/messages",
        _raw(body(model="@x@"), x='"\\udfff"'),
        400,
        "invalid_request_error",
        "surrogate",
    ),
    ("not UTF-8", "/v1/messages", b'{"model": "\xff\xfe"}', 400, "invalid_request_error", "not UTF-8"),
    (
        "UTF-16",
        "/v1/messages",
        json.dumps(body()).encode("utf-16"),
        400,
        "invalid_request_error",
        "not UTF-8",
    ),
    ("NaN", "/v1/messages", _raw(body(temperature="@x@"), x="NaN"), 400, "invalid_request_error", "NaN"),
    (
        "Infinity",
        "/v1/messages",
        _raw(body(temperature="@x@"), x="-Infinity"),
        400,
        "invalid_request_error",
        "Infinity",
    ),
    (
        "1e400",
        "/v1/messages",
        _raw(body(temperature="@x@"), x="1e400"),
        400,
        "invalid_request_error",
        "out of range",
    ),
    (
        "5,000-digit integer",
        "/v1/messages",
        _raw(body(max_tokens="@x@"), x="9" * 5000),
        400,
        "invalid_request_error",
        "5000 digits",
    ),
    (
        "tool_result.content: 5",
        "/v1/messages",
        _raw(body(messages=[user([{**BLOCK, "content": 5}])])),
        400,
        "invalid_request_error",
        "messages.0.content.0.tool_result.content: Input should be a valid string or a list",
    ),
    (
        "unknown top-level field",
        "/v1/messages",
        _raw(body(colour="red")),
        400,
        "invalid_request_error",
        "colour: Extra inputs are not permitted",
    ),
    (
        "unknown block field",
        "/v1/messages",
        _raw(body(messages=[user([{"type": "text", "text": "x", "colour": "red"}])])),
        400,
        "invalid_request_error",
        "messages.0.content.0.text.colour: Extra inputs are not permitted",
    ),
    (
        "empty text block",
        "/v1/messages",
        _raw(body(messages=[user([{"type": "text", "text": ""}])])),
        400,
        "invalid_request_error",
        "messages: text content blocks must be non-empty",
    ),
    (
        "metadata of another type",
        "/v1/messages",
        _raw(body(metadata="me")),
        400,
        "invalid_request_error",
        "metadata: Input should be a valid dictionary",
    ),
    (
        "metadata with an unknown key",
        "/v1/messages",
        _raw(body(metadata={"user": "x"})),
        400,
        "invalid_request_error",
        "metadata.user: Extra inputs",
    ),
    (
        "thinking of another type",
        "/v1/messages",
        _raw(body(thinking=True)),
        400,
        "invalid_request_error",
        "thinking: Input should be a valid dictionary",
    ),
    (
        "thinking of an unknown type",
        "/v1/messages",
        _raw(body(thinking={"type": "deep"})),
        400,
        "invalid_request_error",
        "thinking: Input tag 'deep'",
    ),
    (
        "temperature -1",
        "/v1/messages",
        _raw(body(model=OLD_HAIKU, temperature=-1)),
        400,
        "invalid_request_error",
        "temperature: Input should be greater than or equal to 0",
    ),
    (
        "temperature 1.5",
        "/v1/messages",
        _raw(body(model=OLD_HAIKU, temperature=1.5)),
        400,
        "invalid_request_error",
        "temperature: Input should be less than or equal to 1",
    ),
    (
        "temperature 'x'",
        "/v1/messages",
        _raw(body(model=OLD_HAIKU, temperature="x")),
        400,
        "invalid_request_error",
        "temperature: Input should be a valid number",
    ),
    (
        "content: []",
        "/v1/messages",
        _raw(body(messages=[user([])])),
        400,
        "invalid_request_error",
        "messages.0: all messages must have non-empty content",
    ),
    (
        "unknown block type",
        "/v1/messages",
        _raw(body(messages=[user([{"type": "hologram"}])])),
        400,
        "invalid_request_error",
        "Input tag 'hologram' found using 'type'",
    ),
    (
        "image without source",
        "/v1/messages",
        _raw(body(messages=[user([{"type": "image"}])])),
        400,
        "invalid_request_error",
        "messages.0.content.0.image.source: Field required",
    ),
    (
        "tool_result without tool_use_id",
        "/v1/messages",
        _raw(body(messages=[user([{"type": "tool_result", "content": "x"}])])),
        400,
        "invalid_request_error",
        "messages.0.content.0.tool_result.tool_use_id: Field required",
    ),
    (
        "tool without input_schema",
        "/v1/messages",
        _raw(body(tools=[{"name": "t"}])),
        400,
        "invalid_request_error",
        "tools.0.input_schema: Field required",
    ),
    (
        "sampling on Haiku 5.5",
        "/v1/messages",
        _raw(body(temperature=0.2)),
        400,
        "invalid_request_error",
        "non-default sampling",
    ),
    (
        "top_k on Sonnet 5.5",
        "/v1/messages",
        _raw(body(model="claude-sonnet-5-5", top_k=5)),
        400,
        "invalid_request_error",
        "non-default sampling",
    ),
    (
        "thinking off on Opus 5.5",
        "/v1/messages",
        _raw(body(model="claude-opus-5-5", thinking={"type": "disabled"})),
        400,
        "invalid_request_error",
        "cannot be disabled",
    ),
    (
        "count_tokens with max_tokens",
        "/v1/messages/count_tokens",
        _raw(body()),
        400,
        "invalid_request_error",
        "max_tokens: Extra inputs are not permitted",
    ),
    ("body not an object", "/v1/messages", b"[]", 400, "invalid_request_error", "JSON object"),
    ("truncated body", "/v1/messages", _raw(body())[:-3], 400, "invalid_request_error", "not valid JSON"),
    (
        "unknown model",
        "/v1/messages",
        _raw(body(model="claude-haiku-3-5")),
        404,
        "not_found_error",
        "model: claude-haiku-3-5",
    ),
]


def _counters(emu: EmulatorSession) -> tuple[Any, int]:
    return json.dumps(emu.state.stats.to_json()["usage"]), len(emu.state.engine.store)


@pytest.mark.parametrize(
    ("name", "path", "raw", "status", "kind", "fragment"), CASES, ids=[c[0] for c in CASES]
)
def test_malformed_bodies(
    served: tuple[EmulatorSession, httpx2.Client],
    name: str,
    path: str,
    raw: bytes,
    status: int,
    kind: str,
    fragment: str,
) -> None:
    emu, http = served
    before = _counters(emu)
    response = http.post(path, content=raw, headers=V)
    assert_error(response, status, kind, fragment)
    assert _counters(emu) == before  # neither billed nor cached
    assert http.post("/v1/messages", json=body(), headers=V).status_code == 200


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/v1/models?limit=" + "9" * 5000, "limit"),
        ("/v1/messages/batches?limit=" + "9" * 5000, "limit"),
        ("/v1/models?limit=%C2%B2", "limit"),
        ("/v1/messages/batches?limit=-1", "limit"),
        ("/v1/models?limit=0", "limit"),
    ],
)
def test_bounded_query_integers(
    served: tuple[EmulatorSession, httpx2.Client], path: str, fragment: str
) -> None:
    _, http = served
    assert_error(http.get(path, headers=V), 400, "invalid_request_error", fragment)


@pytest.mark.parametrize(
    ("method", "path", "status", "kind"),
    [
        ("GET", "/v1/models/%ED%A0%80", 404, "not_found_error"),
        ("GET", "/v1/messages/batches/%ED%A0%80", 404, "not_found_error"),
        ("GET", "/v1/messages/batches/%FF/results", 404, "not_found_error"),
        ("POST", "/v1/messages/batches/msgbatch_nope/cancel", 404, "not_found_error"),
        ("GET", "/v2/anything", 404, "not_found_error"),
        ("DELETE", "/v1/messages/batches/%F3%A8%8D%8F%2F", 404, "not_found_error"),
        ("GET", "/v1/models/", 404, "not_found_error"),
        ("PUT", "/v1/messages", 405, "invalid_request_error"),
    ],
)
def test_odd_paths_answer_in_the_error_shape(
    served: tuple[EmulatorSession, httpx2.Client], method: str, path: str, status: int, kind: str
) -> None:
    _, http = served
    assert_error(http.request(method, path, headers=V), status, kind)


def test_a_prompt_longer_than_the_context_window_is_refused_before_billing(
    served: tuple[EmulatorSession, httpx2.Client],
) -> None:
    emu, http = served
    params = body(model=OLD_HAIKU, messages=[user(" ".join(f"w{i % 97}" for i in range(205_000)))])
    tokens = request_shape(params, tokenizer="pre-4.7").total_tokens
    assert tokens > 200_000 and len(json.dumps(params)) > emu.state.offload.threshold  # prepared off the loop
    before = _counters(emu)
    response = http.post("/v1/messages", json=params, headers=V)
    assert_error(
        response, 400, "invalid_request_error", f"prompt is too long: {tokens} tokens > 200000 maximum"
    )
    assert _counters(emu) == before
    counted = http.post(
        "/v1/messages/count_tokens", json={k: v for k, v in params.items() if k != "max_tokens"}, headers=V
    )
    assert_error(
        counted, 400, "invalid_request_error", f"prompt is too long: {tokens} tokens > 200000 maximum"
    )
    assert _counters(emu) == before


def test_an_image_over_5_mb_is_refused(served: tuple[EmulatorSession, httpx2.Client]) -> None:
    _, http = served
    source = {"type": "base64", "media_type": "image/png", "data": "A" * (7 * 1024 * 1024)}
    params = body(messages=[user([{"type": "image", "source": source}, {"type": "text", "text": "what?"}])])
    assert_error(
        http.post("/v1/messages", json=params, headers=V), 400, "invalid_request_error", "image exceeds 5 MB"
    )


def test_batch_items_are_validated_at_creation_and_never_break_the_batch(
    served: tuple[EmulatorSession, httpx2.Client],
) -> None:
    emu, http = served
    requests = [
        {"custom_id": "good", "params": body()},
        {"custom_id": "no-max", "params": {"model": HAIKU, "messages": [user("x")]}},
        {"custom_id": "extra", "params": body(colour="red")},
        {"custom_id": "tool5", "params": body(messages=[user([{**BLOCK, "content": 5}])])},
        {"custom_id": "stream", "params": body(stream=True)},
        {"custom_id": "model", "params": body(model="claude-haiku-3-5")},
        {"custom_id": "long", "params": body(model=OLD_HAIKU, messages=[user(text(205_000)["text"])])},
    ]
    created = http.post("/v1/messages/batches", json={"requests": requests}, headers=V)
    assert created.status_code == 200
    batch_id = created.json()["id"]
    assert http.get("/v1/messages/batches", headers=V).status_code == 200  # the first poll after creation
    emu.advance(10)
    listed = http.get("/v1/messages/batches", headers=V)
    assert listed.status_code == 200 and listed.json()["data"][0]["request_counts"]["errored"] == 6
    results = http.get(f"/v1/messages/batches/{batch_id}/results", headers=V)
    assert results.status_code == 200
    got = {row["custom_id"]: row["result"] for row in map(json.loads, results.text.splitlines())}
    assert got["good"]["type"] == "succeeded"
    expected = {
        "no-max": ("invalid_request_error", "max_tokens: Field required"),
        "extra": ("invalid_request_error", "colour: Extra inputs are not permitted"),
        "tool5": ("invalid_request_error", "tool_result.content: Input should be a valid string or a list"),
        "stream": ("invalid_request_error", "stream"),
        "model": ("not_found_error", "model: claude-haiku-3-5"),
        "long": ("invalid_request_error", "prompt is too long"),
    }
    for custom_id, (kind, fragment) in expected.items():
        error = got[custom_id]["error"]["error"]
        assert got[custom_id]["type"] == "errored" and error["type"] == kind and fragment in error["message"]


@pytest.mark.parametrize(
    "poison",
    [_deep(990), '"\\ud800"', "NaN", "9" * 5000],
    ids=["deep", "surrogate", "nan", "digits"],
)
def test_a_batch_whose_json_is_poisoned_is_refused_whole(
    served: tuple[EmulatorSession, httpx2.Client], poison: str
) -> None:
    emu, http = served
    raw = _raw(
        {
            "requests": [
                {"custom_id": "a", "params": body()},
                {"custom_id": "b", "params": body(metadata="@x@")},
            ]
        },
        x=poison,
    )
    before = len(emu.state.batches)
    assert_error(
        http.post("/v1/messages/batches", content=raw, headers=V),
        400,
        "invalid_request_error",
        "not valid JSON",
    )
    assert len(emu.state.batches) == before
    assert http.get("/v1/messages/batches", headers=V).status_code == 200


def test_the_sdk_sees_the_api_errors() -> None:
    with emulator_client(EmulatorConfig()) as emu:
        with pytest.raises(anthropic.BadRequestError) as info:
            emu.client.messages.create(**body(), extra_body={"colour": "red"})
        assert_error(info.value, 400, "invalid_request_error", "colour: Extra inputs are not permitted")
        with pytest.raises(anthropic.BadRequestError):
            emu.client.messages.count_tokens(model=HAIKU, messages=[user([{"type": "text", "text": ""}])])
        assert emu.client.messages.create(**body()).type == "message"


@pytest.mark.parametrize("kilobytes", [100, 300])
def test_bodies_of_every_size_band_are_served(
    served: tuple[EmulatorSession, httpx2.Client], kilobytes: int
) -> None:
    _, http = served  # under 64 KiB joined, 64-256 KiB buffered inline, 256 KiB and up in the worker
    params = body(messages=[user(text(kilobytes * 1024 // 3)["text"])])
    response = http.post("/v1/messages", json=params, headers=V)
    assert response.status_code == 200 and response.json()["usage"]["input_tokens"] > 0


def test_what_claude_code_sends_is_accepted(served: tuple[EmulatorSession, httpx2.Client]) -> None:
    _, http = served  # mid-conversation system messages and per-message effort, as Claude Code sends them
    turns = [
        user("hi"),
        {"role": "system", "content": "be brief", "output_config": {"effort": "low"}},
        user([{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]),
    ]
    response = http.post("/v1/messages", json=body(messages=turns, metadata={"user_id": "u"}), headers=V)
    assert response.status_code == 200
    refused = http.post("/v1/messages", json=body(model="claude-sonnet-5", messages=turns), headers=V)
    assert_error(
        refused, 400, "invalid_request_error", "messages.1.role: 'system' messages are not supported"
    )
