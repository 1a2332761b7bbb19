"""Managed keys against the emulator: budgets, rate limits, fallbacks and upstream faults."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import anthropic
import httpx2
import pytest

from clawback.emulator.config import EmulatorConfig, FaultRule
from clawback.gateway.app import build_gateway
from clawback.gateway.config import GatewayConfig, load_config
from clawback.gateway.testing import running_gateway
from clawback.ledger.api import open_ledger
from tests.gateway.support import GATEWAY_KEY, UPSTREAM_KEY, sha, stack

MODEL = "claude-haiku-5-5"
USER = [{"role": "user", "content": "Write a short poem about the sea."}]
V = {"anthropic-version": "2023-06-01"}


def _config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "", key_extra: str = ""
) -> GatewayConfig:
    monkeypatch.setenv("ALPHA_UPSTREAM", UPSTREAM_KEY)
    file = tmp_path / "gw.toml"
    file.write_text(
        f'{extra}\n[[projects]]\nname = "web"\n\n[[keys]]\nname = "alpha"\nkey_sha256 = "{sha(GATEWAY_KEY)}"\n'
        f'project = "web"\nupstream_key_env = "ALPHA_UPSTREAM"\n{key_extra}\n'
    )
    return load_config(file)


def _client(url: str, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=GATEWAY_KEY, max_retries=retries)


def test_daily_budget_refuses_before_sending_and_names_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path, monkeypatch, key_extra='daily_usd = "0.0004"')
    with stack(tmp_path, cfg) as s, _client(s.url) as client:
        served = 0

        def spend_until_refused() -> None:
            nonlocal served
            for _ in range(50):
                client.messages.create(model=MODEL, max_tokens=200, messages=USER)
                served += 1

        with pytest.raises(anthropic.BadRequestError) as refused:
            spend_until_refused()
        assert served >= 1
        error = refused.value.body["error"]  # type: ignore[index]
        assert error["type"] == "invalid_request_error"
        assert "daily budget of key 'alpha'" in error["message"] and "resets at" in error["message"]
        assert refused.value.response.headers["x-should-retry"] == "false"
        sent = s.emu.stats.requests
        rows = s.records()
        rows = s.records(served)
        assert len(rows) == served  # the refused call never went upstream, so has no row
        spent = sum(Decimal(r.total_usd or 0) for r in rows)
        assert spent <= Decimal("0.0004")
        assert sent  # the emulator saw the served ones
        metrics = httpx2.get(s.url + "/metrics").text
        assert 'clawback_gateway_budget_limit_usd{scope="key:alpha",period="day"} 0.0004' in metrics


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(tmp_path, monkeypatch, key_extra="requests_per_minute = 2")
    with stack(tmp_path, cfg) as s, _client(s.url) as client:
        client.messages.create(model=MODEL, max_tokens=16, messages=USER)
        client.messages.create(model=MODEL, max_tokens=16, messages=USER)
        with pytest.raises(anthropic.RateLimitError) as info:
            client.messages.create(model=MODEL, max_tokens=16, messages=USER)
        assert 1 <= int(info.value.response.headers["retry-after"]) <= 60
        assert "2 requests per minute" in info.value.body["error"]["message"]  # type: ignore[index]


def test_fallback_on_529_is_recorded_attempt_by_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path, monkeypatch, extra='[policy]\nfallbacks = ["claude-sonnet-5-5"]')
    emulator = EmulatorConfig(faults=(FaultRule(kind="overloaded", model=MODEL, nth=(1,)),))
    with stack(tmp_path, cfg, emulator=emulator) as s, _client(s.url) as client:
        message = client.messages.create(model=MODEL, max_tokens=32, messages=USER)
        assert message.model == "claude-sonnet-5-5"
        first, second = s.records(2)
        assert (
            first.error is not None and first.error.status == 529 and first.error.type == "overloaded_error"
        )
        assert first.total_usd is None
        assert second.error is None and second.served_model == "claude-sonnet-5-5"
        assert second.requested_model == MODEL
        assert second.fallback_from == MODEL and second.source == "gateway"
        assert second.api_key_id == first.api_key_id and second.api_key_id.startswith("gw:")  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["overloaded", "api_error", "spend_limit", "timeout", "rate_limit"])
def test_upstream_fault_without_fallback_reaches_the_caller_and_the_ledger(tmp_path: Path, kind: str) -> None:
    emulator = EmulatorConfig(faults=(FaultRule(kind=kind, nth=(1,)),))  # type: ignore[arg-type]
    with stack(tmp_path, emulator=emulator) as s:
        r = httpx2.post(
            s.url + "/v1/messages",
            json={"model": MODEL, "max_tokens": 16, "messages": USER},
            headers={"x-api-key": "sk-ant-some-caller-1234", "anthropic-version": "2023-06-01"},
        )
        expected = {
            "overloaded": 529,
            "api_error": 500,
            "spend_limit": 429,
            "timeout": 504,
            "rate_limit": 429,
        }
        assert r.status_code == expected[kind] and r.json()["type"] == "error"
        if kind == "spend_limit":
            assert r.json()["error"]["details"]["error_code"] == "enforced_spend_limit_reached"
        (row,) = s.records()
        assert row.error is not None and row.error.status == r.status_code
        assert row.request_id == r.headers["request-id"]


def test_upstream_that_does_not_answer_in_time_is_504(tmp_path: Path) -> None:
    emulator = EmulatorConfig(faults=(FaultRule(kind="slow", nth=(1,), delay_seconds=3),))
    with stack(tmp_path, GatewayConfig(upstream_timeout_s=0.5), emulator=emulator) as s:
        r = httpx2.post(
            s.url + "/v1/messages", json={"model": MODEL, "max_tokens": 8, "messages": USER}, headers=V
        )
        assert r.status_code == 504
        assert r.json()["error"]["type"] == "timeout_error" and r.headers["request-id"].startswith("req_")
        (row,) = s.records()
        assert row.error is not None and row.error.type == "timeout_error"


def test_unreachable_upstream_is_502_and_recorded(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    cfg = GatewayConfig(
        upstream=f"http://127.0.0.1:{port}", ledger=str(tmp_path / "l.sqlite3"), connect_timeout_s=2
    )
    with running_gateway(build_gateway(cfg)) as url:
        r = httpx2.post(url + "/v1/messages", json={"model": MODEL, "max_tokens": 8, "messages": USER})
        assert r.status_code == 502 and r.json()["error"]["type"] == "api_error"
        assert httpx2.get(url + "/v1/models").status_code == 502
    with open_ledger(tmp_path / "l.sqlite3") as ledger:
        (row,) = list(ledger.iter_records())
    assert row.error is not None and row.error.status == 502 and row.source == "gateway"


@pytest.mark.parametrize("kind", ["stream_cut", "stream_error"])
def test_broken_streams_end_with_an_error_event_and_keep_their_tokens(tmp_path: Path, kind: str) -> None:
    emulator = EmulatorConfig(faults=(FaultRule(kind=kind, nth=(1,), after_events=3),))  # type: ignore[arg-type]
    with stack(tmp_path, emulator=emulator) as s:
        with httpx2.stream(
            "POST",
            s.url + "/v1/messages",
            json={"model": MODEL, "max_tokens": 64, "stream": True, "messages": USER},
            headers={"x-api-key": "sk-ant-stream-caller-9999", **V},
        ) as r:
            body = b"".join(r.iter_bytes())
        assert r.status_code == 200
        assert b"event: message_start" in body and b"event: error" in body
        (row,) = s.records()
        assert row.usage is not None and row.usage["input_tokens"] > 0  # from message_start
        assert row.error is not None and row.error.type in ("stream_cut", "overloaded_error")
        assert row.total_usd is not None  # the tokens seen so far are priced


def test_client_that_leaves_mid_stream_still_has_its_tokens_recorded(tmp_path: Path) -> None:
    from clawback.emulator.clock import VirtualClock
    from clawback.emulator.config import LatencyConfig

    emulator = EmulatorConfig(
        latency=LatencyConfig(enabled=True, ttft_seconds=0.05, output_tokens_per_second=250)
    )
    with stack(tmp_path, emulator=emulator, clock=VirtualClock("real")) as s:
        long_prompt = [{"role": "user", "content": " ".join(["word"] * 300)}]
        with httpx2.stream(
            "POST",
            s.url + "/v1/messages",
            json={"model": MODEL, "max_tokens": 400, "stream": True, "messages": long_prompt},
            headers={"x-api-key": "sk-ant-leaving-caller-4321", **V},
        ) as r:
            chunks = r.iter_raw()
            first = next(chunks)
            assert b"message_start" in first
        deadline = time.monotonic() + 10
        rows = []
        while not rows and time.monotonic() < deadline:
            rows = s.records()
            time.sleep(0.1)
        (row,) = rows
        assert row.extra.get("client_disconnected") is True
        assert row.usage is not None and row.usage["input_tokens"] >= 300
        assert row.error is not None and row.error.type == "client_disconnected"
        assert row.total_usd is not None


def test_policies_run_through_the_clients_pipeline(tmp_path: Path) -> None:
    cfg = GatewayConfig(policy=replace(GatewayConfig().policy, plan_cache=True))
    system = "You are a careful assistant. " + " ".join(f"Rule {i}: answer precisely." for i in range(400))
    body = {"model": MODEL, "max_tokens": 16, "system": system, "messages": USER}
    with stack(tmp_path, cfg) as s:
        for _ in range(4):
            r = httpx2.post(
                s.url + "/v1/messages", json=body, headers={"x-api-key": "sk-ant-policy-caller-1111", **V}
            )
            assert r.status_code == 200
            s.emu.clock.advance(5)
        rows = s.records(4)
    assert any("cache_plan" in r.extra for r in rows)
    assert any(r.tokens().cache_read > 0 for r in rows)
    assert all(r.source == "gateway" and r.error is None for r in rows)


def test_a_learned_cap_never_loses_an_answer(tmp_path: Path) -> None:
    cfg = GatewayConfig(policy=replace(GatewayConfig().policy, output_caps=True))
    headers = {"x-api-key": "sk-ant-caps-caller-2468", "clawback-task": "short-answers", **V}
    with stack(tmp_path, cfg) as s:
        for i in range(25):  # the task learns that its answers are short
            body = {"model": MODEL, "max_tokens": 1000, "messages": [{"role": "user", "content": f"ok {i}"}]}
            assert httpx2.post(s.url + "/v1/messages", json=body, headers=headers).status_code == 200
        long_text = " ".join(f"word{i}" for i in range(200))
        body = {"model": MODEL, "max_tokens": 1000, "messages": [{"role": "user", "content": long_text}]}
        answer = httpx2.post(s.url + "/v1/messages", json=body, headers=headers).json()
        rows = s.records(27)
    assert answer["content"][0]["text"] == long_text and answer["stop_reason"] == "end_turn"
    cut, full = rows[-2], rows[-1]
    assert cut.stop_reason == "max_tokens" and cut.extra["max_tokens_cap"]["requested"] == 1000
    assert full.stop_reason == "end_turn" and "max_tokens_cap" not in full.extra
    assert {r.task for r in rows} == {"short-answers"}
