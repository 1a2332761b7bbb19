from __future__ import annotations

from pathlib import Path

from clawback.settings import Secret, Settings, mask_key


def test_settings_from_injected_environment() -> None:
    s = Settings.from_env(
        {
            "CLAWBACK_HOME": "/data/cb",
            "CLAWBACK_PRICES": "a.toml:b.json",
            "ANTHROPIC_API_KEY": "sk-ant-api03-secretvalue1234",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:8765",
        }
    )
    assert s.home == Path("/data/cb")
    assert s.price_files == (Path("a.toml"), Path("b.json"))
    assert s.base_url == "http://127.0.0.1:8765"
    assert s.ledger_location == "/data/cb/ledger.sqlite3"
    assert "secretvalue" not in repr(s) and "secretvalue" not in str(s.api_key)
    assert s.api_key is not None and s.api_key.reveal().endswith("1234")


def test_default_home_follows_xdg_then_home() -> None:
    assert Settings.from_env({"XDG_DATA_HOME": "/x"}).home == Path("/x/clawback")
    assert Settings.from_env({"HOME": "/h"}).home == Path("/h/.local/share/clawback")


def test_override_applies_only_given_values() -> None:
    s = Settings.from_env({"CLAWBACK_HOME": "/d", "CLAWBACK_LEDGER": "env.db"})
    assert s.override(ledger=None).ledger == "env.db"
    assert s.override(ledger="arg.db").ledger == "arg.db"


def test_mask_key() -> None:
    assert mask_key("sk-ant-api03-abcdefgh9999") == "sk-ant-…9999"
    assert mask_key(None) == "<none>"
    assert mask_key("short") == "…"
    assert "abcdef" not in repr(Secret("sk-ant-abcdefghij"))
