"""Every path of the official SDK to the Messages API keeps clawback.

A walk over the SDK's public surface, from a clawback client, finds every method of every Messages
API resource (``messages``, ``beta.messages``, their ``batches``, and the raw and streamed response
wrappers of each) and fails when one would send a billable request past the ledger — so a method a
new SDK release adds must be classified here before the suite passes. Then each billable path is
exercised through the SDK against the emulator, sync and async, and must leave one ledger row whose
cost is the usage's price.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import pytest

import clawback
from clawback.client import ClientOptions
from clawback.emulator.testing import TEST_KEY, EmulatorSession, async_emulator_client
from clawback.pricing import load_catalogue, parse_usage, price_usage

BILLABLE = {"create", "stream", "parse", "results"}
"""Methods that send (or, for batch results, deliver) billed calls: each must be clawback's."""
FREE = {"count_tokens", "retrieve", "list", "delete", "cancel"}
"""Methods the API does not bill: the SDK's own, untouched."""
VIA_CREATE = {"tool_runner", "thread"}
"""SDK helpers whose every request is ``client.beta.messages.create`` (clawback's): see the SDK's
``lib/threads/_beta_threads.py``."""
ROOTS = ("messages", "beta.messages")
WRAPPERS = ("with_raw_response", "with_streaming_response")
BODY = {"model": "claude-haiku-5-5", "max_tokens": 16, "messages": [{"role": "user", "content": "Hello"}]}


