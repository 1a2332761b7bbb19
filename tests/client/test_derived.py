"""Clients made by the SDK's ``with_options`` and ``copy`` keep clawback: ledger, fallbacks, routing, options."""

from __future__ import annotations

import asyncio
from pathlib import Path

import clawback
from clawback.client import ClientOptions
from clawback.emulator import EmulatorConfig
from clawback.emulator.config import FaultRule
from clawback.emulator.testing import TEST_KEY, async_emulator_client, emulator_client
from tests.client.conftest import ticket
from tests.client.test_routing_client import CASCADE, HAIKU, SONNET, _body

OPUS = "claude-opus-5-5"
OVERLOADED = EmulatorConfig(faults=(FaultRule(kind="overloaded", model=OPUS, rate=1.0, retry_after=0),))


def _records(path: Path) -> list[clawback.CallRecord]:
    with clawback.open_ledger(path) as ledger:
        return list(ledger.iter_records())


def test_with_options_and_copy_keep_ledger_fallbacks_routing_and_options(tmp_path: Path) -> None:
    ledger, routing = tmp_path / "mine.sqlite3", tmp_path / "routing.toml"
    routing.write_text(CASCADE)
    with emulator_client(OVERLOADED) as emu:
        client = clawback.Anthropic(
            base_url=emu.base_url, api_key=TEST_KEY, max_retries=0, ledger=ledger, routing=routing,
            fallbacks=[SONNET], options=ClientOptions(clock=emu.state.clock.now, retain_samples=True),
        )  # fmt: skip
        for derived in (client.with_options(timeout=30), client.copy(max_retries=1)):
            assert isinstance(derived, clawback.Anthropic) and derived.clawback is client.clawback
            served = derived.messages.create(**{**ticket(0), "model": OPUS}, task="triage")
            assert served.model == SONNET  # the fallback was tried
            assert derived.messages.create(**_body("faq?"), task="faq").model == HAIKU  # routed
        assert client.with_options(timeout=5).timeout == 5 and client.timeout != 5  # the SDK's option applies
        client.close()
    records = _records(ledger)  # the configured ledger, not the default one
    assert not (tmp_path / "clawback-home" / "ledger.sqlite3").exists()
    assert [(r.requested_model, r.served_model, r.error is not None) for r in records] == [
        (OPUS, OPUS, True),
        (OPUS, SONNET, False),
        (SONNET, HAIKU, False),
    ] * 2
    assert all(r.sample is not None for r in records)  # the options came along (retain_samples)


def test_copy_can_change_clawbacks_own_settings(tmp_path: Path) -> None:
    with emulator_client(OVERLOADED) as emu:
        client = clawback.Anthropic(
            base_url=emu.base_url, api_key=TEST_KEY, max_retries=0, ledger=tmp_path / "a.sqlite3",
            options=ClientOptions(clock=emu.state.clock.now),
        )  # fmt: skip
        other = client.with_options(fallbacks=[SONNET], ledger=tmp_path / "b.sqlite3")
        assert other.clawback is not client.clawback
        assert other.messages.create(**{**ticket(0), "model": OPUS}).model == SONNET
        client.messages.create(**ticket(1))
        other.close()  # as in the SDK, this also closes the HTTP connection pool the two share
        client.clawback.close()
    assert len(_records(tmp_path / "b.sqlite3")) == 2 and len(_records(tmp_path / "a.sqlite3")) == 1


def test_another_api_key_gets_its_own_key_id_in_the_same_ledger(tmp_path: Path) -> None:
    with emulator_client() as emu:
        client = clawback.Anthropic(base_url=emu.base_url, api_key=TEST_KEY, ledger=tmp_path / "l.sqlite3")
        other = client.with_options(api_key="sk-ant-emulator-other-key")
        client.messages.create(**ticket(0))
        other.messages.create(**ticket(1))
        other.clawback.close()
        client.close()
    first, second = _records(tmp_path / "l.sqlite3")
    assert first.api_key_id != second.api_key_id


def test_async_with_options_keeps_the_ledger_and_fallbacks(tmp_path: Path) -> None:
    async def main() -> str:
        async with async_emulator_client(OVERLOADED) as emu:
            client = clawback.AsyncAnthropic(
                base_url=emu.base_url, api_key=TEST_KEY, max_retries=0, ledger=tmp_path / "l.sqlite3",
                http_client=emu.client._client, fallbacks=[SONNET],
            )  # fmt: skip
            derived = client.with_options(timeout=30)
            message = await derived.messages.create(**{**ticket(0), "model": OPUS})
            client.clawback.close()
            return str(message.model)

    assert asyncio.run(main()) == SONNET
    assert [r.served_model for r in _records(tmp_path / "l.sqlite3")] == [OPUS, SONNET]
