from __future__ import annotations

import json
from pathlib import Path

import pytest

from clawback.errors import ClawbackError, InputFileError
from clawback.settings import Secret, Settings, mask_key
from tests.cli.helpers import assert_one_line_error, clawback


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


# ---- precedence: argument > config file > environment > default ----------------------------------


def _config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("env", "config", "argument", "expected"),
    [
        ({}, None, None, "/h/.local/share/clawback/ledger.sqlite3"),  # default
        ({"CLAWBACK_LEDGER": "env.db"}, None, None, "env.db"),  # environment over default
        ({"CLAWBACK_LEDGER": "env.db"}, 'ledger = "postgresql://cfg/db"', None, "postgresql://cfg/db"),
        ({"CLAWBACK_LEDGER": "env.db"}, 'ledger = "postgresql://cfg/db"', "arg.db", "arg.db"),
        ({}, None, "arg.db", "arg.db"),
    ],
)
def test_precedence_for_one_value(
    tmp_path: Path, env: dict[str, str], config: str | None, argument: str | None, expected: str
) -> None:
    env = {"HOME": "/h", "XDG_CONFIG_HOME": str(tmp_path / "none"), **env}
    path = _config(tmp_path, config) if config is not None else None
    s = Settings.load(env, config_file=path, ledger=argument)
    assert s.ledger_location == expected


def test_config_file_found_by_variable_or_default_location(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "clawback").mkdir(parents=True)
    (xdg / "clawback" / "config.toml").write_text('home = "data"\nrouting = "/etc/routing.toml"\n')
    s = Settings.load({"XDG_CONFIG_HOME": str(xdg), "CLAWBACK_HOME": "/env-home"})
    assert s.home == xdg / "clawback" / "data"  # relative to the config file; the file beats the env
    assert s.routing_location == Path("/etc/routing.toml")
    other = _config(tmp_path, 'home = "/named"\n', "other.toml")
    assert Settings.load({"XDG_CONFIG_HOME": str(xdg), "CLAWBACK_CONFIG": str(other)}).home == Path("/named")
    assert Settings.load({"HOME": str(tmp_path / "nobody")}).home == tmp_path / "nobody/.local/share/clawback"


def test_price_files_are_layered_env_then_config_then_arguments(tmp_path: Path) -> None:
    path = _config(tmp_path, 'prices = ["negotiated.toml", "/abs/new.json"]\n')
    s = Settings.load(
        {"CLAWBACK_PRICES": "env.toml", "XDG_CONFIG_HOME": str(tmp_path / "none")},
        config_file=path,
        price_files=["arg.toml"],
    )
    assert s.price_files == (
        Path("env.toml"),
        tmp_path / "negotiated.toml",
        Path("/abs/new.json"),
        Path("arg.toml"),
    )
    single = _config(tmp_path, 'prices = "one.toml"\n', "single.toml")
    assert Settings.load({}, config_file=single).price_files == (tmp_path / "one.toml",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('api_key = "sk-ant-x"\n', "unknown key 'api_key'"),
        ("ledger = 3\n", "'ledger' must be a non-empty string"),
        ("prices = [1]\n", "'prices' must be a file name or a list of file names"),
        ("ledger = \n", "is not valid TOML"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ClawbackError, match=message):
        Settings.load({}, config_file=_config(tmp_path, text))


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read config file"):
        Settings.load({"CLAWBACK_CONFIG": str(tmp_path / "missing.toml")})


def test_the_cli_follows_the_config_file(tmp_path: Path) -> None:
    prices = tmp_path / "neg.json"
    prices.write_text(
        json.dumps(
            {
                "models": [
                    {"id": "claude-haiku-5-5", "rates": [{"effective_from": "2026-10-07", "input": "0.05"}]}
                ]
            }
        )
    )
    config = _config(tmp_path, f'prices = "{prices.name}"\n')
    r = clawback(
        "cost",
        "--model",
        "claude-haiku-5-5",
        "--input",
        "100000",
        "--json",
        env={"CLAWBACK_CONFIG": str(config)},
    )
    assert r.code == 0, r.err
    assert json.loads(r.out)["total_usd"] == "0.005"  # $0.05/MTok from the config's price file
    bad = _config(tmp_path, "colour = 'red'\n", "bad.toml")
    assert_one_line_error(clawback("models", env={"CLAWBACK_CONFIG": str(bad)}), "unknown key 'colour'")
