"""529 and 5xx after the SDK's retries go to the fallback models; every attempt is recorded."""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest

import clawback
from clawback.client import ClientOptions
from clawback.emulator import EmulatorConfig
from clawback.emulator.config import FaultRule
from clawback.emulator.testing import TEST_KEY, emulator_client
from tests.client.conftest import ticket


def _client(emu, tmp_path: Path, **options):  # type: ignore[no-untyped-def]
    return clawback.Anthropic(
        base_url=emu.base_url,
        api_key=TEST_KEY,
        max_retries=1,
        ledger=tmp_path / "l.db",
        options=ClientOptions(clock=emu.state.clock.now, **options),
    )


def test_overloaded_model_falls_back_and_both_attempts_are_recorded(tmp_path: Path) -> None:
    config = EmulatorConfig(
        faults=(FaultRule(kind="overloaded", model="claude-opus-5-5", rate=1.0, retry_after=0),)
    )
    with emulator_client(config) as emu:
        client = _client(emu, tmp_path, fallbacks=("claude-sonnet-5-5",))
        message = client.messages.create(**{**ticket(0), "model": "claude-opus-5-5"}, task="triage")
        assert message.model == "claude-sonnet-5-5"
        client.close()
    with clawback.open_ledger(tmp_path / "l.db") as ledger:
        failed, served = list(ledger.iter_records())
    assert failed.error is not None and failed.error.status == 529 and failed.total is None
    assert served.requested_model == "claude-opus-5-5" and served.served_model == "claude-sonnet-5-5"
    assert served.fallback_from == "claude-opus-5-5" and served.total is not None


def test_server_errors_try_every_fallback_then_raise(tmp_path: Path) -> None:
    config = EmulatorConfig(faults=(FaultRule(kind="api_error", rate=1.0),))
    with emulator_client(config) as emu:
        client = _client(emu, tmp_path, fallbacks=("claude-sonnet-5-5", "claude-haiku-5-5"))
        with pytest.raises(anthropic.InternalServerError):
            client.messages.create(**{**ticket(0), "model": "claude-opus-5-5"})
        client.close()
    with clawback.open_ledger(tmp_path / "l.db") as ledger:
        records = list(ledger.iter_records())
    assert [r.served_model for r in records] == ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"]
    assert [r.fallback_from for r in records] == [None, "claude-opus-5-5", "claude-sonnet-5-5"]


def test_client_errors_do_not_fall_back(tmp_path: Path) -> None:
    with emulator_client() as emu:
        client = _client(emu, tmp_path, fallbacks=("claude-haiku-5-5",))
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(**{**ticket(0), "max_tokens": -1})
        client.close()


def test_streams_fall_back_when_opening_fails(tmp_path: Path) -> None:
    config = EmulatorConfig(
        faults=(FaultRule(kind="overloaded", model="claude-opus-5-5", rate=1.0, retry_after=0),)
    )
    with emulator_client(config) as emu:
        client = _client(emu, tmp_path, fallbacks=("claude-haiku-5-5",))
        with client.messages.stream(**{**ticket(0), "model": "claude-opus-5-5"}) as stream:
            assert stream.get_final_message().model == "claude-haiku-5-5"
        client.close()
    with clawback.open_ledger(tmp_path / "l.db") as ledger:
        records = list(ledger.iter_records())
    assert [r.fallback_from for r in records] == [None, "claude-opus-5-5"]


def test_a_mid_stream_error_is_recorded_with_the_usage_so_far(tmp_path: Path) -> None:
    config = EmulatorConfig(faults=(FaultRule(kind="stream_error", after_events=3, rate=1.0),))
    with emulator_client(config) as emu:
        client = _client(emu, tmp_path)
        with pytest.raises(anthropic.APIStatusError):
            for _ in client.messages.create(**{**ticket(0), "max_tokens": 200}, stream=True):
                pass
        client.close()
    with clawback.open_ledger(tmp_path / "l.db") as ledger:
        (record,) = list(ledger.iter_records())
    assert record.error is not None and record.usage and record.usage["input_tokens"] > 0
