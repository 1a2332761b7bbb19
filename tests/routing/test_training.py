"""train-router: outcomes in, a calibrated learned router out (and into the routing config)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from clawback.cli.main import run
from clawback.errors import InputFileError, UsageError
from clawback.ledger.api import open_ledger
from clawback.ledger.record import CallRecord
from clawback.routing.config import load_routing_config
from clawback.routing.ledger_samples import ledger_samples
from clawback.routing.route import route
from clawback.routing.training import read_outcomes, train_router

HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"


def _outcomes(n: int = 300) -> list[tuple[str, float, float]]:
    rng = random.Random(5)
    rows = []
    for i in range(n):
        hard = rng.random() < 0.4
        text = f"{'prove the theorem about' if hard else 'what colour is'} item {i}"
        rows.append((text, 0.0 if hard and rng.random() < 0.8 else 1.0, 1.0))
    return rows


def test_train_router_calibrates_to_the_target() -> None:
    trained = train_router(_outcomes(), quality_target=0.95, meta={"cheap": HAIKU})
    c = trained.calibration
    assert c.met and 0.2 < c.strong_share < 0.7
    assert c.quality >= 0.95
    assert trained.model.meta["calibration"]["threshold"] == round(c.threshold, 6)
    assert (
        trained.model.score("prove the theorem about item 9999")
        < c.threshold
        < trained.model.score("what colour is item 9999")
    )
    with pytest.raises(UsageError, match="at least 50"):
        train_router(_outcomes(10))


def test_outcomes_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    path.write_text('{"prompt": "a", "cheap": 1, "strong": 1}\n{"prompt": "b", "cheap": 2, "strong": 1}\n')
    with pytest.raises(InputFileError, match="line 2: cheap"):
        read_outcomes(path)
    with pytest.raises(InputFileError, match="cannot read outcomes"):
        read_outcomes(tmp_path / "none.jsonl")


def test_train_router_cli_writes_the_model_and_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = tmp_path / "o.jsonl"
    outcomes.write_text(
        "".join(json.dumps({"prompt": p, "cheap": c, "strong": s}) + "\n" for p, c, s in _outcomes())
    )
    config = tmp_path / "conf" / "routing.toml"
    with pytest.raises(SystemExit) as info:
        run([
            "eval", "train-router", str(outcomes), "--out", str(tmp_path / "routers" / "r.json"),
            "--cheap", HAIKU, "--strong", SONNET, "--task", "qa", "--routing-config", str(config), "--write",
        ])  # fmt: skip
    out = capsys.readouterr().out
    assert info.value.code in (0, None), out
    assert "threshold" in out and "[learned.qa] written" in out
    loaded = load_routing_config(config)
    hard = {"model": SONNET, "messages": [{"role": "user", "content": "prove the theorem about item 123456"}]}
    easy = {"model": SONNET, "messages": [{"role": "user", "content": "what colour is item 123456"}]}
    assert route(hard, "qa", loaded).model == SONNET
    assert route(easy, "qa", loaded).model == HAIKU
    assert route(easy, "other", loaded).policy == "passthrough"


def test_ledger_samples(tmp_path: Path) -> None:
    location = str(tmp_path / "ledger.sqlite3")
    with open_ledger(location) as ledger:
        ledger.record(CallRecord.create(SONNET, task="intents", sample="where is my card?"))
        ledger.record(CallRecord.create(SONNET, task="intents"))  # no retained sample: skipped
        ledger.record(CallRecord.create(SONNET, task="other", sample="hello"))
    samples = ledger_samples(location, "intents")
    assert [s.body["messages"][0]["content"] for s in samples] == ["where is my card?"]
    with pytest.raises(UsageError, match="no retained samples"):
        ledger_samples(location, "missing")
