"""Every bad request gets the documented error shape and status, and the server keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from pydantic import SecretStr

from clawback.emulator.config import EmulatorConfig, FaultRule, Limits
from clawback.emulator.testing import EmulatorSession, emulator_client

from .helpers import HAIKU, assert_error, body, text, user

GOOD_KEY = "sk-ant-good-key-1234"
V = {"anthropic-version": "2023-06-01", "x-api-key": GOOD_KEY, "content-type": "application/json"}
V2026 = {**V, "anthropic-version": "2026-10-21"}


@pytest.fixture(scope="module")
def guarded() -> Iterator[tuple[EmulatorSession, httpx2.Client]]:
    config = EmulatorConfig(auth_keys=(SecretStr(GOOD_KEY),), limits=Limits(messages_body_bytes=20_000))
    with emulator_client(config, api_key=GOOD_KEY) as emu, httpx2.Client(base_url=emu.base_url) as http:
        yield emu, http


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


CASES = [
    (
        "malformed JSON",
        "POST",
        "/v1/messages",
        V,
        b'{"model": ',
        400,
        "invalid_request_error",
        "not valid JSON",
    ),
    ("empty body", "POST", "/v1/messages", V, b"", 400, "invalid_request_error", "empty"),
    ("body not an object", "POST", "/v1/messages", V, b"[1, 2]", 400, "invalid_request_error", "JSON object"),
    (
        "no version header",
        "POST",
        "/v1/messages",
        {"x-api-key": GOOD_KEY},
        _json(body()),
        400,
        "invalid_request_error",
        "anthropic-version",
    ),
    (
        "unknown version",
        "POST",
        "/v1/messages",
        {**V, "anthropic-version": "2020-01-01"},
        _json(body()),
        400,
        "invalid_request_error",
        "2020-01-01",
    ),
    (
        "no key",
        "POST",
        "/v1/messages",
        {"anthropic-version": "2023-06-01"},
        _json(body()),
        401,
        "authentication_error",
        "x-api-key",
    ),
    (
        "wrong key",
        "POST",
        "/v1/messages",
        {**V, "x-api-key": "sk-ant-wrong"},
        _json(body()),
        401,
        "authentication_error",
        "invalid",
    ),
    (
        "wrong bearer",
        "GET",
        "/v1/models",
        {"anthropic-version": "2023-06-01", "authorization": "Bearer nope"},
        None,
        401,
        "authentication_error",
        "invalid",
    ),
    (
        "seed article's model",
        "POST",
        "/v1/messages",
        V,
        _json(body(model="claude-haiku-3-5")),
        404,
        "not_found_error",
        "model: claude-haiku-3-5",
    ),
    (
        "retired model",
        "POST",
        "/v1/messages",
        V,
        _json(body(model="claude-3-opus-20240229")),
        404,
        "not_found_error",
        "retired",
    ),
    (
        "no max_tokens",
        "POST",
        "/v1/messages",
        V,
        _json({"model": HAIKU, "messages": [user("x")]}),
        400,
        "invalid_request_error",
        "max_tokens",
    ),
    (
        "negative max_tokens",
        "POST",
        "/v1/messages",
        V,
        _json(body(max_tokens=-1)),
        400,
        "invalid_request_error",
        "max_tokens",
    ),
    (
        "max_tokens too large",
        "POST",
        "/v1/messages",
        V,
        _json(body(max_tokens=10**7)),
        400,
        "invalid_request_error",
        "maximum allowed",
    ),
    (
        "no messages",
        "POST",
        "/v1/messages",
        V,
        _json({"model": HAIKU, "max_tokens": 5}),
        400,
        "invalid_request_error",
        "messages",
    ),
    (
        "bad role",
        "POST",
        "/v1/messages",
        V,
        _json(body(messages=[{"role": "robot", "content": "x"}])),
        400,
        "invalid_request_error",
        "role",
    ),
    (
        "bad block",
        "POST",
        "/v1/messages",
        V,
        _json(body(messages=[user([{"text": "no type"}])])),
        400,
        "invalid_request_error",
        "type",
    ),
    (
        "prefill on 4.6+",
        "POST",
        "/v1/messages",
        V,
        _json(body(messages=[user("x"), {"role": "assistant", "content": "y"}])),
        400,
        "invalid_request_error",
        "prefill",
    ),
    (
        "temperature in 2026-10-21",
        "POST",
        "/v1/messages",
        V2026,
        _json(body(temperature=0.5)),
        400,
        "invalid_request_error",
        "temperature",
    ),
    (
        "top_k in 2026-10-21",
        "POST",
        "/v1/messages/count_tokens",
        V2026,
        _json({k: v for k, v in body(top_k=5).items() if k != "max_tokens"}),
        400,
        "invalid_request_error",
        "top_k",
    ),
    (
        "five breakpoints",
        "POST",
        "/v1/messages",
        V,
        _json(body(system=[text(50, str(i), ttl="5m") for i in range(5)])),
        400,
        "invalid_request_error",
        "maximum of 4",
    ),
    (
        "bad cache_control ttl",
        "POST",
        "/v1/messages",
        V,
        _json(
            body(system=[{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}])
        ),
        400,
        "invalid_request_error",
        "system.0.cache_control.ttl",
    ),
    (
        "role not a string",
        "POST",
        "/v1/messages",
        V,
        _json(body(messages=[{"role": ["user"], "content": "x"}])),
        400,
        "invalid_request_error",
        "role",
    ),
    (
        "us geo on old model",
        "POST",
        "/v1/messages",
        V,
        _json(body(model="claude-haiku-4-5-20251001", inference_geo="us")),
        400,
        "invalid_request_error",
        "inference_geo",
    ),
    (
        "oversize body",
        "POST",
        "/v1/messages",
        V,
        _json(body(messages=[user("x" * 30_000)])),
        413,
        "request_too_large",
        "maximum size",
    ),
    (
        "count_tokens unknown model",
        "POST",
        "/v1/messages/count_tokens",
        V,
        _json({"model": "gpt-4", "messages": [user("x")]}),
        404,
        "not_found_error",
        "gpt-4",
    ),
    (
        "unknown model id",
        "GET",
        "/v1/models/claude-haiku-3-5",
        V,
        None,
        404,
        "not_found_error",
        "claude-haiku-3-5",
    ),
    ("unknown route", "GET", "/v1/nothing-here", V, None, 404, "not_found_error", "/v1/nothing-here"),
    ("wrong method", "GET", "/v1/messages", V, None, 405, "invalid_request_error", "not allowed"),
    ("bad limit", "GET", "/v1/models?limit=0", V, None, 400, "invalid_request_error", "limit"),
    (
        "unknown batch",
        "GET",
        "/v1/messages/batches/msgbatch_nope",
        V,
        None,
        404,
        "not_found_error",
        "msgbatch_nope",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "headers", "content", "status", "kind", "fragment"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_bad_requests_get_the_documented_error_and_the_server_keeps_serving(
    guarded: tuple[EmulatorSession, httpx2.Client],
    name: str,
    method: str,
    path: str,
    headers: dict[str, str],
    content: bytes | None,
    status: int,
    kind: str,
    fragment: str,
) -> None:
    emu, http = guarded
    response = http.request(method, path, headers=headers, content=content)
    assert_error(response, status, kind, fragment)
    assert emu.client.messages.create(**body()).stop_reason == "end_turn"


def test_sdk_raises_the_matching_exceptions(guarded: tuple[EmulatorSession, httpx2.Client]) -> None:
    emu, _ = guarded
    with pytest.raises(anthropic.NotFoundError) as nf:
        emu.client.messages.create(**body(model="claude-haiku-3-5"))
    assert_error(nf.value, 404, "not_found_error", "claude-haiku-3-5")
    with pytest.raises(anthropic.AuthenticationError):
        emu.client.with_options(api_key="sk-ant-wrong-key").messages.create(**body())
    with pytest.raises(anthropic.BadRequestError) as bad:
        emu.client.messages.create(**body(), extra_body={"temperature": 0.2})
    assert_error(bad.value, 400, "invalid_request_error", "temperature")
    older = body(model="claude-haiku-4-5-20251001")  # Haiku 5.5 refuses non-default sampling anyway
    assert emu.client.messages.create(
        **older, extra_body={"temperature": 0.2}, extra_headers={"anthropic-version": "2023-06-01"}
    )


def test_the_real_32_mb_limit_returns_413() -> None:
    with emulator_client() as emu:
        with pytest.raises(anthropic.APIStatusError) as info:
            emu.client.messages.create(**body(messages=[user("x" * (33 * 1024 * 1024))]))
        assert_error(info.value, 413, "request_too_large")
        assert emu.client.messages.create(**body()).id


def _faulted(*rules: FaultRule, **client: Any) -> Any:
    return emulator_client(EmulatorConfig(faults=rules), **client)


def test_scripted_faults_by_count() -> None:
    rules = (
        FaultRule(kind="overloaded", nth=(3,)),
        FaultRule(kind="rate_limit", nth=(5,), retry_after=7),
        FaultRule(kind="api_error", nth=(7,)),
        FaultRule(kind="timeout", nth=(9,)),
    )
    with _faulted(*rules) as emu:
        outcomes: list[Any] = []
        for _ in range(9):
            try:
                outcomes.append(emu.client.messages.with_raw_response.create(**body()).status_code)
            except anthropic.APIStatusError as exc:
                outcomes.append(exc)
        # each rule counts its own matches: the 3rd, 5th, 7th and 9th requests fail
        statuses = [o if isinstance(o, int) else o.status_code for o in outcomes]
        assert statuses == [200, 200, 529, 200, 429, 200, 500, 200, 504]
        assert isinstance(outcomes[2], anthropic.OverloadedError)
        assert_error(outcomes[2], 529, "overloaded_error")
        assert_error(outcomes[4], 429, "rate_limit_error")
        assert outcomes[4].response.headers["retry-after"] == "7"
        assert_error(outcomes[6], 500, "api_error")
        assert_error(outcomes[8], 504, "timeout_error")


def test_the_sdk_retries_an_injected_529_and_succeeds() -> None:
    with _faulted(FaultRule(kind="overloaded", nth=(1,), retry_after=0), max_retries=2) as emu:
        raw = emu.client.messages.with_raw_response.create(**body())
        assert raw.status_code == 200 and raw.retries_taken == 1
        assert emu.state.stats.statuses[529] == 1


def test_faults_at_a_rate_are_seeded_and_repeatable() -> None:
    def run() -> list[int]:
        with _faulted(FaultRule(kind="api_error", rate=0.3)) as emu:
            out = []
            for _ in range(30):
                try:
                    out.append(emu.client.messages.with_raw_response.create(**body()).status_code)
                except anthropic.APIStatusError as exc:
                    out.append(exc.status_code)
            return out

    first = run()
    assert first == run() and 0 < first.count(500) < 30


def test_stream_error_event_mid_way() -> None:
    with _faulted(FaultRule(kind="stream_error", nth=(1,), after_events=3)) as emu:
        with pytest.raises(anthropic.APIStatusError) as info:
            list(emu.client.messages.create(**body(stream=True)))
        assert info.value.body["error"]["type"] == "overloaded_error"
        assert [e.type for e in emu.client.messages.create(**body(stream=True))][-1] == "message_stop"


def test_stream_cut_mid_way_drops_the_connection() -> None:
    with _faulted(FaultRule(kind="stream_cut", nth=(1,), after_events=2)) as emu:
        seen: list[str] = []

        def consume() -> None:
            for event in emu.client.messages.create(**body(stream=True)):
                seen.append(event.type)

        with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)):
            consume()
        assert seen[:1] == ["message_start"] and "message_stop" not in seen
        assert emu.client.messages.create(**body()).id  # still serving


def test_slow_fault_delays_the_answer() -> None:
    with _faulted(FaultRule(kind="slow", nth=(1,), delay_seconds=0.5)) as emu:
        with pytest.raises(anthropic.APITimeoutError):
            emu.client.with_options(timeout=0.1).messages.create(**body())
        assert emu.client.messages.create(**body()).id
