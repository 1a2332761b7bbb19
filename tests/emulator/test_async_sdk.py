"""The async SDK against the emulator in-process (httpx2.ASGITransport, no socket)."""

from __future__ import annotations

import asyncio

import anthropic

from clawback.emulator.config import EmulatorConfig, LatencyConfig
from clawback.emulator.testing import async_emulator_client

from .helpers import assert_error, body, shape_of, text, user


def test_async_create_stream_count_and_errors() -> None:
    async def main() -> None:
        async with async_emulator_client() as emu:
            params = body(system=[text(800, ttl="5m")], messages=[user("async hello")])
            first = await emu.client.messages.create(**params)
            second = await emu.client.messages.create(**params)
            prefix = shape_of(params).prefix_tokens(0)
            assert first.usage.cache_creation_input_tokens == prefix == second.usage.cache_read_input_tokens
            async with emu.client.messages.stream(**params) as stream:
                text_out = "".join([t async for t in stream.text_stream])
                final = await stream.get_final_message()
            assert text_out == "async hello" and final.usage.cache_read_input_tokens == prefix
            counted = await emu.client.messages.count_tokens(
                model=params["model"], messages=params["messages"]
            )
            assert counted.input_tokens > 0
            try:
                await emu.client.messages.create(**body(model="claude-haiku-3-5"))
            except anthropic.NotFoundError as exc:
                assert_error(exc, 404, "not_found_error", "claude-haiku-3-5")
            else:
                raise AssertionError("expected a 404")
            models = await emu.client.models.list(limit=2)
            assert len(models.data) == 2

    asyncio.run(main())


def test_async_batches_and_the_clock() -> None:
    async def main() -> None:
        async with async_emulator_client() as emu:
            batches = emu.client.messages.batches
            batch = await batches.create(
                requests=[{"custom_id": f"a{i}", "params": body()} for i in range(3)]
            )
            emu.advance(3)
            done = await batches.retrieve(batch.id)
            assert done.processing_status == "ended" and done.request_counts.succeeded == 3
            ids = [r.custom_id async for r in await batches.results(batch.id)]
            assert sorted(ids) == ["a0", "a1", "a2"]
            page = await batches.list()
            assert [b.id for b in page.data] == [batch.id]
            assert (await batches.delete(batch.id)).type == "message_batch_deleted"

    asyncio.run(main())


def test_concurrent_requests_started_together_all_write() -> None:
    async def main() -> None:
        config = EmulatorConfig(
            clock="real",
            latency=LatencyConfig(enabled=True, ttft_seconds=0.2, output_tokens_per_second=10_000),
        )
        async with async_emulator_client(config) as emu:
            params = body(system=[text(800, ttl="5m")])
            fanned = await asyncio.gather(*(emu.client.messages.create(**params) for _ in range(3)))
            assert all(m.usage.cache_creation_input_tokens > 0 for m in fanned)
            assert all(m.usage.cache_read_input_tokens == 0 for m in fanned)
            after = await emu.client.messages.create(**params)
            assert after.usage.cache_read_input_tokens > 0

    asyncio.run(main())
