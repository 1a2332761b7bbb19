from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.errors import CatalogueError, InputFileError, UnknownModelError
from clawback.pricing.catalogue import normalize_model_id
from clawback.pricing.loader import load_catalogue


def test_bundled_catalogue_has_every_generation_and_status() -> None:
    cat = load_catalogue()
    ids = {m.id for m in cat.models}
    for expected in (
        "claude-opus-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-fable-5-2",
        "claude-sonnet-4-5-20250929",
        "claude-3-5-haiku-20241022",
        "claude-3-opus-20240229",
    ):
        assert expected in ids
    assert {m.status for m in cat.models} == {"active", "limited", "legacy", "deprecated", "retired"}
    assert all(m.source.startswith("http") for m in cat.models)
    assert len(ids) == len(cat.models)


def test_sonnet_5_5_cache_read_changes_on_2026_10_07() -> None:
    info = load_catalogue().resolve("claude-sonnet-5-5")
    assert info.rates_at(date(2026, 10, 6)).cache_read == Decimal("0.20")
    assert info.rates_at(date(2026, 10, 7)).cache_read == Decimal("0.10")
    assert info.rates_at(date(2026, 9, 1)).cache_read == Decimal("0.20")  # before launch: first period
    assert info.rates_at(None).cache_read == Decimal("0.10")


def test_minimums_and_tokenizers_follow_the_cache_docs() -> None:
    cat = load_catalogue()
    expected = {
        "claude-opus-5-5": 512,
        "claude-sonnet-5-5": 512,
        "claude-haiku-5-5": 512,
        "claude-sonnet-4-6": 1024,
        "claude-opus-4-7": 2048,
        "claude-3-5-haiku-20241022": 2048,
        "claude-haiku-4-5": 4096,
        "claude-opus-4-6": 4096,
    }
    for model, minimum in expected.items():
        assert cat.resolve(model).min_cacheable_tokens == minimum, model
    assert cat.resolve("claude-opus-4-7").tokenizer == "4.7+"
    assert cat.resolve("claude-sonnet-4-6").tokenizer == "pre-4.7"
    assert cat.resolve("claude-haiku-5-5").tokenizer == "4.7+"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
        ("claude-opus-4-6[1m]", "claude-opus-4-6"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4-20250514"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1-20250805"),
        ("  Claude-Haiku-4-5  ", "claude-haiku-4-5-20251001"),
    ],
)
def test_model_ids_from_any_log_resolve(raw: str, expected: str) -> None:
    assert load_catalogue().resolve(raw).id == expected


def test_normalize_model_id() -> None:
    assert normalize_model_id("claude-opus-4-6[1m]") == "claude-opus-4-6"


def test_unknown_model_is_an_error_naming_the_closest_ids() -> None:
    with pytest.raises(UnknownModelError) as info:
        load_catalogue().resolve("claude-haiku-3-5")
    message = str(info.value)
    assert "claude-haiku-3-5" in message
    assert "claude-3-5-haiku-20241022" in info.value.closest
    with pytest.raises(UnknownModelError):
        load_catalogue().resolve("gpt-4o")


def test_override_file_changes_rates_adds_periods_and_models(tmp_path: Path) -> None:
    override = tmp_path / "negotiated.toml"
    override.write_text(
        """
[[models]]
id = "claude-sonnet-5-5"
[[models.rates]]
effective_from = "2026-12-01"
input = "1.50"
output = "7.50"
cache_write_5m = "1.875"
cache_write_1h = "3.00"
cache_read = "0.075"
batch_input = "0.75"
batch_output = "3.75"

[[models]]
id = "claude-house-model"
display_name = "House model"
aliases = ["house"]
family = "house"
version = "1"
tokenizer = "4.7+"
min_cacheable_tokens = 1024
context_window = 200000
max_output = 8192
inference_geo_us = false
status = "active"
source = "https://example.com/contract"
[[models.rates]]
effective_from = "2026-01-01"
input = "1"
output = "2"
cache_write_5m = "1.25"
cache_write_1h = "2"
cache_read = "0.1"
batch_input = "0.5"
batch_output = "1"
"""
    )
    cat = load_catalogue([override])
    sonnet = cat.resolve("claude-sonnet-5-5")
    assert sonnet.rates_at(date(2026, 11, 1)).input == Decimal("2.00")
    assert sonnet.rates_at(date(2026, 12, 2)).input == Decimal("1.50")
    assert cat.resolve("house").id == "claude-house-model"
    assert load_catalogue().get("house") is None  # the bundled catalogue is untouched


def test_override_from_environment_and_json(tmp_path: Path) -> None:
    override = tmp_path / "p.json"
    override.write_text(json.dumps({"models": [{"id": "claude-haiku-5-5", "min_cacheable_tokens": 2048}]}))
    cat = load_catalogue(env={"CLAWBACK_PRICES": str(override)})
    assert cat.resolve("claude-haiku-5-5").min_cacheable_tokens == 2048


def test_new_model_missing_a_field_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[models]]\nid = "claude-x"\ndisplay_name = "X"\n')
    with pytest.raises(CatalogueError, match=r"bad.toml: model 'claude-x': missing field 'rates'"):
        load_catalogue([bad])


def test_bad_rate_value_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[models]]\nid = "claude-haiku-5-5"\n[[models.rates]]\neffective_from = "2027-01-01"\ninput = "cheap"\n'
    )
    with pytest.raises(CatalogueError, match="field 'input' is not a number"):
        load_catalogue([bad])


def test_unreadable_and_malformed_price_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read price file"):
        load_catalogue([tmp_path / "missing.toml"])
    broken = tmp_path / "broken.toml"
    broken.write_text("[[models]\n")
    with pytest.raises(CatalogueError, match="not valid TOML"):
        load_catalogue([broken])
