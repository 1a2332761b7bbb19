"""One ledger for all spend: a client call, a batch job and an eval, then `clawback ledger summary --by source`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import clawback
from clawback.batch import BatchRunner, JobOptions, Journal, SdkUpstream
from clawback.batch.ledger import open_batch_ledger
from clawback.batch.machine import Backoff
from clawback.batch.report import summarize as job_summary
from clawback.cli import eval as eval_cmd
from clawback.cli.main import run
from clawback.client import ClientOptions
from clawback.emulator.testing import TEST_KEY, emulator_client
from clawback.pricing import load_catalogue, parse_usage, price_usage
from clawback.routing.batch_runner import BatchEvalRunner
from clawback.settings import Settings

HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"
SYSTEM = "Classify the message as refund or card. Answer with the label only. " * 40


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    with pytest.raises(SystemExit) as exit_info:
        run(list(args))
    out, err = capsys.readouterr()
    assert exit_info.value.code in (0, None), err
    data: dict[str, object] = json.loads(out)
    return data


def test_summary_by_source_shows_client_batch_and_eval_spend_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    catalogue = load_catalogue()
    settings = Settings.from_env()  # the test's private CLAWBACK_HOME: the default ledger lives there
    source = tmp_path / "in.jsonl"
    lines = [
        {
            "id": i,
            "model": HAIKU,
            "max_tokens": 8,
            "system": SYSTEM,
            "messages": [{"role": "user", "content": f"t{i}"}],
        }
        for i in range(12)
    ]
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    dataset = tmp_path / "eval.jsonl"
    samples = [
        {"request": {"max_tokens": 8, "messages": [{"role": "user", "content": f"q{i}"}]}, "label": "refund"}
        for i in range(10)
    ]
    dataset.write_text("".join(json.dumps(x) + "\n" for x in samples))
    with emulator_client() as emu:
        clock = emu.state.clock
        client = clawback.Anthropic(
            base_url=emu.base_url, api_key=TEST_KEY, max_retries=0, options=ClientOptions(clock=clock.now)
        )
        message = client.messages.create(
            model=SONNET, max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
        client.close()
        client_cost = price_usage(parse_usage(message.usage), catalogue.resolve(SONNET)).total

        with Journal.open(tmp_path / "jobs.sqlite3") as journal:
            runner = BatchRunner(
                journal, SdkUpstream(emu.client), catalogue=catalogue, clock=clock.now,
                sleep=lambda s: clock.advance(max(s, 0.001)), policy=Backoff(first_poll=30),
                ledger=open_batch_ledger(None, catalogue, settings=settings, clock=clock.now),
            )  # fmt: skip
            runner.create(
                runner.new_job(source, tmp_path / "out.jsonl", name="nightly", options=JobOptions())
            )
            batch_cost = runner.run("nightly").totals.total_cost

        evaluator = BatchEvalRunner(
            str(tmp_path / "eval-jobs.sqlite3"), emu.client, catalogue, tmp_path / "work",
            clock=clock.now, sleep=lambda s: clock.advance(max(s, 0.001)),
            ledger=open_batch_ledger(None, catalogue, settings=settings, clock=clock.now),
        )  # fmt: skip
        monkeypatch.setattr(eval_cmd, "_runner", lambda kind: evaluator)
        _cli(
            capsys, "eval", str(dataset), "--task", "intents", "--models", f"{HAIKU},{SONNET}",
            "--ground-truth", "label", "--scorer", "label", "--json",
        )  # fmt: skip
        assert evaluator.last_job is not None
        with Journal.open(tmp_path / "eval-jobs.sqlite3") as journal:
            eval_cost = job_summary(journal, evaluator.last_job).totals.total_cost

    summary = _cli(capsys, "ledger", "summary", "--by", "source", "--json")
    groups = {g["key"]: g for g in summary["groups"]}  # type: ignore[union-attr, index]
    assert set(groups) == {"client", "batch", "eval"}
    assert (groups["client"]["calls"], Decimal(groups["client"]["total_usd"])) == (1, client_cost)
    assert (groups["batch"]["calls"], Decimal(groups["batch"]["total_usd"])) == (12, batch_cost)
    assert (groups["eval"]["calls"], Decimal(groups["eval"]["total_usd"])) == (20, eval_cost)
    assert Decimal(str(summary["total_usd"])) == client_cost + batch_cost + eval_cost
    for g in (*groups.values(), summary):
        assert Decimal(g["saved_usd"]) == Decimal(g["baseline_usd"]) - Decimal(g["total_usd"])  # type: ignore[index]
    by_task = _cli(capsys, "ledger", "summary", "--by", "task", "--json")
    assert {g["key"]: g["calls"] for g in by_task["groups"]}["intents"] == 20  # type: ignore[union-attr, index]
