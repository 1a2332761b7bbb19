"""Classification tasks from BANKING77 and CLINC150, and replay files for the emulator.

:func:`task_lines` turns a labelled dataset into ``clawback eval`` input: one JSON line per sample
with a Messages request (a system prompt listing the allowed intents, the customer's text as the
user turn) and its ground-truth ``label``.

:func:`replay_lines` writes what the emulator's replay responder serves for each model and prompt.
The answers come from a **documented, seeded error model, not from any real model**: it exists so
the harness can be tested end to end offline, and says nothing about how well Haiku or Sonnet
classify intents. For each model, a seeded 30% of intents are "hard"; on an easy intent the model
answers the true label with probability ``easy``, on a hard one with ``hard``; a wrong answer is,
with probability ``invalid_share``, prose that names no allowed label, otherwise the allowed label
closest in wording to the true one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawback.errors import InputFileError, UsageError

__all__ = [
    "CHEAP_ERRORS",
    "STRONG_ERRORS",
    "ClassificationTask",
    "ErrorModel",
    "load_classification",
    "replay_lines",
    "system_prompt",
    "task_lines",
]


@dataclass(frozen=True, slots=True)
class ClassificationTask:
    """A labelled intent dataset: its allowed labels and (text, label) examples."""

    name: str
    labels: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """How often a simulated model answers right, on easy and hard intents, and how it fails."""

    easy: float
    hard: float
    hard_share: float = 0.3
    invalid_share: float = 0.5


STRONG_ERRORS = ErrorModel(easy=0.97, hard=0.92, invalid_share=0.2)
CHEAP_ERRORS = ErrorModel(easy=0.97, hard=0.75, invalid_share=0.6)


def _banking77(root: Path, split: str) -> ClassificationTask:
    path = root / "banking77" / f"{split}.csv"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [(r["text"], r["category"]) for r in csv.DictReader(handle)]
        labels = tuple(json.loads((root / "banking77" / "categories.json").read_text("utf-8")))
    except (OSError, KeyError, ValueError) as exc:
        raise InputFileError(f"cannot read BANKING77 from {root / 'banking77'}: {exc}") from exc
    return ClassificationTask("banking77", labels, tuple(rows))


def _clinc150(root: Path, split: str) -> ClassificationTask:
    path = root / "clinc150" / "data_full.json"
    try:
        data = json.loads(path.read_text("utf-8"))
        rows = [(str(t), str(lab)) for t, lab in data[split] + data.get(f"oos_{split}", [])]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputFileError(f"cannot read CLINC150 from {path}: {exc}") from exc
    labels = tuple(sorted({lab for _, lab in rows}))
    return ClassificationTask("clinc150", labels, tuple(rows))


def load_classification(data_dir: str | Path, name: str, split: str = "test") -> ClassificationTask:
    """BANKING77 (``banking77``) or CLINC150 (``clinc150``, out-of-scope as label ``oos``)."""
    root = Path(data_dir)
    if name == "banking77":
        return _banking77(root, split)
    if name == "clinc150":
        return _clinc150(root, split)
    raise UsageError(f"unknown dataset {name!r}; expected banking77 or clinc150")


def system_prompt(labels: Sequence[str]) -> str:
    """The classification instructions, listing every allowed label."""
    listing = "\n".join(f"- {label}" for label in labels)
    return (
        "Classify the customer's message into exactly one of the intents below. "
        "Answer with the intent label only, exactly as written.\n\nIntents:\n" + listing
    )


def task_lines(
    task: ClassificationTask, n: int, *, seed: int = 0, max_tokens: int = 32
) -> list[dict[str, Any]]:
    """``n`` seeded samples as ``clawback eval`` lines: ``{"id", "request", "label"}``."""
    if n < 1:
        raise UsageError(f"--n must be positive, got {n}")
    picked = random.Random(seed).sample(range(len(task.examples)), min(n, len(task.examples)))
    system = system_prompt(task.labels)
    lines = []
    for i in picked:
        text, label = task.examples[i]
        lines.append(
            {
                "id": f"{task.name}-{i}",
                "request": {
                    "max_tokens": max_tokens,
                    "system": system,
                    "messages": [{"role": "user", "content": text}],
                },
                "label": label,
            }
        )
    return lines


def _unit(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _closest(label: str, labels: Sequence[str], rng: random.Random) -> str:
    words = set(label.split("_"))
    others = [x for x in labels if x != label]
    best = max(len(words & set(x.split("_"))) for x in others)
    return rng.choice([x for x in others if len(words & set(x.split("_"))) == best])


def _answer(text: str, label: str, labels: Sequence[str], model: str, errors: ErrorModel, seed: int) -> str:
    hard = _unit(str(seed), "hard", label).random() < errors.hard_share
    rng = _unit(str(seed), model, text)
    if rng.random() < (errors.hard if hard else errors.easy):
        return label
    if rng.random() < errors.invalid_share:
        return f"This message seems to be about {label.replace('_', ' ')}, I think."
    return _closest(label, labels, rng)


def replay_lines(
    task: ClassificationTask,
    lines: Sequence[Mapping[str, Any]],
    models: Mapping[str, ErrorModel],
    *,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Replay records (``{"model", "prompt", "response"}``) for every sample line and model."""
    out = []
    for line in lines:
        text = line["request"]["messages"][-1]["content"]
        for model, errors in models.items():
            answer = _answer(text, str(line["label"]), task.labels, model, errors, seed)
            out.append({"model": model, "prompt": text, "response": answer})
    return out
