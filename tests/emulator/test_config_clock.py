"""Configuration files and the virtual clock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from clawback.emulator.clock import VirtualClock, iso
from clawback.emulator.config import EmulatorConfig, load_config
from clawback.errors import InputFileError


def test_defaults_make_a_working_emulator() -> None:
    config = EmulatorConfig()
    assert config.auth_keys is None and config.clock == "real" and config.batch.seconds == 3.0
    assert config.limits.messages_body_bytes == 32 * 1024 * 1024 and config.limits.batch_requests == 100_000


def test_toml_and_json_files(tmp_path: Path) -> None:
    toml = tmp_path / "emu.toml"
    toml.write_text(
        'clock = "manual"\nauth_keys = ["sk-ant-secret-1234"]\n[batch]\nseconds = 1.5\n'
        '[responder]\nkind = "replay"\nreplay_file = "rec.jsonl"\n[[faults]]\nkind = "overloaded"\nnth = [3]\n'
    )
    config = load_config(toml)
    assert config.clock == "manual" and config.batch.seconds == 1.5 and config.faults[0].nth == (3,)
    assert config.responder.replay_file == tmp_path / "rec.jsonl"  # relative to the config file
    assert "sk-ant-secret-1234" not in repr(config)
    js = tmp_path / "emu.json"
    js.write_text('{"latency": {"enabled": true, "ttft_seconds": 0.1}}')
    assert load_config(js).latency.ttft_seconds == 0.1


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("bad.toml", "clock = ", "not valid TOML"),
        ("bad.json", "{", "not valid JSON"),
        ("list.json", "[1]", "expected a table"),
        ("field.toml", 'clock = "sometimes"', "clock"),
        ("extra.toml", "colour = 1", "colour"),
        ("nth.toml", '[[faults]]\nkind = "overloaded"\nnth = [0]', "faults.0.nth"),
        ("kind.toml", '[[faults]]\nkind = "explode"', "faults.0.kind"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, name: str, content: str, fragment: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputFileError) as info:
        load_config(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read emulator config"):
        load_config(tmp_path / "nope.toml")


def test_overrides_keep_secrets() -> None:
    config = EmulatorConfig.model_validate({"auth_keys": ["k1"]}).with_overrides(clock="manual", seed=None)
    assert config.clock == "manual" and config.auth_keys is not None
    assert config.auth_keys[0].get_secret_value() == "k1"


def test_manual_clock_moves_only_when_told() -> None:
    clock = VirtualClock("manual", start=1_000.0)
    assert clock.now() == 1_000.0 and clock.advance(300) == 1_300.0 and clock.now() == 1_300.0
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    asyncio.run(clock.sleep(3600))  # returns at once
    assert clock.now() == 1_300.0 and "manual" in repr(clock)


def test_real_clock_runs_and_can_be_offset() -> None:
    clock = VirtualClock("real")
    before = clock.now()
    assert abs(before - time.time()) < 5
    assert clock.advance(3600) - before >= 3600
    assert VirtualClock("real", start=0.0).now() < 100


def test_a_fast_real_clock() -> None:
    clock = VirtualClock("real", start=0.0, speed=1000.0)
    asyncio.run(clock.sleep(50))  # 50 virtual seconds in about 0.05 s
    assert clock.now() >= 50
    with pytest.raises(ValueError, match="positive"):
        VirtualClock(speed=0)


def test_iso() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000000Z"
