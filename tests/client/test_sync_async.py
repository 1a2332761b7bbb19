"""The async client behaves exactly as the sync one: same bodies sent, same usage, same ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import pydantic
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from anthropic.types import Message, MessageTokensCount, ParsedMessage

import clawback
from clawback.client import ClientOptions
from clawback.emulator import EmulatorConfig
from clawback.emulator.config import ResponderConfig
from clawback.emulator.testing import TEST_KEY, async_emulator_client, emulator_client
from tests.client.conftest import SYSTEM


def _workload() -> list[dict[str, Any]]:
    conversation: list[dict[str, Any]] = []
    calls = []
    for turn in range(4):
        conversation = [*conversation, {"role": "user", "content": f"question {turn} about my order"}]
        calls.append(
            {"model": "claude-haiku-5-5", "max_tokens": 40, "system": SYSTEM, "messages": conversation}
        )
        conversation = [*conversation, {"role": "assistant", "content": f"answer {turn}"}]
    return calls


def _summarise(ledger_path: Path) -> list[tuple[Any, ...]]:
    with clawback.open_ledger(ledger_path) as ledger:
        return [
            (
                r.task,
                r.served_model,
                r.total_usd,
                r.stop_reason,
                dict(r.usage or {}),
                r.extra.get("cache_plan"),
            )
            for r in ledger.iter_records()
        ]


def test_sync_and_async_clients_send_the_same_and_record_the_same(tmp_path: Path) -> None:
    sync_usage = []
    with emulator_client() as emu:
        client = clawback.Anthropic(
            base_url=emu.base_url,
            api_key=TEST_KEY,
            max_retries=0,
            ledger=tmp_path / "sync.db",
            options=ClientOptions(clock=emu.state.clock.now),
        )
        for body in _workload():
            sync_usage.append(client.messages.create(**body, task="chat").usage.model_dump())
            emu.advance(30)
        with client.messages.stream(**_workload()[0], task="chat") as stream:
            stream.until_done()
        client.close()

    async def run() -> list[dict[str, Any]]:
        out = []
        async with async_emulator_client() as emu:
            client = clawback.AsyncAnthropic(
                base_url=emu.base_url,
                api_key=TEST_KEY,
                max_retries=0,
                http_client=emu.client._client,
                ledger=tmp_path / "async.db",
                options=ClientOptions(clock=emu.state.clock.now),
            )
            assert isinstance(client, anthropic.AsyncAnthropic)
            for body in _workload():
                out.append((await client.messages.create(**body, task="chat")).usage.model_dump())
                emu.advance(30)
            async with client.messages.stream(**_workload()[0], task="chat") as stream:
                await stream.until_done()
            await client.close()
        return out

    async_usage = asyncio.run(run())
    assert sync_usage == async_usage
    assert any(u["cache_read_input_tokens"] for u in sync_usage)
    assert _summarise(tmp_path / "sync.db") == _summarise(tmp_path / "async.db")


class _Answer(pydantic.BaseModel):
    category: str


_JSON_ANSWERS = EmulatorConfig(
    responder=ResponderConfig(kind="template", templates={"claude-sonnet-5-5": '{"category": "refund"}'})
)
_ASK = {"model": "claude-sonnet-5-5", "max_tokens": 40, "messages": [{"role": "user", "content": "refund?"}]}


def test_parse_count_tokens_and_stream_return_the_sdks_types_sync_and_async(tmp_path: Path) -> None:
    seen: dict[str, list[str]] = {"sync": [], "async": []}
    with emulator_client(_JSON_ANSWERS) as emu:
        client = clawback.Anthropic(
            base_url=emu.base_url, api_key=TEST_KEY, max_retries=0, ledger=tmp_path / "sync.db"
        )
        parsed = client.messages.parse(**_ASK, output_format=_Answer, task="t")
        assert isinstance(parsed, ParsedMessage) and parsed.parsed_output == _Answer(category="refund")
        count = client.messages.count_tokens(model=_ASK["model"], messages=_ASK["messages"], task="t")
        assert isinstance(count, MessageTokensCount) and count.input_tokens > 0
        with client.messages.stream(**_ASK, task="t") as stream:
            assert isinstance(stream, MessageStream)
            assert isinstance(stream.get_final_message(), Message)
        seen["sync"] = [type(parsed).__name__, type(count).__name__]
        client.close()

    async def run() -> None:
        async with async_emulator_client(_JSON_ANSWERS) as emu:
            client = clawback.AsyncAnthropic(
                base_url=emu.base_url,
                api_key=TEST_KEY,
                max_retries=0,
                http_client=emu.client._client,
                ledger=tmp_path / "async.db",
            )
            parsed = await client.messages.parse(**_ASK, output_format=_Answer, task="t")
            assert isinstance(parsed, ParsedMessage) and parsed.parsed_output == _Answer(category="refund")
            count = await client.messages.count_tokens(
                model=_ASK["model"], messages=_ASK["messages"], task="t"
            )
            assert isinstance(count, MessageTokensCount)
            async with client.messages.stream(**_ASK, task="t") as stream:
                assert isinstance(stream, AsyncMessageStream)
                assert isinstance(await stream.get_final_message(), Message)
            seen["async"] = [type(parsed).__name__, type(count).__name__]
            await client.close()

    asyncio.run(run())
    assert seen["sync"] == seen["async"]
    for name in ("sync.db", "async.db"):  # parse and stream are recorded, count_tokens is free
        with clawback.open_ledger(tmp_path / name) as ledger:
            records = list(ledger.iter_records())
        assert [r.task for r in records] == ["t", "t"] and all(r.total_usd for r in records)
