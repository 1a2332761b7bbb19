"""The routing config file: parsing, one-line errors, verdict writing that keeps everything else."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path

import pytest

from clawback.errors import InputFileError, UsageError
from clawback.routing.config import (
    Evidence,
    LearnedSpec,
    TaskVerdict,
    ValidatorSpec,
    load_routing_config,
    read_routing_file,
)
from clawback.routing.config_write import render_task, write_learned, write_verdict
from clawback.routing.model import LinearModel
from clawback.routing.route import route
from clawback.routing.validators import JsonSchemaValidator, LabelValidator

HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"

EXAMPLE = """\
# my routing
version = 1
default_model = "claude-sonnet-5-5"

[[rules]]   # the seed article's first rule
name = "simple"
task_types = ["classify", "extract"]
max_context_tokens = 2000
needs_reasoning = false
model = "claude-haiku-5-5"

[tasks.other]
verdict = "switch"
model = "claude-haiku-5-5"
reference = "claude-sonnet-5-5"
"""


def _verdict(kind: str = "cascade") -> TaskVerdict:
    return TaskVerdict(
        verdict=kind,  # type: ignore[arg-type]
        model=HAIKU,
        reference=SONNET,
        escalate_to=SONNET if kind == "cascade" else None,
        validator=ValidatorSpec.model_validate({"kind": "labels", "labels": ["a", "b"]})
        if kind == "cascade"
        else None,
        evidence=Evidence(
            sample_size=200,
            scorer="label",
            agreement=0.95,
            ci_low=0.91,
            ci_high=0.97,
            quality_target=0.95,
            decided=date(2026, 11, 25),
            cost_per_1000_usd={HAIKU: "0.01", SONNET: "0.2", f"cascade:{HAIKU}": "0.02"},
        ),
    )


def test_example_parses_and_routes(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(EXAMPLE)
    config = load_routing_config(path)
    body = {"model": SONNET, "messages": [{"role": "user", "content": "my card is lost"}]}
    assert route(body, "classify", config).model == HAIKU
    assert route(body, "chat", config).model == SONNET
    assert route(body, "other", config).model == HAIKU


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version = [", "not valid TOML"),
        ("version = 2", "version"),
        ("surprise = 1", "surprise"),
        ('[tasks.x]\nverdict = "maybe"', "tasks.x.verdict"),
        ('[[rules]]\nname = "no model"', "rules.0.model"),
        ('[learned."*"]\nmodel_file = "m.json"\ncheap = "a"\nstrong = "b"\nthreshold = 2', "threshold"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(text)
    with pytest.raises(InputFileError) as info:
        read_routing_file(path)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read routing config"):
        read_routing_file(tmp_path / "nope.toml")


def test_cascade_verdict_needs_its_parts(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('[tasks.t]\nverdict = "cascade"\nmodel = "claude-haiku-5-5"\n')
    with pytest.raises(UsageError, match=r"tasks\.t: a cascade verdict needs"):
        load_routing_config(path)


def test_write_verdict_creates_then_replaces_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(EXAMPLE)
    write_verdict(path, "banking77", _verdict("cascade"))
    first = path.read_text()
    assert "# my routing" in first and "# the seed article's first rule" in first
    assert "[tasks.other]" in first
    write_verdict(path, "banking77", _verdict("switch"))
    text = path.read_text()
    assert text.count("[tasks.banking77]") == 1
    assert "[tasks.banking77.validator]" not in text
    parsed = read_routing_file(path)
    assert parsed.tasks["banking77"] == _verdict("switch")
    assert parsed.tasks["other"].verdict == "switch"
    assert parsed.rules[0].name == "simple"


def test_write_verdict_into_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "routing.toml"
    write_verdict(path, "intent triage", _verdict())
    data = tomllib.loads(path.read_text())
    assert data["version"] == 1
    assert data["tasks"]["intent triage"]["evidence"]["cost_per_1000_usd"][f"cascade:{HAIKU}"] == "0.02"
    config = load_routing_config(path)
    policy = config.tasks["intent triage"]
    assert isinstance(policy.validator, LabelValidator)
    assert "agreement 0.950 [0.910, 0.970] on 200 calls" in policy.summary


def test_write_verdict_refuses_inline_definitions(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('[tasks]\nbanking77 = { verdict = "keep" }\n')
    with pytest.raises(UsageError, match="own \\[tasks.NAME\\] table"):
        write_verdict(path, "banking77", _verdict())
    assert "banking77 = { verdict" in path.read_text()


def test_write_verdict_refuses_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text("version = [\n")
    with pytest.raises(InputFileError):
        write_verdict(path, "t", _verdict())


def test_render_task_roundtrips() -> None:
    text = render_task("t", _verdict())
    assert TaskVerdict.model_validate(tomllib.loads(text)["tasks"]["t"]) == _verdict()


def test_learned_and_schema_files_resolve_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "routers").mkdir()
    model = LinearModel(weights=(0.0,) * 8, bias=3.0)
    (tmp_path / "routers" / "r.json").write_text(json.dumps(model.to_json()))
    (tmp_path / "schema.json").write_text(json.dumps({"type": "object", "required": ["label"]}))
    (tmp_path / "routing.toml").write_text(
        '[learned."*"]\nmodel_file = "routers/r.json"\ncheap = "claude-haiku-5-5"\nstrong = "claude-sonnet-5-5"\n'
        "threshold = 0.5\n\n"
        '[tasks.x]\nverdict = "cascade"\nmodel = "claude-haiku-5-5"\nescalate_to = "claude-sonnet-5-5"\n'
        '[tasks.x.validator]\nkind = "json-schema"\nschema_file = "schema.json"\n'
    )
    config = load_routing_config(tmp_path / "routing.toml")
    assert isinstance(config.validator_for("x"), JsonSchemaValidator)
    body = {"model": SONNET, "messages": [{"role": "user", "content": "hello"}]}
    assert route(body, None, config).model == HAIKU  # the learned router for every task
    assert route(body, "x", config).escalate_to == SONNET


def test_a_model_file_from_another_feature_version_is_refused(tmp_path: Path) -> None:
    data = LinearModel(weights=(0.0,), bias=0.0).to_json()
    data["features_version"] = "clawback-hashed-0"
    (tmp_path / "r.json").write_text(json.dumps(data))
    (tmp_path / "routing.toml").write_text(
        '[learned.t]\nmodel_file = "r.json"\ncheap = "a"\nstrong = "b"\nthreshold = 0.5\n'
    )
    with pytest.raises(UsageError, match="retrain it"):
        load_routing_config(tmp_path / "routing.toml")


def test_write_learned_router(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(EXAMPLE)
    (tmp_path / "r.json").write_text(json.dumps(LinearModel(weights=(0.0,) * 8, bias=-3.0).to_json()))
    write_learned(path, "*", LearnedSpec(model_file="r.json", cheap=HAIKU, strong=SONNET, threshold=0.6))
    write_learned(path, "*", LearnedSpec(model_file="r.json", cheap=HAIKU, strong=SONNET, threshold=0.7))
    text = path.read_text()
    assert text.count('[learned."*"]') == 1 and "threshold = 0.7" in text and "# my routing" in text
    config = load_routing_config(path)
    body = {"model": SONNET, "messages": [{"role": "user", "content": "hello"}]}
    assert route(body, "chat", config).model == SONNET  # P(cheap ok) = 0.05 < 0.7
    assert route(body, "other", config).model == HAIKU  # the task's verdict still comes first
