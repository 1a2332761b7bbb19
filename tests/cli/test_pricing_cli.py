from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import Result, assert_one_line_error, clawback, run_in_process


def test_models_json_lists_every_model_with_lifecycle() -> None:
    r = clawback("models", "--json", "--at", "2026-11-25")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    by_id = {m["id"]: m for m in data["models"]}
    assert len(by_id) == 27
    assert by_id["claude-3-5-haiku-20241022"]["retired"] == "2026-02-19"
    assert by_id["claude-3-5-haiku-20241022"]["status"] == "retired"
    assert by_id["claude-sonnet-4-5-20250929"]["status"] == "deprecated"
    assert by_id["claude-sonnet-4-5-20250929"]["deprecated"] == "2026-09-30"
    assert by_id["claude-sonnet-4-5-20250929"]["retires"] == "2026-11-30"
    assert by_id["claude-opus-5-5"]["cache_read_usd_per_mtok"] == "0.20"
    assert by_id["claude-opus-5-5"]["fast_mode"]["input_usd_per_mtok"] == "8.00"
    assert by_id["claude-haiku-5-5"]["prompt_tier"]["output_usd_per_mtok"] == "2.50"
    assert by_id["claude-sonnet-4-5-20250929"]["prompt_tier"] is None  # the 1M beta tier ended 2026-04-30
    assert len(by_id["claude-sonnet-5-5"]["rate_history"]) == 2
    later = {m["id"]: m for m in json.loads(clawback("models", "--json", "--at", "2026-12-01").out)["models"]}
    assert later["claude-sonnet-4-5-20250929"]["status"] == "retired"  # its retirement date has passed
    earlier = json.loads(clawback("models", "--json", "--at", "2026-01-15", "--status", "deprecated").out)
    assert [m["id"] for m in earlier["models"]] == ["claude-3-5-haiku-20241022", "claude-3-7-sonnet-20250219"]
    old = {m["id"]: m for m in json.loads(clawback("models", "--json", "--at", "2026-01-15").out)["models"]}
    assert old["claude-sonnet-4-5-20250929"]["prompt_tier"]["input_usd_per_mtok"] == "6.00"
    assert old["claude-sonnet-5-5"]["cache_read_usd_per_mtok"] == "0.20"  # first period covers earlier dates


def test_models_table_flags_status_and_dates() -> None:
    r = clawback("models", "--at", "2026-11-25")
    assert r.code == 0
    assert "retired 2026-02-19" in r.out and "retires 2026-11-30" in r.out and "deprecated" in r.out
    assert "claude-haiku-5-5: prompts over 100,000 tokens" in r.out and "fast mode" in r.out
    assert "retired 2026-11-30" in clawback("models", "--at", "2026-12-01").out


def test_help_shows_no_type_after_flags() -> None:
    r = clawback("cost", "--help")
    assert r.code == 0
    assert "<bool>" not in r.out and "list[Path]" not in r.out
    assert "<model>" in r.out and "<file>" in r.out and "--batch" in r.out
    assert "<bool>" not in clawback("--help").out


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
    """The README's first example, as `make demo-estimate` runs it."""
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


