"""The gateway as a transparent proxy: bodies, headers and upstream errors pass through unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx2
import pytest

from clawback.emulator.server import running
from clawback.gateway.app import build_gateway
from clawback.gateway.config import GatewayConfig, load_config
from clawback.gateway.testing import running_gateway
from clawback.ledger.api import open_ledger
from tests.gateway.echo import EchoUpstream, Reply
from tests.gateway.support import CALLER_KEY, GATEWAY_KEY, UPSTREAM_KEY, sha


@dataclass
class EchoStack:
    url: str
    upstream: EchoUpstream
    ledger: Path


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[EchoStack]:
    upstream = EchoUpstream()
    with running(upstream) as upstream_url:  # type: ignore[arg-type]
        cfg = GatewayConfig(upstream=upstream_url, ledger=str(tmp_path / "l.sqlite3"))
        with running_gateway(build_gateway(cfg)) as url:
            yield EchoStack(url, upstream, tmp_path / "l.sqlite3")


BODY = (
    b'{"model": "claude-haiku-5-5",  "max_tokens": 16, "messages": [{"role": "user", "content": "h\\u00e9"}]}'
)


def test_body_and_headers_reach_upstream_unchanged(echo: EchoStack) -> None:
    r = httpx2.post(
        echo.url + "/v1/messages?beta=true",
        content=BODY,
        headers={
            "x-api-key": CALLER_KEY,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "prompt-caching-2024-07-31,fast-mode-2026-02-01",
            "x-custom-thing": "kept",
            "content-type": "application/json",
        },
    )
    assert r.status_code == 200
    sent = echo.upstream.requests[-1]
    assert sent["body"] == BODY  # byte for byte: no policy is configured, nothing is re-encoded
    assert sent["query"] == b"beta=true"
    assert echo.upstream.header("x-api-key") == [CALLER_KEY]
    assert echo.upstream.header("anthropic-version") == ["2023-06-01"]
    assert echo.upstream.header("anthropic-beta") == ["prompt-caching-2024-07-31,fast-mode-2026-02-01"]
    assert echo.upstream.header("x-custom-thing") == ["kept"]
    assert r.headers["request-id"] == "req_01echoupstream"
    assert r.json()["id"] == "msg_01echo"


def test_bearer_token_passes_through(echo: EchoStack) -> None:
    client = anthropic.Anthropic(base_url=echo.url, auth_token="bearer-token-abcdefgh1234", max_retries=0)
    client.messages.create(
        model="claude-haiku-5-5", max_tokens=8, messages=[{"role": "user", "content": "x"}]
    )
    assert echo.upstream.header("authorization") == ["Bearer bearer-token-abcdefgh1234"]


@pytest.mark.parametrize(
    ("status", "payload", "extra"),
    [
        (
            529,
            {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
                "request_id": "req_u1",
            },
            [],
        ),
        (
            429,
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "monthly spend cap",
                    "details": {"error_code": "enforced_spend_limit_reached"},
                },
                "request_id": "req_u2",
            },
            [],
        ),
        (
            500,
            {"type": "error", "error": {"type": "api_error", "message": "boom"}, "request_id": "req_u3"},
            [(b"retry-after", b"7")],
        ),
        (
            400,
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "bad"},
                "request_id": "req_u4",
            },
            [],
        ),
    ],
)
def test_upstream_errors_pass_through_unchanged(
    echo: EchoStack, status: int, payload: dict[str, object], extra: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps(payload).encode()
    echo.upstream.reply = Reply(
        status, body, [(b"content-type", b"application/json"), (b"request-id", b"req_01up"), *extra]
    )
    r = httpx2.post(echo.url + "/v1/messages", content=BODY, headers={"x-api-key": CALLER_KEY})
    assert r.status_code == status
    assert r.content == body
    assert r.headers["request-id"] == "req_01up"
    for name, value in extra:
        assert r.headers[name.decode()] == value.decode()
    gateway_rows = _rows(echo)
    assert gateway_rows[-1].error is not None
    assert gateway_rows[-1].error.status == status
    assert gateway_rows[-1].error.type == payload["error"]["type"]  # type: ignore[index]
    assert gateway_rows[-1].request_id == "req_01up"


def _rows(echo: EchoStack) -> list:  # type: ignore[type-arg]
    import time

    deadline = time.monotonic() + 5
    while True:
        with open_ledger(echo.ledger) as ledger:
            rows = list(ledger.iter_records())
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_managed_key_sends_the_upstream_key_and_never_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHA_UPSTREAM", UPSTREAM_KEY)
    config_file = tmp_path / "gw.toml"
    config_file.write_text(
        f'[[keys]]\nname = "alpha"\nkey_sha256 = "{sha(GATEWAY_KEY)}"\nupstream_key_env = "ALPHA_UPSTREAM"\n'
    )
    upstream = EchoUpstream()
    with running(upstream) as upstream_url:  # type: ignore[arg-type]
        cfg = load_config(config_file)
        from dataclasses import replace

        cfg = replace(cfg, upstream=upstream_url, ledger=str(tmp_path / "l.sqlite3"))
        with running_gateway(build_gateway(cfg)) as url:
            ok = httpx2.post(
                url + "/v1/messages", content=BODY, headers={"authorization": f"Bearer {GATEWAY_KEY}"}
            )
            assert ok.status_code == 200
            assert upstream.header("x-api-key") == [UPSTREAM_KEY]
            assert upstream.header("authorization") == []
            stranger = httpx2.post(url + "/v1/messages", content=BODY, headers={"x-api-key": CALLER_KEY})
            assert stranger.status_code == 401
            assert stranger.json()["error"]["type"] == "authentication_error"
            assert stranger.headers["request-id"].startswith("req_")
            assert len(upstream.requests) == 1  # the stranger never reached upstream
            none = httpx2.get(url + "/v1/models")
            assert none.status_code == 401
