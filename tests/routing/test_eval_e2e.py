"""`clawback eval` end to end: a classification task, the emulator's replay responder, the batch
runner, a verdict written into the routing config, and then `clawback.Anthropic` following it on
its next calls (and recording the decision in the ledger); the judge scorer through the same path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import clawback
from clawback.cli import eval as eval_cmd
from clawback.cli.main import run
from clawback.client import ClientOptions
from clawback.emulator.config import EmulatorConfig, ResponderConfig
from clawback.emulator.testing import TEST_KEY, EmulatorSession, emulator_client
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
from clawback.routing.samples import read_dataset
from clawback.routing.scorers import JudgeScorer, ScoreItem, label_scorer
from tests.conftest import SHARED

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"
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
) -> Iterator[tuple[BatchEvalRunner, EmulatorSession]]:
    """`clawback eval` wired to the batch runner against the emulator, on the emulator's manual clock."""
    config = EmulatorConfig(responder=ResponderConfig(kind="replay", replay_file=task_files[1]))
    with emulator_client(config) as session:
        clock = session.state.clock
        runner = BatchEvalRunner(
            str(tmp_path / "journal.sqlite3"), session.client, load_catalogue(), tmp_path / "work",
            clock=clock.now, sleep=clock.advance,
        )  # fmt: skip
        monkeypatch.setattr(eval_cmd, "_runner", lambda kind: runner)
        yield runner, session


def _client_follows_the_verdict(
    session: EmulatorSession, config_path: Path, dataset: Path, replay: Path, tmp_path: Path
) -> None:
    """The drop-in client, built after `clawback eval` wrote the verdict, applies it per call."""
    lines = [json.loads(x) for x in dataset.read_text().splitlines()]
    validator = read_routing_file(config_path).tasks["intents"].validator
    assert validator is not None and validator.labels
    labels = set(validator.labels)
    haiku = {
        r["prompt"]: r["response"]
        for r in map(json.loads, replay.read_text().splitlines())
        if r["model"] == HAIKU
    }

    def first(valid: bool) -> dict[str, object]:
        line = next(x for x in lines if (haiku[x["request"]["messages"][-1]["content"]] in labels) == valid)
        return dict(line["request"]) | {"model": SONNET}

    accepted, rejected = first(True), first(False)
    ledger = tmp_path / "client-ledger.sqlite3"
    client = clawback.Anthropic(
        base_url=session.base_url, api_key=TEST_KEY, max_retries=0, ledger=ledger, routing=config_path,
        options=ClientOptions(clock=session.state.clock.now),
    )  # fmt: skip
    try:
        served = client.messages.create(**accepted, task="intents")  # type: ignore[arg-type]
        assert served.model == HAIKU and served.content[0].text in labels  # valid label: Haiku answers
        escalated = client.messages.create(**rejected, task="intents")  # type: ignore[arg-type]
        assert escalated.model == SONNET  # prose from Haiku fails the labels validator: escalated
        untouched = client.messages.create(**accepted, task="other")  # type: ignore[arg-type]
        assert untouched.model == SONNET  # no verdict for that task: the caller's model
    finally:
        client.close()
    with clawback.open_ledger(ledger) as opened:
        records = list(opened.iter_records())
    assert [(r.task, r.requested_model, r.served_model) for r in records] == [
        ("intents", SONNET, HAIKU),
        ("intents", SONNET, HAIKU),
        ("intents", SONNET, SONNET),
        ("other", SONNET, SONNET),
    ]
    for record in records[:3]:
        assert record.routing is not None
        assert (record.routing["policy"], record.routing["escalate_to"]) == ("verdict", SONNET)
        assert record.routing["validator"] == "labels"
        assert "cascade" in record.routing["reason"]


@pytest.mark.parametrize("task_files", ["toy", "banking77"], indirect=True)
def test_eval_writes_a_verdict_the_router_then_follows(
    task_files: tuple[Path, Path],
    emulated_batches: tuple[BatchEvalRunner, EmulatorSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset, replay = task_files
    runner, session = emulated_batches
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
    assert runner.last_job is not None  # it went through the batch runner
    usage = session.state.stats.to_json()["usage"]  # what the emulator served: 300 batch calls per model
    assert sorted((u["model"], u["service_tier"], u["requests"]) for u in usage) == [
        (HAIKU, "batch", 300),
        (SONNET, "batch", 300),
    ]

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
    wrong = 300 - haiku["quality"]["successes"]
    assert f"claude-haiku-5-5: {wrong} of 300 samples wrong (all shown)" in html

    _client_follows_the_verdict(session, config_path, dataset, replay, tmp_path)


def _judge_replay(dataset: Path, replay: Path) -> None:
    """Add the judge model's replies to the replay file: CORRECT exactly when the label matches."""
    records = [json.loads(x) for x in replay.read_text().splitlines()]
    answers = {(r["model"], r["prompt"]): r["response"] for r in records}
    judge = JudgeScorer(OPUS, lambda bodies: [])
    labels = label_scorer()
    for sample in read_dataset(dataset, "label"):
        for model in (HAIKU, SONNET):
            item = ScoreItem(answers[(model, sample.question)], sample.expected, sample.question)
            verdict = "CORRECT" if labels.score_many([item])[0] else "INCORRECT"
            prompt = judge.request(item)["messages"][0]["content"]
            records.append({"model": OPUS, "prompt": prompt, "response": f"{verdict}."})
    replay.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def judged_task(task_files: tuple[Path, Path]) -> tuple[Path, Path]:
    _judge_replay(*task_files)
    return task_files


@pytest.mark.parametrize("task_files", ["toy"], indirect=True)
def test_the_judge_scorer_runs_through_the_batch_runner_on_the_emulator(
    judged_task: tuple[Path, Path],
    emulated_batches: tuple[BatchEvalRunner, EmulatorSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset, _ = judged_task
    runner, _ = emulated_batches
    args = [
        "eval",
        str(dataset),
        "--task",
        "intents",
        "--models",
        f"{HAIKU},{SONNET}",
        "--ground-truth",
        "label",
    ]
    code, out, err = _cli(capsys, *args, "--scorer", "label", "--json")
    assert code == 0, err
    by_label = {m["model"]: m["quality"]["successes"] for m in json.loads(out)["models"]}
    jobs_before = runner.last_job
    code, out, err = _cli(capsys, *args, "--scorer", f"judge:{OPUS}", "--json")
    assert code == 0, err
    judged = json.loads(out)
    assert judged["scorer"] == f"judge:{OPUS}"
    # the judge's verdicts were served by the emulator (through a second batch job) and read back
    assert {m["model"]: m["quality"]["successes"] for m in judged["models"]} == by_label
    assert runner.last_job != jobs_before
    assert 0 < by_label[HAIKU] < 300


@pytest.mark.parametrize("task_files", ["toy"], indirect=True)
def test_an_unknown_judge_is_refused_before_any_call(
    task_files: tuple[Path, Path],
    emulated_batches: tuple[BatchEvalRunner, EmulatorSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    runner, _ = emulated_batches
    code, _, err = _cli(
        capsys, "eval", str(task_files[0]), "--task", "intents", "--models", f"{HAIKU},{SONNET}",
        "--ground-truth", "label", "--scorer", "judge:claude-judge-9",
    )  # fmt: skip
    assert code != 0 and "unknown model 'claude-judge-9'" in err and len(err.strip().splitlines()) == 1
    assert runner.last_job is None  # nothing was sent
