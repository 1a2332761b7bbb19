"""One changed import: the SDK's signatures and types, plus ``task=``, planning and the ledger."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anthropic
import pytest
from anthropic.types import Message

import clawback
from clawback.emulator.testing import EmulatorSession
from clawback.pricing import load_catalogue, parse_usage, price_usage
from tests.client.conftest import SYSTEM, ClientFactory, ticket


def test_is_the_sdk_client_and_returns_its_types(make_client: ClientFactory) -> None:
    client = make_client()
    assert isinstance(client, anthropic.Anthropic)
    message = client.messages.create(**ticket(0), task="classify")
    assert isinstance(message, Message)
    assert message.usage.input_tokens > 0
    count = client.messages.count_tokens(
        model="claude-sonnet-5-5",
        system=SYSTEM,
        messages=[{"role": "user", "content": "hi"}],
        task="classify",
    )
    assert count.input_tokens > 1000


def test_the_plain_sdk_rejects_task_but_clawback_pops_it(
    emulator: EmulatorSession, make_client: ClientFactory
) -> None:
    with pytest.raises(TypeError):
        emulator.client.messages.create(**ticket(0), task="classify")  # type: ignore[call-arg]
    assert make_client().messages.create(**ticket(0), task="classify").stop_reason == "end_turn"


def test_planner_caches_the_system_prompt_and_the_ledger_agrees_with_usage(
    make_client: ClientFactory, emulator: EmulatorSession, tmp_path: Path
) -> None:
    client = make_client()
    catalogue = load_catalogue()
    from_usage = Decimal(0)
    reads = []
    for i in range(5):
        message = client.messages.create(**ticket(i), task="classify")
        reads.append(message.usage.cache_read_input_tokens)
        from_usage += price_usage(parse_usage(message.usage), catalogue.resolve(message.model)).total
        emulator.advance(20)
    assert reads[0] == 0
    assert all(r > 1000 for r in reads[1:])  # the planner put a breakpoint after the system prompt
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        records = list(ledger.iter_records())
        summary = ledger.summary(by="task")
    assert len(records) == 5
    assert {r.task for r in records} == {"classify"}
    assert all(r.api_key_id and "emulator" not in r.api_key_id for r in records)
    assert summary.overall.total_usd == from_usage  # exact, not just to the cent
    assert records[0].extra.get("cache_plan")


def test_no_text_is_kept_unless_samples_are_retained(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client()
    client.messages.create(**ticket(1), task="classify")
    client.close()
    raw = (tmp_path / "ledger.sqlite3").read_bytes()
    assert b"parcel" not in raw and b"meticulous" not in raw
    keeper = make_client(ledger=tmp_path / "samples.sqlite3", retain_samples=True)
    keeper.messages.create(**ticket(2), task="classify")
    keeper.close()
    with clawback.open_ledger(tmp_path / "samples.sqlite3") as ledger:
        (record,) = list(ledger.iter_records())
    assert record.sample is not None and "parcel" in record.sample


def test_streams_are_recorded_when_they_end(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client()
    with client.messages.stream(**ticket(3), task="chat") as stream:
        text = "".join(stream.text_stream)
    assert text
    events = list(client.messages.create(**ticket(4), stream=True, task="chat"))
    assert events[0].type == "message_start"
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        records = list(ledger.iter_records())
    assert len(records) == 2
    assert all(r.error is None and r.total is not None and r.stop_reason == "end_turn" for r in records)
    assert all(r.usage and r.usage["output_tokens"] > 0 for r in records)


def test_a_stream_closed_early_is_still_recorded(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client()
    stream = client.messages.create(**{**ticket(5), "max_tokens": 200}, stream=True, task="chat")
    next(iter(stream))
    stream.close()
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        (record,) = list(ledger.iter_records())
    assert record.error is not None and "closed before" in record.error.message
    assert record.usage and record.usage["input_tokens"] > 0  # the input was billed all the same


def test_concise_instruction_is_a_stable_system_suffix(
    make_client: ClientFactory, emulator: EmulatorSession
) -> None:
    client = make_client(concise=True)
    first = client.messages.create(**ticket(0))
    emulator.advance(5)
    second = client.messages.create(**ticket(1))
    assert second.usage.cache_read_input_tokens > first.usage.input_tokens  # suffix didn't break the cache


def test_unknown_model_still_gets_the_apis_404_and_a_record(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client()
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(**{**ticket(0), "model": "claude-haiku-3-5"}, task="classify")
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        (record,) = list(ledger.iter_records())
    assert record.error is not None and record.error.status == 404
    assert record.total is None  # never $0 by accident: no usage, no price
