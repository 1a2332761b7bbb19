from __future__ import annotations

import json
import os
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


# The minimum cacheable prompt, as the facts sheet's section 2 table gives it (2026-08 and 2026-10
# copies of the prompt-caching page); Sonnet 4.6 is 1,024 (the 2026-03 page said 2,048). Fable and
# Mythos 5.2 were not on any page read (512 assumed, flagged in the catalogue); Opus 3 is historical.
MINIMUMS = {
    512: [
        "claude-fable-5-1",
        "claude-mythos-5-1",
        "claude-opus-5-5",
        "claude-opus-5",
        "claude-sonnet-5-5",
        "claude-fable-5",
        "claude-mythos-5",
        "claude-haiku-5-5",
        "claude-fable-5-2",
        "claude-mythos-5-2",
    ],
    1024: [
        "claude-opus-4-8",
        "claude-sonnet-5",
        "claude-sonnet-4-6",
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-1-20250805",
        "claude-opus-4-20250514",
        "claude-sonnet-4-20250514",
        "claude-3-7-sonnet-20250219",
        "claude-3-5-sonnet-20240620",
        "claude-3-5-sonnet-20241022",
        "claude-3-opus-20240229",
    ],
    2048: ["claude-opus-4-7", "claude-3-5-haiku-20241022", "claude-3-haiku-20240307"],
    4096: ["claude-opus-4-6", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"],
}
# "Claude 4.7 and later models ... use a newer tokenizer"; Haiku 5.5, Fable and Mythos too.
NEW_TOKENIZER = {
    "claude-fable-5-2",
    "claude-mythos-5-2",
    "claude-fable-5-1",
    "claude-mythos-5-1",
    "claude-fable-5",
    "claude-mythos-5",
    "claude-opus-5-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-sonnet-5-5",
    "claude-sonnet-5",
    "claude-haiku-5-5",
}
# inference_geo "us" (1.1x) exists on Claude 4.6 and later; older models reject the parameter.
GEO_US = NEW_TOKENIZER | {"claude-opus-4-6", "claude-sonnet-4-6"}


def test_minimums_tokenizers_and_geo_follow_the_docs_for_every_model() -> None:
    cat = load_catalogue()
    listed = [m for ids in MINIMUMS.values() for m in ids]
    assert sorted(listed) == sorted(m.id for m in cat.models)
    for minimum, ids in MINIMUMS.items():
        for model in ids:
            assert cat.resolve(model).min_cacheable_tokens == minimum, model
    for info in cat.models:
        assert info.tokenizer == ("4.7+" if info.id in NEW_TOKENIZER else "pre-4.7"), info.id
        assert info.inference_geo_us == (info.id in GEO_US), info.id
    for model in ("claude-fable-5-2", "claude-mythos-5-2", "claude-3-opus-20240229"):
        assert any(a.startswith("min_cacheable_tokens") for a in cat.resolve(model).assumed), model


def test_pre_4_6_aliases_point_to_dated_ids_and_later_ids_have_none() -> None:
    cat = load_catalogue()
    for alias, dated in {
        "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
        "claude-opus-4-5": "claude-opus-4-5-20251101",
        "claude-haiku-4-5": "claude-haiku-4-5-20251001",
        "claude-opus-4-1": "claude-opus-4-1-20250805",
        "claude-opus-4-0": "claude-opus-4-20250514",
        "claude-sonnet-4-0": "claude-sonnet-4-20250514",
        "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
        "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
        "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
        "claude-3-opus-latest": "claude-3-opus-20240229",
    }.items():
        assert cat.resolve(alias).id == dated, alias
    assert all(not m.aliases for m in cat.models if m.inference_geo_us)  # 4.6+: dateless pinned ids
    assert not cat.resolve("claude-3-haiku-20240307").aliases


def test_lifecycle_is_judged_on_the_date() -> None:
    sonnet_45 = load_catalogue().resolve("claude-sonnet-4-5")
    assert sonnet_45.status == "deprecated" and sonnet_45.retirement == date(2026, 11, 30)
    assert sonnet_45.status_on(date(2026, 11, 29)) == "deprecated"
    assert sonnet_45.status_on(date(2026, 11, 30)) == "retired"
    assert sonnet_45.unavailable_on(date(2026, 12, 1))
    assert not load_catalogue().resolve("claude-haiku-5-5").unavailable_on(date(2030, 1, 1))


def test_retired_long_context_tier_has_an_end() -> None:
    info = load_catalogue().resolve("claude-sonnet-4-5")
    tier = info.prompt_tier_at(date(2026, 4, 29))
    assert tier is not None and tier.threshold_prompt_tokens == 200_000 and tier.rates.input == Decimal(6)
    assert info.prompt_tier_at(date(2026, 4, 30)) is None and info.prompt_tier_at(None) is None
    haiku = load_catalogue().resolve("claude-haiku-5-5")
    assert haiku.prompt_tier_at(None) is not None and haiku.prompt_tier_at(date(2026, 10, 6)) is None


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


def test_several_price_files_later_ones_win(tmp_path: Path) -> None:
    def write(name: str, minimum: int, read: str) -> Path:
        path = tmp_path / name
        period = {"effective_from": "2026-10-07", "cache_read": read}
        path.write_text(
            json.dumps(
                {"models": [{"id": "claude-haiku-5-5", "min_cacheable_tokens": minimum, "rates": [period]}]}
            )
        )
        return path

    a, b, c = write("a.json", 1000, "0.004"), write("b.json", 2000, "0.003"), write("c.json", 3000, "0.002")
    env = {"CLAWBACK_PRICES": f"{a}{os.pathsep}{b}"}
    from_env = load_catalogue(env=env).resolve("claude-haiku-5-5")
    assert from_env.min_cacheable_tokens == 2000 and from_env.rates_at(None).cache_read == Decimal("0.003")
    assert from_env.rates_at(None).input == Decimal("0.10")  # a partial period keeps the other rates
    explicit = load_catalogue([c], env=env).resolve("claude-haiku-5-5")
    assert explicit.min_cacheable_tokens == 3000 and explicit.rates_at(None).cache_read == Decimal("0.002")


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
    with pytest.raises(InputFileError, match="cannot read price file .*missing.toml: no such file"):
        load_catalogue([tmp_path / "missing.toml"])
    broken = tmp_path / "broken.toml"
    broken.write_text("[[models]\n")
    with pytest.raises(InputFileError, match="broken.toml is not valid TOML"):
        load_catalogue([broken])
