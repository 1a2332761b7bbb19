"""Classification tasks and the seeded error model behind the emulator's replay file."""

from __future__ import annotations

import pytest

from clawback.errors import UsageError
from clawback.routing.datasets import (
    CHEAP_ERRORS,
    STRONG_ERRORS,
    ClassificationTask,
    ErrorModel,
    load_classification,
    replay_lines,
    system_prompt,
    task_lines,
)
from clawback.routing.validators import LabelValidator
from tests.conftest import shared_file

LABELS = tuple(f"intent_{w}_{i}" for i, w in enumerate(["card", "pin", "card", "transfer", "refund"] * 4))
TASK = ClassificationTask(
    "toy", LABELS, tuple((f"message number {i}", LABELS[i % len(LABELS)]) for i in range(400))
)


def test_task_lines_are_seeded_samples_with_the_labels_in_the_prompt() -> None:
    lines = task_lines(TASK, 50, seed=3)
    assert lines == task_lines(TASK, 50, seed=3)
    assert len({line["id"] for line in lines}) == 50
    request = lines[0]["request"]
    assert request["system"] == system_prompt(LABELS)
    assert all(label in request["system"] for label in LABELS)
    assert request["messages"][0]["role"] == "user"
    with pytest.raises(UsageError):
        task_lines(TASK, 0)


def test_error_model_rates_and_failure_kinds() -> None:
    lines = task_lines(TASK, 400)
    models = {"cheap": CHEAP_ERRORS, "strong": STRONG_ERRORS, "perfect": ErrorModel(1.0, 1.0)}
    records = replay_lines(TASK, lines, models, seed=0)
    assert records == replay_lines(TASK, lines, models, seed=0)
    truth = {line["request"]["messages"][0]["content"]: line["label"] for line in lines}
    valid = LabelValidator(frozenset(LABELS))
    for model, low, high in (("cheap", 0.82, 0.96), ("strong", 0.92, 0.99), ("perfect", 1.0, 1.0)):
        mine = [r for r in records if r["model"] == model]
        right = sum(r["response"] == truth[r["prompt"]] for r in mine) / len(mine)
        assert low <= right <= high, (model, right)
    wrong_cheap = [r for r in records if r["model"] == "cheap" and r["response"] != truth[r["prompt"]]]
    invalid = sum(not valid.check([r["response"]]).ok for r in wrong_cheap)
    assert 0 < invalid < len(wrong_cheap)  # some prose, some plausible wrong labels


def test_real_datasets_load() -> None:
    shared_file("data", "banking77", "test.csv")
    root = shared_file("data")
    banking = load_classification(root, "banking77")
    assert len(banking.labels) == 77 and len(banking.examples) == 3080
    clinc = load_classification(root, "clinc150")
    assert "oos" in clinc.labels and len(clinc.labels) == 151
    with pytest.raises(UsageError):
        load_classification(root, "imdb")
