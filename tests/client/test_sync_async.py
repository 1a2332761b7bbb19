"""The async client behaves exactly as the sync one: same bodies sent, same usage, same ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic

import clawback
from clawback.client import ClientOptions
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
