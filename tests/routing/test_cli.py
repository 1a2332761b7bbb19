"""The eval and route commands: one-line errors, never a traceback; `route show` and `route decide`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clawback.cli.main import run
from tests.cli.helpers import Result, assert_one_line_error, clawback

REQ = {"messages": [{"role": "user", "content": "hi"}]}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """The real entry point, in process (a subprocess per case would be slow)."""
    with pytest.raises(SystemExit) as info:
        run(list(args))
    out, err = capsys.readouterr()
    return Result(int(info.value.code or 0), out, err)


def _dataset(tmp_path: Path, lines: list[object]) -> str:
    path = tmp_path / "d.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--models", "claude-haiku-5-5,claude-sonnet-5-5", "--ground-truth", "label"], "--task is required"),
        (["--task", "t", "--models", "claude-haiku-5-5"], "exactly one of --reference"),
        (
            ["--task", "t", "--models", "a", "--reference", "b", "--ground-truth", "label"],
            "exactly one of --reference",
        ),
        (["--task", "t", "--models", "", "--ground-truth", "label"], "--models must name"),
        (
            ["--task", "t", "--models", "a,b", "--ground-truth", "label", "--scorer", "fuzzy"],
            "unknown scorer",
        ),
        (
            ["--task", "t", "--models", "a,b", "--ground-truth", "label", "--runner", "carrier-pigeon"],
            "--runner",
        ),
        (
            ["--task", "t", "--models", "a,b", "--ground-truth", "label", "--validator", "vibes"],
            "unknown --validator",
        ),
        (["--task", "t", "--models", "a,b", "--ground-truth", "nope"], "no ground-truth field 'nope'"),
        (
            ["--task", "t", "--models", "a,b", "--ground-truth", "label", "--runner", "direct"],
            "ANTHROPIC_API_KEY",
        ),
        (
            ["--task", "t", "--models", "a,b", "--ground-truth", "label", "--sample", "0"],
            "--sample must be positive",
        ),
    ],
)
def test_eval_run_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    dataset = _dataset(
        tmp_path, [{"id": 1, "request": REQ, "label": "x"}, {"id": 2, "request": REQ, "label": "y"}]
    )
    assert_one_line_error(_run(capsys, "eval", dataset, *args), fragment)


def test_bad_dataset_line_is_named_in_a_real_process(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, [{"id": 1, "request": REQ, "label": "x"}, "{oops"])
    result = clawback("eval", dataset, "--task", "t", "--models", "a,b", "--ground-truth", "label")
    assert_one_line_error(result, "line 2", "not valid JSON")


def test_unknown_model_is_refused_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    dataset = _dataset(tmp_path, [{"id": 1, "request": REQ, "label": "x"}])
    result = _run(
        capsys, "eval", dataset, "--task", "t", "--models", "claude-haiku-3-5,claude-sonnet-5-5",
        "--ground-truth", "label", "--runner", "direct",
    )  # fmt: skip
    assert_one_line_error(result, "unknown model 'claude-haiku-3-5'")


def test_missing_dataset_and_empty_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = _run(
        capsys, "eval", str(tmp_path / "nope.jsonl"), "--task", "t", "--models", "a", "--reference", "b"
    )
    assert_one_line_error(missing, "cannot read dataset")
    ledger = _run(
        capsys, "eval", "run", "--from-ledger", str(tmp_path / "ledger.sqlite3"), "--task", "t", "--models", "a",
        "--reference", "b",
    )  # fmt: skip
    assert ledger.code != 0 and len(ledger.err.strip().splitlines()) == 1


def test_offline_and_make_task_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(_run(capsys, "eval", "offline", "hellaswag"), "unknown benchmark")
    assert_one_line_error(
        _run(capsys, "eval", "offline", "mmlu", "--data", str(tmp_path)), "no RouteLLM mmlu outcomes"
    )
    out = str(tmp_path / "x.jsonl")
    assert_one_line_error(
        _run(capsys, "eval", "make-task", "imdb", "--out", out, "--data", str(tmp_path)), "unknown dataset"
    )
    assert_one_line_error(
        _run(capsys, "eval", "make-task", "banking77", "--out", out, "--cheap", "claude-haiku-3-5"),
        "unknown model",
    )


def test_route_show_and_decide(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "routing.toml"
    config.write_text(
        'version = 1\ndefault_model = "claude-sonnet-5-5"\n\n[[rules]]\nname = "classify"\n'
        'task_types = ["classify"]\nmodel = "claude-haiku-5-5"\n\n[tasks.intents]\nverdict = "switch"\n'
        'model = "claude-haiku-5-5"\nreference = "claude-sonnet-5-5"\n'
    )
    where = ["--routing-config", str(config)]
    shown = _run(capsys, "route", "show", *where)
    assert shown.code == 0 and "intents" in shown.out and "classify" in shown.out
    assert (
        json.loads(_run(capsys, "route", "show", *where, "--json").out)["tasks"]["intents"]["verdict"]
        == "switch"
    )
    body = json.dumps({"model": "claude-opus-5-5", "messages": [{"role": "user", "content": "x"}]})
    decided = json.loads(_run(capsys, "route", "decide", "--body", body, "--task", "classify", *where).out)
    assert decided == {
        "model": "claude-haiku-5-5",
        "policy": "rules",
        "reason": "matched classify",
        "task": "classify",
    }
    assert_one_line_error(_run(capsys, "route", "decide", "--body", "[1]", *where), "JSON object")
    assert_one_line_error(
        _run(capsys, "route", "show", "--routing-config", str(tmp_path / "none.toml")),
        "cannot read routing config",
    )


def test_route_without_any_config_yet_is_what_the_client_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No routing file at the default place: the client passes every call through, so does decide."""
    monkeypatch.setenv("CLAWBACK_HOME", str(tmp_path))
    monkeypatch.delenv("CLAWBACK_ROUTING", raising=False)
    monkeypatch.setenv("CLAWBACK_CONFIG", str(tmp_path / "no-config.toml"))
    (tmp_path / "no-config.toml").write_text("")
    body = json.dumps({"model": "claude-opus-5-5", "messages": [{"role": "user", "content": "x"}]})
    decided = _run(capsys, "route", "decide", "--body", body, "--task", "t")
    assert decided.code == 0 and json.loads(decided.out)["policy"] == "passthrough"
    assert "no routing config at" in decided.err
    shown = _run(capsys, "route", "show")
    assert shown.code == 0 and "no routing config at" in shown.err


def test_a_missing_default_data_folder_says_to_pass_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ../shared/data from here
    monkeypatch.delenv("CLAWBACK_SHARED_DIR", raising=False)
    for args in (["eval", "make-task", "banking77", "--out", "t.jsonl"], ["eval", "offline", "routellm"]):
        assert_one_line_error(_run(capsys, *args), "no data folder at", "pass --data FOLDER")


def test_an_unreachable_api_is_one_line_before_any_batch_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the preflight, the batch runner's transient-failure retries kept it silent for minutes."""
    monkeypatch.setenv("CLAWBACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    dataset = _dataset(tmp_path, [{"id": 1, "request": REQ, "label": "x"}])
    result = _run(
        capsys, "eval", dataset, "--task", "t", "--models", "claude-haiku-5-5,claude-sonnet-5-5",
        "--ground-truth", "label",
    )  # fmt: skip
    assert_one_line_error(result, "cannot reach the API at http://127.0.0.1:9")
    assert result.code == 3 and not (tmp_path / "home" / "eval").exists()  # no batch job was created
