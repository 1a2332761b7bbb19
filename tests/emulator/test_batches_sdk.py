"""The Message Batches API through the official SDK, on the virtual clock."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest

from clawback.emulator.config import BatchConfig, BatchFaultRule, EmulatorConfig, FaultRule, Limits
from clawback.emulator.testing import TEST_KEY, EmulatorSession, emulator_client

from .helpers import HAIKU, assert_error, body, shape_of, text, user

SYSTEM = [text(800, "s", ttl="1h")]


def item(i: int, **params: Any) -> dict[str, Any]:
    return {
        "custom_id": f"req-{i}",
        "params": body(system=SYSTEM, messages=[user(f"question {i}")], **params),
    }


def results(emu: EmulatorSession, batch_id: str) -> dict[str, Any]:
    return {r.custom_id: r.result for r in emu.client.messages.batches.results(batch_id)}


def test_a_batch_runs_on_the_virtual_clock(emu: EmulatorSession) -> None:
    batch = emu.client.messages.batches.create(requests=[item(i) for i in range(5)])
    assert batch.id.startswith("msgbatch_") and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 5 and batch.results_url is None
    assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600
    emu.advance(1)
    assert emu.client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    emu.advance(5)
    done = emu.client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended" and done.request_counts.succeeded == 5
    assert done.request_counts.processing == 0 and done.ended_at is not None
    assert done.results_url == f"{emu.base_url}/v1/messages/batches/{batch.id}/results"
    got = results(emu, batch.id)
    assert set(got) == {f"req-{i}" for i in range(5)}
    usages = [got[f"req-{i}"].message.usage for i in range(5)]
    assert all(u.service_tier == "batch" for u in usages)
    prefix = shape_of(item(0)["params"]).prefix_tokens(0)
    assert usages[0].cache_creation.ephemeral_1h_input_tokens == prefix  # the first item writes
    assert all(u.cache_read_input_tokens == prefix for u in usages[1:])  # later items read


def test_results_are_jsonl_lines(emu: EmulatorSession) -> None:
    batch = emu.client.messages.batches.create(requests=[item(i) for i in range(3)])
    emu.advance(10)
    done = emu.client.messages.batches.retrieve(batch.id)
    with httpx2.Client() as http:
        response = http.get(
            done.results_url or "", headers={"anthropic-version": "2023-06-01", "x-api-key": TEST_KEY}
        )
    lines = response.text.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["result"]["type"] == "succeeded" for line in lines)


def test_invalid_items_and_faulted_items_end_errored_or_expired() -> None:
    config = EmulatorConfig(
        batch_faults=(
            BatchFaultRule(result="errored", custom_ids=("req-1",), error_type="overloaded_error"),
            BatchFaultRule(result="expired", custom_ids=("req-2",)),
        )
    )
    with emulator_client(config) as emu:
        bad_model = {"custom_id": "req-3", "params": body(model="claude-haiku-3-5")}
        streaming = {"custom_id": "req-4", "params": body(stream=True)}
        prewarm = {"custom_id": "req-5", "params": body(max_tokens=0)}
        batch = emu.client.messages.batches.create(
            requests=[item(0), item(1), item(2), bad_model, streaming, prewarm]
        )
        emu.advance(10)
        counts = emu.client.messages.batches.retrieve(batch.id).request_counts
        assert (counts.succeeded, counts.errored, counts.expired) == (1, 4, 1)
        got = results(emu, batch.id)
        assert got["req-1"].error.error.type == "overloaded_error"
        assert got["req-2"].type == "expired"
        assert got["req-3"].error.error.type == "not_found_error"
        assert "stream" in got["req-4"].error.error.message
        assert got["req-5"].error.error.type == "invalid_request_error"


def test_cancel_finishes_started_items_and_cancels_the_rest() -> None:
    with emulator_client(EmulatorConfig(batch=BatchConfig(seconds=3, cancel_seconds=1))) as emu:
        _cancel_scenario(emu)


def _cancel_scenario(emu: EmulatorSession) -> None:
    batch = emu.client.messages.batches.create(requests=[item(i) for i in range(10)])
    emu.advance(1.5)  # 3 s for 10 items: items 0-4 have started
    canceling = emu.client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    assert emu.client.messages.batches.retrieve(batch.id).request_counts.processing == 10
    with pytest.raises(anthropic.BadRequestError) as info:
        emu.client.messages.batches.delete(batch.id)
    assert_error(info.value, 400, "invalid_request_error", "cancel")
    emu.advance(1)
    ended = emu.client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (5, 5)
    assert {r.result.type for r in emu.client.messages.batches.results(batch.id)} == {"succeeded", "canceled"}
    deleted = emu.client.messages.batches.delete(batch.id)
    assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        emu.client.messages.batches.retrieve(batch.id)


def test_a_batch_longer_than_24_hours_expires() -> None:
    with emulator_client(EmulatorConfig(batch=BatchConfig(seconds=48 * 3600))) as emu:
        batch = emu.client.messages.batches.create(requests=[item(i) for i in range(4)])
        emu.advance(24 * 3600)
        ended = emu.client.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended"
        assert (ended.request_counts.succeeded, ended.request_counts.expired) == (2, 2)


def test_list_pages_newest_first(emu: EmulatorSession) -> None:
    ids = [emu.client.messages.batches.create(requests=[item(0)]).id for _ in range(5)]
    page = emu.client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more and page.last_id == ids[3]
    assert [b.id for b in emu.client.messages.batches.list(limit=2)] == ids[::-1]  # iterating follows pages
    older = emu.client.messages.batches.list(limit=10, after_id=ids[2])
    assert [b.id for b in older.data] == [ids[1], ids[0]] and not older.has_more
    newer = emu.client.messages.batches.list(limit=10, before_id=ids[2])
    assert [b.id for b in newer.data] == [ids[4], ids[3]]
    other = emu.client.with_options(api_key="sk-ant-someone-else")
    assert other.messages.batches.list().data == []
    with pytest.raises(anthropic.NotFoundError):
        other.messages.batches.retrieve(ids[0])


def test_results_before_the_end_are_refused(emu: EmulatorSession) -> None:
    batch = emu.client.messages.batches.create(requests=[item(0)])
    with httpx2.Client(base_url=emu.base_url) as http:
        headers = {"anthropic-version": "2023-06-01", "x-api-key": TEST_KEY}
        response = http.get(f"/v1/messages/batches/{batch.id}/results", headers=headers)
    assert_error(response, 400, "invalid_request_error", "in_progress")


@pytest.mark.parametrize(
    ("requests", "status", "fragment"),
    [
        ([], 400, "at least one"),
        ([{"custom_id": "bad id!", "params": body()}], 400, "pattern"),
        ([{"custom_id": "x" * 65, "params": body()}], 400, "pattern"),
        ([{"custom_id": "same", "params": body()}, {"custom_id": "same", "params": body()}], 400, "unique"),
        ([{"custom_id": "ok", "params": "not an object"}], 400, "params"),
        ([{"custom_id": f"r{i}", "params": {"model": HAIKU}} for i in range(4)], 413, "maximum is 3"),
    ],
)
def test_create_validates_limits_and_custom_ids(requests: list[Any], status: int, fragment: str) -> None:
    with emulator_client(EmulatorConfig(limits=Limits(batch_requests=3))) as emu:
        with pytest.raises(anthropic.APIStatusError) as info:
            emu.client.messages.batches.create(requests=requests)
        assert_error(
            info.value, status, "request_too_large" if status == 413 else "invalid_request_error", fragment
        )
        assert emu.client.messages.batches.create(requests=[item(i) for i in range(3)]).id  # at the limit


def test_the_body_limit_is_413() -> None:
    with emulator_client(EmulatorConfig(limits=Limits(batch_body_bytes=2_000))) as emu:
        with pytest.raises(anthropic.APIStatusError) as info:
            emu.client.messages.batches.create(requests=[item(i) for i in range(5)])
        assert_error(info.value, 413, "request_too_large")


def test_the_real_100000_request_limit() -> None:
    small = b'{"custom_id":"r%d","params":{"model":"claude-haiku-5-5","max_tokens":1,"messages":[]}}'
    payload = b'{"requests":[' + b",".join(small % i for i in range(100_001)) + b"]}"
    headers = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
    with emulator_client() as emu, httpx2.Client(base_url=emu.base_url, timeout=60) as http:
        response = http.post("/v1/messages/batches", content=payload, headers=headers)
        assert_error(response, 413, "request_too_large", "100,001", "100,000")


def test_the_log_records_every_batch_item_once(emu: EmulatorSession) -> None:
    batch = emu.client.messages.batches.create(requests=[item(i) for i in range(3)])
    records = [r for r in emu.state.log.since() if r.endpoint == "batch_item"]
    assert [r.custom_id for r in records] == ["req-0", "req-1", "req-2"]
    assert {r.batch_id for r in records} == {batch.id} and len({r.params_hash for r in records}) == 3


def test_faults_on_polls_cancels_and_models_reach_the_sdk() -> None:
    config = EmulatorConfig(
        faults=(
            FaultRule(kind="api_error", endpoint="batch_poll", nth=(1, 3)),
            FaultRule(kind="overloaded", endpoint="batch_cancel", nth=(1,)),
            FaultRule(kind="rate_limit", endpoint="models", nth=(1,), retry_after=2),
        )
    )
    with emulator_client(config) as emu:
        batch = emu.client.messages.batches.create(requests=[item(0), item(1)])  # creates are not polls
        with pytest.raises(anthropic.InternalServerError) as poll:
            emu.client.messages.batches.retrieve(batch.id)  # poll 1
        assert_error(poll.value, 500, "api_error")
        assert emu.client.messages.batches.retrieve(batch.id).id == batch.id  # poll 2
        with pytest.raises(anthropic.InternalServerError):
            emu.client.messages.batches.list()  # poll 3: list counts as a poll
        with pytest.raises(anthropic.APIStatusError) as cancel:
            emu.client.messages.batches.cancel(batch.id)
        assert_error(cancel.value, 529, "overloaded_error")
        assert emu.client.messages.batches.cancel(batch.id).processing_status == "canceling"
        with pytest.raises(anthropic.RateLimitError) as models:
            emu.client.models.list()
        assert models.value.response.headers["retry-after"] == "2"
        assert emu.client.models.list().data
        stats = emu.client.get("/_emulator/stats", cast_to=httpx2.Response).json()
        assert stats["faults"] == {"api_error": 2, "overloaded": 1, "rate_limit": 1}


def test_the_sdk_retries_a_faulted_poll() -> None:
    config = EmulatorConfig(
        faults=(FaultRule(kind="overloaded", endpoint="batch_poll", nth=(1,), retry_after=0),)
    )
    with emulator_client(config, max_retries=2) as emu:
        batch = emu.client.messages.batches.create(requests=[item(0)])
        emu.advance(10)
        assert emu.client.messages.batches.retrieve(batch.id).processing_status == "ended"
        assert {r.custom_id for r in emu.client.messages.batches.results(batch.id)} == {"req-0"}


def test_the_spend_cap_429_has_no_retry_after_and_names_its_code() -> None:
    config = EmulatorConfig(faults=(FaultRule(kind="spend_limit", nth=(1,)),))
    with emulator_client(config) as emu:
        with pytest.raises(anthropic.RateLimitError) as info:
            emu.client.messages.create(**body())
        assert_error(info.value, 429, "rate_limit_error", "spend limit")
        assert "retry-after" not in info.value.response.headers
        assert info.value.response.json()["error"]["details"] == {
            "error_code": "enforced_spend_limit_reached"
        }
        assert emu.client.messages.create(**body()).stop_reason == "end_turn"
