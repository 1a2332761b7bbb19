"""Any input, every route: an answer in the API's error shape or upstream's own, never a 5xx of the
gateway's making; slow clients get 408, huge bodies 413, a client that hangs up gets nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawback.emulator.app import create_app
from clawback.emulator.clock import VirtualClock
from clawback.emulator.server import running
from clawback.gateway import asgi, messages
from clawback.gateway.app import GatewayApp, build_gateway
from clawback.gateway.config import GatewayConfig
from clawback.settings import Settings
from tests.gateway.asgi_driver import Answer, call

PATHS = [
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/messages/batches",
    "/v1/messages/batches/msgbatch_x",
    "/v1/messages/batches/msgbatch_x/results",
    "/v1/messages/batches/msgbatch_x/cancel",
    "/v1/models",
    "/v1/models/claude-haiku-5-5",
    "/v1/unknown/thing",
    "/",
    "/metrics",
    "/healthz",
    "/readyz",
    "/nope",
    "/v1/messages/batches/a/b/c",
]
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
message_bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["claude-haiku-5-5", "nope", ""]) | json_values,
        "max_tokens": st.integers(-5, 100) | json_values,
        "messages": st.just([{"role": "user", "content": "hi"}]) | json_values,
        "stream": st.booleans() | json_values,
        "system": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=200),
    message_bodies.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.just(b"\xff\xfe\x00garbage"),
    st.just(
        b'{"model": "claude-haiku-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud800"}]}'
    ),
)
header_sets = st.lists(
    st.tuples(
        st.sampled_from(
            [
                b"x-api-key",
                b"authorization",
                b"anthropic-version",
                b"content-length",
                b"clawback-task",
                b"x-y",
            ]
        ),
        st.binary(max_size=30),
    ),
    max_size=4,
)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, loop: asyncio.AbstractEventLoop) -> Iterator[GatewayApp]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with running(create_app(clock=VirtualClock("manual"))) as upstream:
        cfg = GatewayConfig(upstream=upstream, ledger=str(tmp / "l.sqlite3"), max_body_bytes=4096)
        gateway = build_gateway(cfg, settings=Settings(home=tmp / "home"))
        loop.run_until_complete(gateway.startup())
        yield gateway
        loop.run_until_complete(gateway.shutdown())


def _check(answer: Answer) -> None:
    assert answer.status is not None, "no answer at all"
    if answer.headers.get("x-clawback-gateway") == "refused":  # the gateway's own answer
        assert 400 <= answer.status < 500, answer.body
        body = json.loads(answer.body)
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
        assert answer.headers["request-id"] == body["request_id"]
    else:
        assert answer.status < 500 or answer.status in (529,), answer.body


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(METHODS),
    path=st.sampled_from(PATHS) | st.text(max_size=30).map(lambda t: "/" + t),
    headers=header_sets,
    body=bodies,
    split=st.integers(0, 3),
)
def test_any_request_gets_a_documented_answer(
    app: GatewayApp,
    loop: asyncio.AbstractEventLoop,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    split: int,
) -> None:
    chunks = [body] if split == 0 or len(body) < 2 else [body[: len(body) // 2], body[len(body) // 2 :]]
    answer = loop.run_until_complete(call(app, method, path, headers=headers, chunks=chunks))
    _check(answer)
    assert app.gateway.metrics.errors.get("internal", 0) == 0


def test_huge_bodies_are_413_declared_or_not(app: GatewayApp, loop: asyncio.AbstractEventLoop) -> None:
    big = b"x" * 5000
    declared = loop.run_until_complete(
        call(app, "POST", "/v1/messages", headers=[(b"content-length", b"999999999")], chunks=[b"{"])
    )
    streamed = loop.run_until_complete(call(app, "POST", "/v1/messages", chunks=[big[:2500], big[2500:]]))
    for answer in (declared, streamed):
        assert answer.status == 413 and json.loads(answer.body)["error"]["type"] == "request_too_large"


def test_slow_client_gets_408(
    app: GatewayApp, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages, "BODY_TIMEOUT_S", 0.2)
    answer = loop.run_until_complete(call(app, "POST", "/v1/messages", chunks=[b"{", b"}"], stall=True))
    assert answer.status == 408 and json.loads(answer.body)["error"]["type"] == "timeout_error"


def test_client_that_hangs_up_before_its_body_gets_nothing_and_breaks_nothing(
    app: GatewayApp, loop: asyncio.AbstractEventLoop
) -> None:
    answer = loop.run_until_complete(call(app, "POST", "/v1/messages", disconnect_first=True))
    assert answer.status is None and answer.messages == []
    after = loop.run_until_complete(call(app, "GET", "/healthz"))
    assert after.status == 200
    assert app.gateway.metrics.errors["client_gone"] >= 1
    _ = (asgi, Path)
