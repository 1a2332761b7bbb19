from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import assert_one_line_error, clawback


def test_models_json_lists_every_model_with_lifecycle() -> None:
    r = clawback("models", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    by_id = {m["id"]: m for m in data["models"]}
    assert by_id["claude-3-5-haiku-20241022"]["retired"] == "2026-02-19"
    assert by_id["claude-sonnet-4-5-20250929"]["status"] == "deprecated"
    assert by_id["claude-sonnet-4-5-20250929"]["retires"] == "2026-11-30"
    assert by_id["claude-opus-5-5"]["cache_read_usd_per_mtok"] == "0.20"
    assert len(by_id["claude-sonnet-5-5"]["rate_history"]) == 2


def test_models_table_flags_status() -> None:
    r = clawback("models")
    assert r.code == 0
    assert "retired 2026-02-19" in r.out and "deprecated" in r.out and "claude-haiku-5-5" in r.out


def test_cost_json_from_counts() -> None:
    r = clawback(
        "cost",
        "--model",
        "claude-sonnet-5-5",
        "--input",
        "1000",
        "--output",
        "500",
        "--cache-read",
        "1000000",
        "--at",
        "2026-10-06",
        "--json",
    )
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["model"] == "claude-sonnet-5-5"
    assert data["total_usd"] == "0.207"  # 1000 x $2 + 500 x $10 + 1M x $0.20 (before the cut)
    assert data["breakdown"]["cache_read_usd"] == "0.20"


def test_cost_from_a_whole_response_file(tmp_path: Path) -> None:
    response = {
        "model": "claude-haiku-5-5",
        "usage": {
            "input_tokens": 100,
            "output_tokens": 20,
            "cache_read_input_tokens": 5000,
            "cache_creation_input_tokens": 0,
            "service_tier": "batch",
        },
    }
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response))
    r = clawback("cost", "--usage", str(path), "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["model"] == "claude-haiku-5-5"
    assert data["breakdown"]["modifiers"][0]["name"] == "batch"
    table = clawback("cost", "--usage", str(path))
    assert "cache reads" in table.out and "batch" in table.out


def test_cost_from_stdin_and_geo() -> None:
    r = clawback(
        "cost",
        "--model",
        "claude-opus-5-5",
        "--usage",
        "-",
        "--geo",
        "us",
        "--json",
        stdin='{"input_tokens": 1000000, "output_tokens": 0}',
    )
    assert json.loads(r.out)["total_usd"] == "4.40"


def test_estimate_json_reproduces_the_article_example_correctly() -> None:
    r = clawback(
        "estimate",
        "--calls-per-day",
        "50000",
        "--static-tokens",
        "1500",
        "--dynamic-tokens",
        "300",
        "--output-tokens",
        "50",
        "--model",
        "claude-3-5-sonnet-20241022",
        "--target-model",
        "claude-3-5-haiku-20241022",
        "--batch-share",
        "1",
        "--cache-hit-rate",
        "0.85",
        "--target-output-tokens",
        "30",
        "--json",
    )
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert (data["baseline_usd"], data["final_usd"]) == ("307.50", "39.00")
    cache = next(s for s in data["steps"] if s["name"] == "cache")
    assert cache["applied"] is False and any("2,048" in w for w in cache["warnings"])


def test_estimate_table() -> None:
    r = clawback(
        "estimate",
        "--calls-per-day",
        "1000",
        "--static-tokens",
        "4000",
        "--dynamic-tokens",
        "200",
        "--output-tokens",
        "300",
        "--model",
        "claude-sonnet-5-5",
        "--gap-seconds",
        "30",
    )
    assert r.code == 0, r.err
    assert "Prompt caching" in r.out and "all stacked" in r.out


def test_bad_input_gives_one_line_errors(tmp_path: Path) -> None:
    assert_one_line_error(
        clawback("cost", "--model", "claude-haiku-3-5", "--input", "1"),
        "unknown model 'claude-haiku-3-5'",
        "claude-3-5-haiku-20241022",
    )
    assert_one_line_error(clawback("cost", "--model", "claude-haiku-5-5", "--input", "-4"), "--input")
    assert_one_line_error(clawback("cost", "--model", "claude-haiku-5-5", "--input", "1.5"), "--input")
    assert_one_line_error(
        clawback("cost", "--model", "claude-haiku-5-5", "--usage", "{not json"), "not valid JSON"
    )
    assert_one_line_error(
        clawback("cost", "--model", "claude-haiku-5-5", "--usage", str(tmp_path / "nope.json")),
        "cannot read usage file",
    )
    assert_one_line_error(
        clawback("cost", "--model", "claude-haiku-5-5", "--usage", '{"input_tokens": -3}'), "input_tokens"
    )
    assert_one_line_error(clawback("cost", "--model", "claude-haiku-5-5"), "--usage")
    assert_one_line_error(
        clawback("cost", "--model", "claude-haiku-5-5", "--input", "5", "--at", "yesterday"), "--at"
    )
    bad_prices = tmp_path / "prices.toml"
    bad_prices.write_text('[[models]]\nid = "claude-new"\ndisplay_name = "New"\n')
    assert_one_line_error(
        clawback("cost", "--model", "claude-new", "--input", "1", "--prices", str(bad_prices)),
        "missing field 'rates'",
    )
    assert_one_line_error(
        clawback(
            "estimate",
            "--calls-per-day",
            "0",
            "--static-tokens",
            "1",
            "--dynamic-tokens",
            "1",
            "--output-tokens",
            "1",
            "--model",
            "claude-haiku-5-5",
        ),
        "calls per day",
    )
    assert_one_line_error(clawback("estimate", "--calls-per-day", "10"), "Missing option")
    assert_one_line_error(clawback("nonsense"), "No such command")


def test_prices_from_environment(tmp_path: Path) -> None:
    override = tmp_path / "neg.json"
    override.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "claude-haiku-5-5",
                        "rates": [
                            {
                                "effective_from": "2026-10-07",
                                "input": "0.05",
                                "output": "0.25",
                                "cache_write_5m": "0.0625",
                                "cache_write_1h": "0.10",
                                "cache_read": "0.005",
                                "batch_input": "0.025",
                                "batch_output": "0.125",
                            }
                        ],
                    }
                ]
            }
        )
    )
    r = clawback(
        "cost",
        "--model",
        "claude-haiku-5-5",
        "--input",
        "100000",
        "--json",
        env={"CLAWBACK_PRICES": str(override)},
    )
    assert json.loads(r.out)["total_usd"] == "0.005"  # $0.05/MTok instead of $0.10
