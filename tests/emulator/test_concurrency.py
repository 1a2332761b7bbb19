"""Identical requests in flight together all write the cache, as on the API; sequential ones read."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from clawback.cache.rules import Entry
from clawback.emulator.config import EmulatorConfig
from clawback.emulator.testing import async_emulator_client, emulator_client
from clawback.emulator.visibility import Arrival, ArrivalStore

from .helpers import HAIKU, text, user

SYSTEM = [text(1500, "sys", ttl="5m")]


def params() -> dict[str, Any]:
    return {"model": HAIKU, "max_tokens": 8, "system": SYSTEM, "messages": [user("hi")]}


def test_five_simultaneous_identical_requests_all_write_then_the_next_one_reads() -> None:
    async def scenario() -> tuple[list[Any], Any]:
        async with async_emulator_client() as emu:  # default settings: latency off
            # the SDK's first call detects the platform in a thread, which would stagger the five
            await emu.client.models.list()
            fan = await asyncio.gather(*[emu.client.messages.create(**params()) for _ in range(5)])
            after = await emu.client.messages.create(**params())
            return [r.usage for r in fan], after.usage

    fan, after = asyncio.run(scenario())
    assert all(u.cache_creation_input_tokens > 0 and u.cache_read_input_tokens == 0 for u in fan)
    assert len({u.cache_creation_input_tokens for u in fan}) == 1
    assert after.cache_read_input_tokens == fan[0].cache_creation_input_tokens
    assert after.cache_creation_input_tokens == 0


def test_five_simultaneous_http_requests_on_a_real_clock_all_write() -> None:
    with emulator_client(EmulatorConfig(clock="real")) as emu:
        # the SDK's first call detects the platform in a thread, which would stagger the five on a
        # loaded machine past the writer's modelled time to first token
        emu.client.models.list()
        usages: list[Any] = [None] * 5
        barrier = threading.Barrier(5)

        def call(i: int) -> None:
            barrier.wait()
            usages[i] = emu.client.messages.create(**params()).usage

        threads = [threading.Thread(target=call, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [u.cache_creation_input_tokens > 0 for u in usages] == [True] * 5
    assert [u.cache_read_input_tokens for u in usages] == [0] * 5


def test_sequential_calls_on_one_connection_read_at_once_on_a_real_clock() -> None:
    with emulator_client(EmulatorConfig(clock="real")) as emu:
        first = emu.client.messages.create(**params()).usage
        second = emu.client.messages.create(**params()).usage
    assert first.cache_creation_input_tokens > 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens


KEY = ("ws", "m", "h")


def _write(store: ArrivalStore, arrival: Arrival | None, window: float = 0.0) -> None:
    with store.responding(arrival):
        store.window = window
        store[KEY] = Entry("5m", 1e9, 0.0, 10)


def _sees(store: ArrivalStore, arrival: Arrival) -> bool:
    with store.responding(arrival):
        return store.get(KEY) is not None


def test_an_entry_is_hidden_from_requests_that_arrived_before_its_response_began() -> None:
    store = ArrivalStore()
    early = Arrival(store.begun)
    _write(store, Arrival(store.begun))
    late = Arrival(store.begun)
    assert not _sees(store, early)
    assert _sees(store, late)
    assert store.get(KEY) is not None  # outside a request everything is visible


def test_other_connections_wait_for_the_modelled_first_token_in_wall_time() -> None:
    store = ArrivalStore()
    _write(store, Arrival(store.begun, ("127.0.0.1", 1), wall=100.0, fanout=True), window=0.4)
    order = store.begun
    assert _sees(store, Arrival(order, ("127.0.0.1", 1), wall=100.1, fanout=True))  # same connection
    assert not _sees(store, Arrival(order, ("127.0.0.1", 2), wall=100.1, fanout=True))
    assert _sees(store, Arrival(order, ("127.0.0.1", 2), wall=100.5, fanout=True))


def test_deleting_and_clearing_forget_the_stamps() -> None:
    store = ArrivalStore()
    _write(store, Arrival(0))
    del store[KEY]
    assert KEY not in store
    _write(store, None)
    store.clear()
    assert len(store) == 0 and store.get(KEY) is None
