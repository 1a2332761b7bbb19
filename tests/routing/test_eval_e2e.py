"""`clawback eval` end to end: a classification task, the emulator's replay responder, the batch
runner, a verdict written into the routing config, and route() following it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clawback.cli import eval as eval_cmd
from clawback.cli.main import run
from clawback.emulator.config import EmulatorConfig, ResponderConfig
from clawback.emulator.testing import emulator_client
from clawback.pricing.loader import load_catalogue
from clawback.routing.batch_runner import BatchEvalRunner
from clawback.routing.config import load_routing_config, read_routing_file
from clawback.routing.datasets import (
    CHEAP_ERRORS,
    STRONG_ERRORS,
    ClassificationTask,
    replay_lines,
    task_lines,
)
from clawback.routing.route import route
from tests.conftest import SHARED

HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"
WORDS = ["card", "pin", "transfer", "refund", "top_up", "cash", "fee", "app"]
TOY = ClassificationTask(
    "toy",
    tuple(f"{a}_{b}" for a in WORDS[:4] for b in WORDS[4:]),
    tuple(
        (f"customer message {i} about {WORDS[i % 8]}", f"{WORDS[i % 4]}_{WORDS[4 + i % 4]}")
        for i in range(600)
    ),
)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        run(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def task_files(
    tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path]:
    """The eval dataset and the emulator replay file, from BANKING77 (via the CLI) or a toy task."""
    dataset, replay = tmp_path / "task.jsonl", tmp_path / "replay.jsonl"
    if request.param == "banking77":
        if not (SHARED / "data" / "banking77" / "test.csv").exists():
            pytest.skip("BANKING77 is absent")
        code, out, _ = _cli(
            capsys, "eval", "make-task", "banking77", "--data", str(SHARED / "data"), "--n", "300",
            "--out", str(dataset), "--replay", str(replay),
        )  # fmt: skip
        assert code == 0 and "not real model output" in out
    else:
        lines = task_lines(TOY, 300)
        dataset.write_text("".join(json.dumps(x) + "\n" for x in lines))
        records = replay_lines(TOY, lines, {HAIKU: CHEAP_ERRORS, SONNET: STRONG_ERRORS})
        replay.write_text("".join(json.dumps(x) + "\n" for x in records))
    return dataset, replay


@pytest.fixture
def emulated_batches(
    task_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BatchEvalRunner]:
    """`clawback eval` wired to the batch runner against the emulator, on the emulator's manual clock."""
    config = EmulatorConfig(responder=ResponderConfig(kind="replay", replay_file=task_files[1]))
    with emulator_client(config) as session:
        clock = session.state.clock
        runner = BatchEvalRunner(
            str(tmp_path / "journal.sqlite3"), session.client, load_catalogue(), tmp_path / "work",
            clock=clock.now, sleep=clock.advance,
        )  # fmt: skip
        monkeypatch.setattr(eval_cmd, "_runner", lambda kind: runner)
        yield runner


@pytest.mark.parametrize("task_files", ["toy", "banking77"], indirect=True)
def test_eval_writes_a_verdict_the_router_then_follows(
    task_files: tuple[Path, Path],
    emulated_batches: BatchEvalRunner,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset, _ = task_files
    config_path, report = tmp_path / "routing.toml", tmp_path / "eval.html"
    config_path.write_text("# team routing\nversion = 1\n")
    code, out, err = _cli(
        capsys, "eval", str(dataset), "--task", "intents", "--models", f"{HAIKU},{SONNET}",
        "--ground-truth", "label", "--scorer", "label", "--validator", "labels",
        "--routing-config", str(config_path), "--write-verdict", "--report", str(report), "--json",
        "--outcomes", str(tmp_path / "outcomes.jsonl"),
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["samples"] == 300
    assert result["incumbent"] == SONNET
    assert result["verdict"]["kind"] == "cascade"  # the seeded error model: Haiku alone misses the bar
    assert result["verdict_written_to"] == str(config_path)
    haiku, sonnet = result["models"]
    assert haiku["quality"]["n"] == 300 and haiku["errors"] == 0
    assert float(haiku["cost_per_1000_usd"]) < float(sonnet["cost_per_1000_usd"])
    assert emulated_batches.last_job is not None  # it went through the batch runner

    written = read_routing_file(config_path)
    assert config_path.read_text().startswith("# team routing")
    entry = written.tasks["intents"]
    assert (entry.verdict, entry.model, entry.escalate_to) == ("cascade", HAIKU, SONNET)
    assert entry.evidence is not None and entry.evidence.sample_size == 300
    assert entry.evidence.report == str(report)

    body = json.loads(dataset.read_text().splitlines()[0])["request"] | {"model": SONNET}
    decision = route(body, "intents", load_routing_config(config_path))
    assert (decision.model, decision.escalate_to, decision.validator) == (HAIKU, SONNET, "labels")
    code, out, _ = _cli(
        capsys,
        "route",
        "decide",
        "--body",
        json.dumps(body),
        "--task",
        "intents",
        "--routing-config",
        str(config_path),
    )
    assert code == 0 and json.loads(out)["model"] == HAIKU

    outcomes = [json.loads(x) for x in (tmp_path / "outcomes.jsonl").read_text().splitlines()]
    assert len(outcomes) == 300 and {o["cheap_model"] for o in outcomes} == {HAIKU}
    assert sum(o["cheap"] for o in outcomes) == haiku["quality"]["successes"]

    html = report.read_text()
    assert "Verdict: cascade" in html and "<svg" in html and "incumbent answer" in html