def test_more_bad_input_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same one-line contract, through the entry point in this process (no interpreter start-up)."""

    def run(*args: str) -> Result:
        return run_in_process(capsys, *args)

    assert_one_line_error(
        run("cost", "--model", "claude-haiku-5-5", "--usage", "[1, 2]"), "usage must be a JSON object"
    )
    assert_one_line_error(
        run("cost", "--model", "claude-haiku-5-5", "--usage", str(tmp_path)), "cannot read usage file"
    )
    assert_one_line_error(
        run("cost", "--model", "claude-haiku-5-5", "--usage", '{"input_tokens": 1.5}'), "input_tokens"
    )
    assert_one_line_error(run("cost", "--model", "claude-haiku-5-5", "--input", "5", "--geo", "eu"), "--geo")
    assert_one_line_error(
        run("cost", "--model", "claude-sonnet-4-5", "--input", "5", "--geo", "us"), "4.6 and later"
    )
    assert_one_line_error(
        run("cost", "--model", "claude-sonnet-5-5", "--input", "5", "--fast"), "fast mode is not offered"
    )
    assert_one_line_error(run("cost", "--model", "gpt-4o", "--input", "5"), "unknown model 'gpt-4o'")
    assert_one_line_error(run("cost", "--bogus"), "No such option: --bogus")
    assert_one_line_error(run("models", "--at", "2026-13-01"), "--at")
    assert_one_line_error(run("models", "--status", "gone"), "--status")
    assert_one_line_error(run("models", "--bogus"), "No such option")
    workload = [
        "estimate", "--calls-per-day", "10", "--static-tokens", "1", "--dynamic-tokens", "1",
        "--output-tokens", "1", "--model", "claude-haiku-5-5",
    ]  # fmt: skip
    for extra, fragment in [
        (["--batch-share", "1.5"], "--batch-share"),
        (["--batch-share", "half"], "--batch-share"),
        (["--cache-hit-rate", "-0.1"], "--cache-hit-rate"),
        (["--gap-seconds", "inf"], "gap between requests"),
        (["--gap-seconds", "-3"], "gap between requests"),
        (["--cache-hit-rate", "0.5", "--gap-seconds", "3"], "not both"),
        (["--target-output-tokens", "-1"], "target output tokens"),
        (["--at", "2026/01/01"], "--at"),
        (["--target-model", "claude-haiku-3-5"], "claude-3-5-haiku-20241022"),
    ]:
        assert_one_line_error(run(*workload, *extra), fragment)
    negative = [*workload[:6], "-1", *workload[7:]]
    assert negative[5:7] == ["--dynamic-tokens", "-1"]
    assert_one_line_error(run(*negative), "dynamic tokens must be a non-negative integer")


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


def test_one_command_imports_only_its_own_module() -> None:
    """`clawback cost` starts without loading the batch runner, audit, emulator or routing modules."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from clawback.cli.main import run\n"
        "try:\n"
        "    run(['cost', '--model', 'claude-sonnet-5-5', '--input', '1', '--output', '1', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[:2] in (['clawback', 'batch'], "
        "['clawback', 'audit'], ['clawback', 'emulator'], ['clawback', 'routing']) or m in ('duckdb', 'starlette'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert '"total_usd"' in result.stdout
    assert "HEAVY []" in result.stderr, result.stderr


def test_estimate_with_nothing_to_save_shows_no_minus_zero() -> None:
    """Calls an hour and more apart, no target: nothing applies, and the change reads 0.0%."""
    r = clawback(
        "estimate", "--calls-per-day", "20", "--static-tokens", "1500", "--dynamic-tokens", "300",
        "--output-tokens", "50", "--model", "claude-sonnet-5-5", "--gap-seconds", "4000",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "-0.0%" not in r.out and "0.0%" in r.out


def test_cost_notes_a_model_priced_outside_its_life() -> None:
    """A retired model priced today, or a model priced before its release, is said so (never silently)."""
    retired = clawback("cost", "--model", "claude-3-opus-20240229", "--input", "10")
    assert retired.code == 0 and "was retired on 2026-01-05" in retired.err
    then = clawback("cost", "--model", "claude-3-opus-20240229", "--input", "10", "--at", "2025-01-01")
    assert then.code == 0 and then.err == ""
    early = clawback("cost", "--model", "claude-sonnet-5-5", "--input", "10", "--at", "2020-01-01", "--json")
    assert early.code == 0
    assert json.loads(early.out)["warnings"] == [
        "claude-sonnet-5-5 was released on 2026-09-28; priced at its first published rates"
    ]
    deprecated = clawback("cost", "--model", "claude-sonnet-4-5", "--input", "10", "--at", "2026-11-01")
    assert "is deprecated and retires on 2026-11-30" in deprecated.err


def test_models_at_an_early_date_marks_models_not_released_yet() -> None:
    r = clawback("models", "--at", "2025-06-01")
    assert r.code == 0, r.err
    fable = next(line for line in r.out.splitlines() if "claude-fable-5-2" in line)
    assert "unreleased" in fable and "released 2026-11-09" in fable and "active" not in fable
    opus3 = next(line for line in r.out.splitlines() if "claude-3-opus-20240229" in line)
    assert "deprecated" in opus3 or "legacy" in opus3
