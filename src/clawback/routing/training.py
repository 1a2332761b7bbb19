"""Training a learned router from per-prompt outcomes, for ``clawback eval train-router``.

Outcomes are JSON lines, one per prompt: ``{"prompt": "...", "cheap": 1, "strong": 0}`` — each
model's quality on that prompt (1/0 for right/wrong, or a score in [0, 1]); ``clawback eval
--outcomes FILE`` writes exactly this for every candidate it ran. The router learns whether the
cheap answer is at least as good as the strong one; its threshold is calibrated on out-of-fold
scores so the routed quality reaches the target share of the strong model's quality with 95%
confidence (:func:`clawback.routing.learned.calibrate_threshold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clawback.errors import InputFileError, UsageError
from clawback.routing.evaluate import EvalReport
from clawback.routing.learned import Calibration, calibrate_threshold, train
from clawback.routing.model import LinearModel

__all__ = ["MIN_OUTCOMES", "TrainedRouter", "outcome_lines", "read_outcomes", "train_router"]

MIN_OUTCOMES = 50


class _Outcome(BaseModel):
    model_config = ConfigDict(extra="allow")
    prompt: str
    cheap: float = Field(ge=0, le=1)
    strong: float = Field(ge=0, le=1)


def read_outcomes(path: str | Path) -> list[tuple[str, float, float]]:
    """``(prompt, cheap, strong)`` per line; a bad line is a one-line error naming it."""
    from clawback.safe_input import loads, read_text

    path = Path(path)
    lines = read_text(path, f"outcomes {path}").splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = _Outcome.model_validate(loads(line, f"outcomes {path}, line {number}"))
        except ValidationError as exc:
            raise InputFileError(f"outcomes {path}, line {number}: {_first(exc)}") from exc
        out.append((row.prompt, row.cheap, row.strong))
    return out


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


@dataclass(frozen=True, slots=True)
class TrainedRouter:
    """A trained model and its calibrated threshold."""

    model: LinearModel
    calibration: Calibration


def train_router(
    outcomes: Sequence[tuple[str, float, float]],
    *,
    quality_target: float = 0.95,
    meta: dict[str, Any] | None = None,
) -> TrainedRouter:
    """Train on ``outcomes`` and calibrate the threshold to ``quality_target``."""
    if len(outcomes) < MIN_OUTCOMES:
        raise UsageError(f"training a router needs at least {MIN_OUTCOMES} outcomes, got {len(outcomes)}")
    if not 0 < quality_target <= 1:
        raise UsageError(f"--quality-target must be in (0, 1], got {quality_target}")
    texts = [p for p, _, _ in outcomes]
    labels = [c >= s for _, c, s in outcomes]
    trained = train(texts, labels, folds=5)
    calibration = calibrate_threshold(
        trained.out_of_fold, [c for _, c, _ in outcomes], [s for _, _, s in outcomes], quality_target
    )
    info = {**trained.model.meta, **(meta or {}), "calibration": calibration.to_json()}
    model = LinearModel(
        trained.model.weights, trained.model.bias, trained.model.inputs, trained.model.target, meta=info
    )
    return TrainedRouter(model, calibration)


def outcome_lines(report: EvalReport) -> list[dict[str, Any]]:
    """Per-sample outcomes of every candidate against the incumbent, for ``--outcomes``."""
    incumbent = report.result(report.incumbent)
    questions = report.questions
    lines = []
    for result in report.results:
        if result.model == report.incumbent:
            continue
        for i, question in enumerate(questions):
            lines.append(
                {
                    "prompt": question,
                    "cheap": 1.0 if result.correct[i] else 0.0,
                    "strong": 1.0 if incumbent.correct[i] else 0.0,
                    "cheap_model": result.model,
                    "strong_model": incumbent.model,
                    "task": report.plan.task,
                }
            )
    return lines
