"""The small-call fast path keeps the contract: the hot routes dispatched directly (near misses still
through the router), bodies read from ``receive`` whole or in chunks, the 413 past the limit, JSON
answers with their headers, callers remembered only once accepted."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from clawback.emulator import state as state_module
from clawback.emulator.app import _uses_cache, create_app
from clawback.emulator.config import EmulatorConfig, Limits
from clawback.emulator.state import EmulatorState
from clawback.emulator.testing import EmulatorSession, emulator_client
from clawback.emulator.wire import ApiError, new_id

from .helpers import HAIKU, assert_error, body, shape_of, text, user

KEY = "sk-ant-hot-path-0001"
V = {"anthropic-version": "2023-06-01", "x-api-key": KEY, "content-type": "application/json"}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[EmulatorSession, httpx2.Client]]:
    config = EmulatorConfig(auth_keys=(SecretStr(KEY),), limits=Limits(messages_body_bytes=20_000))
    with emulator_client(config, api_key=KEY) as emu, httpx2.Client(base_url=emu.base_url) as http:
        yield emu, http


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_a_body_sent_in_chunks_is_read_whole(served: tuple[EmulatorSession, httpx2.Client]) -> None:
    _, http = served
    raw = json.dumps(body(messages=[user("chunked " * 300)])).encode()
    whole = http.post("/v1/messages", content=raw, headers=V)
    chunked = http.post("/v1/messages", content=_chunks(raw, 97), headers=V)
    assert whole.status_code == chunked.status_code == 200
    assert chunked.json()["usage"] == whole.json()["usage"]
    assert chunked.json()["content"] == whole.json()["content"]


def test_a_chunked_body_past_the_limit_is_413_and_the_server_keeps_serving(
    served: tuple[EmulatorSession, httpx2.Client],
) -> None:
    _, http = served
    raw = json.dumps(body(messages=[user("x" * 30_000)])).encode()
    response = http.post("/v1/messages", content=_chunks(raw, 4096), headers=V)
    assert_error(response, 413, "request_too_large", "20,000 bytes")
    assert http.post("/v1/messages", json=body(), headers=V).status_code == 200


def test_json_answers_carry_their_headers_once(served: tuple[EmulatorSession, httpx2.Client]) -> None:
    emu, _ = served
    raw = emu.client.messages.with_raw_response.create(
        model=HAIKU, max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    headers = raw.http_response.headers
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(raw.http_response.content)
    assert headers["request-id"].startswith("req_") and raw.parse().content
    names = [name.lower() for name, _ in headers.multi_items()]
    assert len(names) == len(set(names))
    assert "anthropic-ratelimit-requests-limit" in names


def test_the_log_keeps_the_path_as_requested(served: tuple[EmulatorSession, httpx2.Client]) -> None:
    emu, http = served
    for sent, logged in [
        ("/v1/models/no%20such%20model", "/v1/models/no such model"),
        ("/v1/models/what%3Fx%23y", "/v1/models/what%3Fx%23y"),  # not cut at a decoded ? or #
    ]:
        assert_error(http.get(sent, headers=V), 404, "not_found_error")
        assert emu.state.log.since()[-1].path == logged


def test_callers_are_remembered_only_once_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    state = EmulatorState(EmulatorConfig(auth_keys=(SecretStr(KEY),)))
    first = state.caller({"x-api-key": KEY})
    assert state.caller({"authorization": f"Bearer {KEY}"}) is first
    for headers in ({"x-api-key": "sk-ant-wrong"}, {}, {"x-api-key": "sk-ant-wrong"}):
        with pytest.raises(ApiError) as info:
            state.caller(headers)
        assert info.value.status == 401
    assert list(state._callers) == [KEY]
    monkeypatch.setattr(state_module, "_CALLERS_KEPT", 3)
    open_state = EmulatorState(EmulatorConfig())
    for i in range(10):
        assert open_state.caller({"x-api-key": f"sk-ant-k{i}"}).key.endswith(f"k{i}")
    assert len(open_state._callers) <= 3


@pytest.mark.parametrize(
    ("method", "path", "status", "kind"),
    [
        ("GET", "/v1/messages", 405, "invalid_request_error"),
        ("POST", "/v1/models", 405, "invalid_request_error"),
        ("POST", "/v1/messages/", 404, "not_found_error"),
        ("POST", "/v1/Messages", 404, "not_found_error"),
    ],
)
def test_near_misses_of_the_direct_routes_go_through_the_router(
    served: tuple[EmulatorSession, httpx2.Client], method: str, path: str, status: int, kind: str
) -> None:
    _, http = served
    assert_error(http.request(method, path, headers=V, json=body()), status, kind)


def test_the_direct_routes_answer_as_the_router_did(served: tuple[EmulatorSession, httpx2.Client]) -> None:
    emu, http = served
    assert http.get("/v1/models", headers=V).json()["data"]
    counted = http.post(
        "/v1/messages/count_tokens", headers=V, json={"model": HAIKU, "messages": [user("hi")]}
    )
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 0
    unauthorised = http.post("/v1/messages", headers={**V, "x-api-key": "sk-ant-nope"}, json=body())
    assert_error(unauthorised, 401, "authentication_error")
    assert emu.state.log.since()[-1].status == 401


def test_only_requests_with_a_breakpoint_wait_for_the_others_that_arrived_together() -> None:
    plain = shape_of(body())
    marked = shape_of(body(messages=[user([text(10, ttl="5m")])]))
    automatic = shape_of(body(cache_control={"type": "ephemeral"}))
    assert not _uses_cache(plain) and _uses_cache(marked) and _uses_cache(automatic)


def test_ids_keep_their_shape_and_do_not_repeat() -> None:
    ids = [new_id("req") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"req_01[0-9a-f]{22}", i) for i in ids)
    assert re.fullmatch(r"msgbatch_01[0-9a-f]{22}", new_id("msgbatch"))


def test_a_forwarded_for_header_does_not_change_the_connection(
    served: tuple[EmulatorSession, httpx2.Client],
) -> None:
    emu, http = served
    http.post("/v1/messages", json=body(), headers={**V, "x-forwarded-for": "203.0.113.9"})
    seen: list[object] = []
    original = emu.state.serve

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs["arrival"])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    emu.state.serve = spy  # type: ignore[method-assign]
    try:
        http.post("/v1/messages", json=body(), headers={**V, "x-forwarded-for": "203.0.113.9"})
    finally:
        del emu.state.serve
    (arrival,) = seen
    assert arrival.connection[0] == "127.0.0.1"  # type: ignore[attr-defined]


def test_middleware_added_to_the_app_sees_the_direct_routes_too() -> None:
    seen: list[str] = []

    class Spy:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope.get("path", ""))
            await self.app(scope, receive, send)

    app = create_app()
    app.add_middleware(Spy)

    async def scenario() -> int:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://emulator") as http:
            response = await http.post("/v1/messages", json=body(), headers=V)
        return response.status_code

    try:
        assert asyncio.run(scenario()) == 200
    finally:
        app.state.emulator.close()
    assert seen == ["/v1/messages"]
