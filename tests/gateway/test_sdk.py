"""The official Python SDK through the gateway to the emulator: sync, async, streaming, batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import anthropic
import pytest

from clawback.gateway.batches import result_record_id
from clawback.ledger.record import CallRecord, price_call
from clawback.pricing.loader import load_catalogue
from tests.gateway.support import CALLER_KEY, Stack, stack

MODEL = "claude-haiku-5-5"
USER = [{"role": "user", "content": "Summarise the plot of Hamlet in one line."}]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("sdk")) as s:
        yield s


@pytest.fixture
def client(gw: Stack) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gw.url, api_key=CALLER_KEY, max_retries=0) as c:
        yield c


def _row(gw: Stack, request_id: str | None) -> CallRecord:
    # the row is handed to the writer just after the response is sent: wait for it (bounded)
    for _ in range(250):
        rows = [r for r in gw.records() if r.request_id == request_id]
        if rows:
            break
        time.sleep(0.02)
    assert len(rows) == 1, f"expected one ledger row for {request_id}"
    return rows[0]


def _expected_cost(model: str, usage: dict[str, object]) -> str | None:
    breakdown, _ = price_call(load_catalogue(), model, usage)
    return None if breakdown is None else str(breakdown.to_json()["total_usd"])


def test_sync_create_is_recorded_exactly(gw: Stack, client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert message.content[0].text == USER[0]["content"]
    row = _row(gw, message._request_id)
    usage = message.usage.model_dump(mode="json", exclude_none=True)
    assert row.source == "gateway"
    assert row.usage == usage
    assert row.total_usd is not None and Decimal(row.total_usd) > 0
    assert row.total_usd == _expected_cost(MODEL, usage)
    assert row.baseline_usd == row.total_usd  # nothing changed the request
    assert row.api_key_id is not None and row.api_key_id.startswith("gw:") and row.api_key_id.endswith("WXYZ")
    assert CALLER_KEY not in row.api_key_id
    assert row.latency_ms is not None and row.latency_ms > 0
    assert row.served_model == MODEL and row.stop_reason == "end_turn"


def test_stream_passes_events_through_and_records_usage(gw: Stack, client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert text == USER[0]["content"]
    row = _row(gw, request_id)
    assert row.usage is not None
    assert row.usage["output_tokens"] == final.usage.output_tokens
    assert row.usage["input_tokens"] == final.usage.input_tokens
    assert row.ttft_ms is not None and row.ttft_ms >= 0
    assert row.extra["stream"] is True and row.error is None


def test_async_create_and_stream(gw: Stack) -> None:
    async def run() -> tuple[str, str, str]:
        async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=CALLER_KEY, max_retries=0) as c:
            msg = await c.messages.create(model=MODEL, max_tokens=32, messages=USER)
            async with c.messages.stream(model=MODEL, max_tokens=32, messages=USER) as s:
                text = await s.get_final_text()
                rid = s.response.headers["request-id"]
            return msg._request_id or "", rid, text

    first, second, text = asyncio.run(run())
    assert text == USER[0]["content"]
    assert _row(gw, first).error is None
    assert _row(gw, second).extra["stream"] is True


def test_count_tokens_and_models_pass_through(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=USER)
    assert counted.input_tokens > 0
    models = client.models.list()
    assert any(m.id == MODEL for m in models.data)
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-nope-1")


def test_batches_round_trip_and_spend_is_booked_once(gw: Stack, client: anthropic.Anthropic) -> None:
    requests = [
        {"custom_id": f"item-{i}", "params": {"model": MODEL, "max_tokens": 32, "messages": USER}}
        for i in range(3)
    ]
    batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    assert any(b.id == batch.id for b in client.messages.batches.list(limit=5).data)
    gw.emu.clock.advance(10)
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    results = list(client.messages.batches.results(batch.id))
    assert {r.custom_id for r in results} == {"item-0", "item-1", "item-2"}
    again = list(client.messages.batches.results(batch.id))  # read twice: booked once
    assert len(again) == 3
    for _ in range(250):  # booked just after the results are sent: wait for the rows (bounded)
        rows = [r for r in gw.records() if r.extra.get("batch_id") == batch.id]
        if len(rows) >= 3:
            break
        time.sleep(0.02)
    assert sorted(r.extra["custom_id"] for r in rows) == ["item-0", "item-1", "item-2"]
    for r in rows:
        assert r.id == result_record_id(batch.id, r.extra["custom_id"])
        assert r.service_tier == "batch"
        standard, _ = price_call(load_catalogue(), MODEL, {**dict(r.usage or {}), "service_tier": "standard"})
        assert standard is not None and Decimal(r.total_usd or "0") * 2 == standard.total
    other = client.messages.batches.create(requests=requests[:1])  # type: ignore[arg-type]
    assert client.messages.batches.cancel(other.id).processing_status in ("canceling", "ended")
    gw.emu.clock.advance(10)
    assert client.messages.batches.delete(other.id).type == "message_batch_deleted"


def test_upstream_not_found_is_the_apis_error(client: anthropic.Anthropic, gw: Stack) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="claude-haiku-3-5", max_tokens=8, messages=USER)
    row = _row(gw, info.value.response.headers["request-id"])
    assert row.error is not None and row.error.status == 404 and row.total_usd is None
    assert row.requested_model == "claude-haiku-3-5"


def test_gateway_pages(client: anthropic.Anthropic, gw: Stack) -> None:
    import httpx2

    client.messages.create(model=MODEL, max_tokens=8, messages=USER)  # whatever ran before it here
    assert httpx2.get(gw.url + "/healthz").json() == {"ok": True}
    assert httpx2.get(gw.url + "/readyz").status_code == 200
    metrics = httpx2.get(gw.url + "/metrics").text
    assert 'clawback_gateway_requests_total{route="messages",status="200"}' in metrics
    assert (
        "clawback_gateway_cost_usd_total" in metrics
        and "clawback_gateway_added_latency_seconds_bucket" in metrics
    )
    page = httpx2.get(gw.url + "/")
    assert page.status_code == 200 and "<svg" in page.text and "clawback gateway" in page.text
    missing = httpx2.get(gw.url + "/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    wrong = httpx2.get(gw.url + "/v1/messages")
    assert wrong.status_code == 405 and wrong.json()["type"] == "error"
    _ = Path
