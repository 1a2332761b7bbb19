"""Identical requests in flight together all write the cache, as on the API; sequential ones read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anthropic
import httpx2

from clawback.cache.rules import Entry
from clawback.emulator.config import EmulatorConfig, LatencyConfig
from clawback.emulator.testing import EmulatorSession, async_emulator_client, emulator_client
from clawback.emulator.visibility import Arrival, ArrivalStore

from .helpers import HAIKU, text, user

SYSTEM = [text(1500, "sys", ttl="5m")]
HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-emulator-test-key"}


def params() -> dict[str, Any]:
    return {"model": HAIKU, "max_tokens": 8, "system": SYSTEM, "messages": [user("hi")]}


@contextmanager
def _clients(emu: EmulatorSession) -> Iterator[list[anthropic.Anthropic]]:
    """Five SDK clients, each with its own connection pool, warmed (the SDK's first call detects the
    platform in a thread): five threads sharing one pool could find a connection another thread had
    already used and returned, which is a sequential call on that connection, and reads."""
    with ExitStack() as stack:
        clients = [
            stack.enter_context(emu.client.copy(http_client=httpx2.Client(base_url=emu.base_url)))
            for _ in range(5)
        ]
        for client in clients:
            client.models.list()
        yield clients


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


def _five_at_once(clients: list[Any]) -> list[Any]:
    """The usage of one identical request from each of five threads released together."""
    usages: list[Any] = [None] * 5
    barrier = threading.Barrier(5)

    def call(i: int) -> None:
        barrier.wait()
        usages[i] = clients[i].messages.create(**params()).usage

    threads = [threading.Thread(target=call, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return usages


def test_five_simultaneous_http_requests_on_a_real_clock_all_write() -> None:
    # a long modelled time to first token (nothing waits for it with latency off), so that a loaded
    # machine cannot stagger the five past it: the test does not depend on timing
    config = EmulatorConfig(clock="real", latency=LatencyConfig(ttft_seconds=60))
    with emulator_client(config) as emu, ExitStack() as stack:
        clients = stack.enter_context(_clients(emu))
        usages = _five_at_once(clients)
    assert [u.cache_creation_input_tokens > 0 for u in usages] == [True] * 5
    assert [u.cache_read_input_tokens for u in usages] == [0] * 5


def test_five_http_requests_on_a_manual_clock_arriving_apart_all_write() -> None:
    """The default of the test helpers (manual clock, latency off): a fan-out whose requests reach the
    server milliseconds apart, each after the previous one's (instant) answer, still writes five
    times, as on the API, where none of the five would have begun responding yet."""
    with emulator_client() as emu:
        posts = []
        for _ in range(5):  # five connections, one after the other: deterministic "milliseconds apart"
            with httpx2.Client(base_url=emu.base_url) as http:
                posts.append(http.post("/v1/messages", json=params(), headers=HEADERS).json()["usage"])
        same = [emu.client.messages.create(**params()).usage for _ in range(2)]  # one keep-alive connection
        emu.advance(1)  # past the writers' modelled time to first token: their responses have begun
        with httpx2.Client(base_url=emu.base_url) as http:
            later = http.post("/v1/messages", json=params(), headers=HEADERS).json()["usage"]
    assert [u["cache_creation_input_tokens"] > 0 for u in posts] == [True] * 5
    assert [u["cache_read_input_tokens"] for u in posts] == [0] * 5
    assert same[0].cache_creation_input_tokens > 0  # another connection, same instant: writes too
    assert same[1].cache_read_input_tokens == same[0].cache_creation_input_tokens  # its own: reads
    assert later["cache_read_input_tokens"] == posts[0]["cache_creation_input_tokens"]
    assert later["cache_creation_input_tokens"] == 0


def test_five_threads_over_http_on_a_manual_clock_all_write() -> None:
    with emulator_client() as emu, ExitStack() as stack:
        clients = stack.enter_context(_clients(emu))
        usages = _five_at_once(clients)
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
    _write(store, Arrival(store.begun, ("127.0.0.1", 1), at=100.0, fanout=True), window=0.4)
    order = store.begun
    assert _sees(store, Arrival(order, ("127.0.0.1", 1), at=100.1, fanout=True))  # same connection
    assert not _sees(store, Arrival(order, ("127.0.0.1", 2), at=100.1, fanout=True))
    assert _sees(store, Arrival(order, ("127.0.0.1", 2), at=100.5, fanout=True))


def test_deleting_and_clearing_forget_the_stamps() -> None:
    store = ArrivalStore()
    _write(store, Arrival(0))
    del store[KEY]
    assert KEY not in store
    _write(store, None)
    store.clear()
    assert len(store) == 0 and store.get(KEY) is None