def _resolve(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def _origin(fn: Any) -> str:
    """The module that defines ``fn`` (through bound methods and ``functools.wraps`` wrappers)."""
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    fn = getattr(fn, "__func__", fn)
    return str(getattr(fn, "__module__", ""))


def _public_methods(resource: Any) -> Iterator[tuple[str, Any]]:
    names = set(vars(resource)) | {n for klass in type(resource).__mro__ for n in vars(klass)}
    for name in sorted(names):
        if name.startswith("_") or name in WRAPPERS or name == "batches":
            continue
        attr = inspect.getattr_static(resource, name)
        if isinstance(attr, property) or type(attr).__name__ == "cached_property":
            continue
        value = getattr(resource, name)
        if callable(value):
            yield name, value


def _surface(client: Any) -> Iterator[tuple[str, str, Any]]:
    """(path, method name, method) for every Messages API resource reachable from ``client``."""
    starts = [*ROOTS, *(f"{w}.{r}" for w in WRAPPERS for r in ROOTS)]
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        resource = _resolve(client, path)
        for name, method in _public_methods(resource):
            yield path, name, method
        for sub in ("batches", *WRAPPERS):
            if hasattr(resource, sub) and not path.endswith(sub):
                todo.append(f"{path}.{sub}")


@pytest.mark.parametrize("make", [clawback.Anthropic, clawback.AsyncAnthropic])
def test_no_sdk_method_of_the_messages_api_bypasses_the_ledger(
    make: Callable[..., Any], tmp_path: Path
) -> None:
    client = make(api_key=TEST_KEY, base_url="http://127.0.0.1:9", ledger=False)
    found = list(_surface(client))
    assert len(found) > 40  # the walk reaches every wrapper of every resource
    unknown = sorted({f"{p}.{n}" for p, n, _ in found if n not in BILLABLE | FREE | VIA_CREATE})
    assert unknown == [], f"new SDK methods: decide whether they bill and keep clawback on them: {unknown}"
    bypass = sorted(
        f"{p}.{n}" for p, n, fn in found if n in BILLABLE and not _origin(fn).startswith("clawback.")
    )
    assert bypass == []
    # a Messages API resource the walk does not start from would be a path past the ledger
    for parent in (client, client.beta):
        for name in dir(type(parent)):
            attr = inspect.getattr_static(parent, name, None)
            if type(attr).__name__ != "cached_property" or name.startswith("_") or name in WRAPPERS:
                continue
            module = type(getattr(parent, name)).__module__
            if ".messages" in module and not module.startswith("clawback."):
                pytest.fail(f"{name} is an SDK Messages API resource clawback does not replace ({module})")


def _sync_paths() -> dict[str, Callable[[Any], Any]]:
    def stream_helper(c: Any) -> Any:
        with c.messages.stream(**BODY, task="t") as s:
            return s.get_final_message()

    def beta_stream(c: Any) -> Any:
        with c.beta.messages.stream(**BODY, task="t") as s:
            return s.get_final_message()

    def raw(c: Any) -> Any:
        return c.messages.with_raw_response.create(**BODY, task="t").parse()

    def raw_parse(c: Any) -> Any:
        return c.beta.messages.with_raw_response.parse(**BODY, task="t").parse()

    def raw_stream_events(c: Any) -> Any:
        return list(c.with_raw_response.beta.messages.create(**BODY, stream=True, task="t").parse())

    def streamed_response(c: Any) -> Any:
        with c.messages.with_streaming_response.create(**BODY, task="t") as response:
            return response.parse()

    def streamed_lines(c: Any) -> Any:
        with c.beta.messages.with_streaming_response.create(**BODY, stream=True, task="t") as response:
            return list(response.iter_lines())

    return {
        "messages.create": lambda c: c.messages.create(**BODY, task="t"),
        "messages.create(stream)": lambda c: list(c.messages.create(**BODY, stream=True, task="t")),
        "messages.parse": lambda c: c.messages.parse(**BODY, task="t"),
        "messages.stream": stream_helper,
        "beta.messages.create": lambda c: c.beta.messages.create(**BODY, task="t"),
        "beta.messages.parse": lambda c: c.beta.messages.parse(**BODY, task="t"),
        "beta.messages.stream": beta_stream,
        "messages.with_raw_response.create": raw,
        "beta.messages.with_raw_response.parse": raw_parse,
        "with_raw_response.beta.messages.create(stream)": raw_stream_events,
        "messages.with_streaming_response.create": streamed_response,
        "beta.messages.with_streaming_response.create(stream) lines": streamed_lines,
        "with_options(...).messages.create": lambda c: c.with_options(timeout=30).messages.create(**BODY),
        "copy(...).beta.messages.create": lambda c: c.copy(max_retries=0).beta.messages.create(**BODY),
    }


def _one_row_priced(ledger: Path) -> None:
    with clawback.open_ledger(ledger) as book:
        (record,) = list(book.iter_records())
    assert record.usage is not None and record.error is None
    expected = price_usage(parse_usage(record.usage), load_catalogue().resolve("claude-haiku-5-5")).total
    assert record.total == expected and record.source == "client" and record.baseline_usd is not None


@pytest.mark.parametrize("path", sorted(_sync_paths()))
def test_every_sync_path_is_recorded_once(emulator: EmulatorSession, tmp_path: Path, path: str) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    client = clawback.Anthropic(
        base_url=emulator.base_url, api_key=TEST_KEY, max_retries=0, ledger=ledger,
        options=ClientOptions(clock=emulator.state.clock.now, seed_from_ledger=0),
    )  # fmt: skip
    _sync_paths()[path](client)
    client.close()
    _one_row_priced(ledger)


def _async_paths() -> dict[str, Callable[[Any], Any]]:
    async def stream_helper(c: Any) -> Any:
        async with c.beta.messages.stream(**BODY, task="t") as s:
            return await s.get_final_message()

    async def events(c: Any) -> Any:
        return [e async for e in await c.messages.create(**BODY, stream=True, task="t")]

    async def raw(c: Any) -> Any:
        return await (await c.beta.messages.with_raw_response.create(**BODY, task="t")).parse()

    async def streamed_lines(c: Any) -> Any:
        async with c.messages.with_streaming_response.create(**BODY, stream=True, task="t") as response:
            return [line async for line in response.iter_lines()]

    return {
        "messages.create": lambda c: c.messages.create(**BODY, task="t"),
        "messages.create(stream)": events,
        "beta.messages.parse": lambda c: c.beta.messages.parse(**BODY, task="t"),
        "beta.messages.stream": stream_helper,
        "beta.messages.with_raw_response.create": raw,
        "messages.with_streaming_response.create(stream) lines": streamed_lines,
        "with_options(...).messages.create": lambda c: c.with_options(timeout=30).messages.create(**BODY),
    }


@pytest.mark.parametrize("path", sorted(_async_paths()))
def test_every_async_path_is_recorded_once(tmp_path: Path, path: str) -> None:
    ledger = tmp_path / "ledger.sqlite3"

    async def main() -> None:
        async with async_emulator_client() as emu:
            client = clawback.AsyncAnthropic(
                base_url=emu.base_url, api_key=TEST_KEY, max_retries=0, ledger=ledger,
                http_client=emu.client._client, options=ClientOptions(seed_from_ledger=0),
            )  # fmt: skip
            await _async_paths()[path](client)
            client.clawback.close()

    asyncio.run(main())
    _one_row_priced(ledger)


def test_batch_results_are_recorded_once_at_batch_prices(emulator: EmulatorSession, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    client = clawback.Anthropic(base_url=emulator.base_url, api_key=TEST_KEY, max_retries=0, ledger=ledger)
    requests = [{"custom_id": f"r{i}", "params": BODY} for i in range(3)]
    batch = client.messages.batches.create(requests=requests, task="nightly")  # type: ignore[arg-type]
    beta = client.beta.messages.batches.create(requests=requests[:2])  # type: ignore[arg-type]
    emulator.advance(3600)
    items = list(client.messages.batches.results(batch.id))
    list(client.messages.batches.results(batch.id))  # read twice: still recorded once
    list(client.beta.messages.batches.with_raw_response.results(beta.id).parse())
    client.close()
    with clawback.open_ledger(ledger) as book:
        records = list(book.iter_records())
        summary = book.summary(by="task")
    assert len(records) == 5 and all(r.service_tier == "batch" and r.source == "client" for r in records)
    info = load_catalogue().resolve("claude-haiku-5-5")
    billed = sum(
        (
            price_usage(parse_usage(i.result.message.usage), info).total
            for i in items
            if i.result.type == "succeeded"
        ),  # type: ignore[union-attr]
        Decimal(0),
    )
    nightly = next(g for g in summary.groups if g.key == "nightly")
    assert nightly.calls == 3 and nightly.total_usd == billed
    assert nightly.baseline_usd == 2 * billed  # the same calls at the standard tier


def test_sdk_errors_still_surface_through_every_wrapper(emulator: EmulatorSession, tmp_path: Path) -> None:
    client = clawback.Anthropic(
        base_url=emulator.base_url, api_key=TEST_KEY, max_retries=0, ledger=tmp_path / "l.sqlite3"
    )
    with pytest.raises(anthropic.NotFoundError):
        client.beta.messages.with_raw_response.create(**{**BODY, "model": "claude-nonexistent-9"})
    client.close()
    with clawback.open_ledger(tmp_path / "l.sqlite3") as book:
        (record,) = list(book.iter_records())
    assert record.error is not None and record.error.status == 404
