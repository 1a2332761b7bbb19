"""Training a learned router (scikit-learn) and calibrating its threshold to a quality target.

Training is the only place clawback uses numpy and scikit-learn (the optional ``routing`` extra):
a logistic regression over the hashed features of :mod:`clawback.routing.features`, exported as a
plain :class:`~clawback.routing.model.LinearModel` that scores prompts in pure Python at run time.

Calibration picks the threshold from *out-of-fold* scores of the training prompts (each prompt
scored by a model that did not see it), so the threshold is not fitted to the same noise the
weights were: the fewest strong calls whose routed quality still reaches the target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from clawback.errors import UsageError
from clawback.routing.features import FEATURES_VERSION, hashed_features
from clawback.routing.model import Inputs, LinearModel

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_C",
    "Calibration",
    "Trained",
    "calibrate_threshold",
    "out_of_fold_scores",
    "train",
    "train_linear",
]

DEFAULT_BUCKETS = 1 << 14
DEFAULT_C = 0.5


def _require_sklearn() -> Any:
    try:
        import numpy as np
        import sklearn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise UsageError(
            "training a router needs numpy and scikit-learn: pip install 'clawback[routing]'"
        ) from exc
    return np


def _matrix(texts: Sequence[str], answers: Sequence[str] | None, buckets: int) -> Any:
    import numpy as np
    from scipy.sparse import csr_matrix

    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for i, text in enumerate(texts):
        row = hashed_features(text, buckets, answer=answers[i] if answers is not None else None)
        indices.extend(row)
        data.extend([1.0 / math.sqrt(len(row))] * len(row) if row else [])
        indptr.append(len(indices))
    return csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(texts), buckets),
    )


def _fit(matrix: Any, labels: Sequence[bool], c: float) -> tuple[list[float], float]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels, dtype=np.int64)
    if len(set(y.tolist())) < 2:
        raise UsageError("training needs both outcomes among the labels (some good, some not)")
    clf = LogisticRegression(C=c, max_iter=1000, solver="newton-cg")
    clf.fit(matrix, y)
    return [float(w) for w in clf.coef_[0]], float(clf.intercept_[0])


@dataclass(frozen=True, slots=True)
class Trained:
    """A trained model and, when asked for, each training example's out-of-fold score."""

    model: LinearModel
    out_of_fold: tuple[float, ...] = ()


def _oof(matrix: Any, labels: Sequence[bool], folds: int, seed: int, c: float) -> tuple[float, ...]:
    import numpy as np

    n = matrix.shape[0]
    if n < folds:
        raise UsageError(f"need at least {folds} examples for {folds}-fold scores, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = np.arange(n) % folds
    y = np.asarray(labels, dtype=bool)
    scores = np.zeros(n)
    for k in range(folds):
        test = fold_of == k
        weights, bias = _fit(matrix[~test], y[~test].tolist(), c)
        z = matrix[test] @ np.asarray(weights) + bias
        scores[test] = 1.0 / (1.0 + np.exp(-z))
    return tuple(float(x) for x in scores)


def train(
    texts: Sequence[str],
    labels: Sequence[bool],
    *,
    answers: Sequence[str] | None = None,
    folds: int = 0,
    seed: int = 0,
    buckets: int = DEFAULT_BUCKETS,
    c: float = DEFAULT_C,
    target: str = "cheap_ok",
    meta: Mapping[str, Any] | None = None,
) -> Trained:
    """A logistic model of ``labels`` from prompts (and answers, for a cascade validator).

    With ``folds`` of 2 or more, also each example's score from a model trained on the other folds
    (deterministic by ``seed``) — what the threshold is calibrated on. Features are computed once.
    """
    _require_sklearn()
    if len(texts) != len(labels) or (answers is not None and len(answers) != len(texts)):
        raise UsageError("texts, labels and answers must have the same length")
    matrix = _matrix(texts, answers, buckets)
    weights, bias = _fit(matrix, labels, c)
    inputs: Inputs = "prompt+answer" if answers is not None else "prompt"
    info = {"examples": len(texts), "positives": int(sum(bool(x) for x in labels)), "c": c, **(meta or {})}
    model = LinearModel(tuple(weights), bias, inputs, target, FEATURES_VERSION, info)
    return Trained(model, _oof(matrix, labels, folds, seed, c) if folds >= 2 else ())


def train_linear(texts: Sequence[str], labels: Sequence[bool], **options: Any) -> LinearModel:
    """:func:`train` without out-of-fold scores: just the model."""
    return train(texts, labels, **options).model


def out_of_fold_scores(
    texts: Sequence[str], labels: Sequence[bool], *, folds: int = 5, **options: Any
) -> list[float]:
    """Each example's score from a model trained on the other folds (deterministic by ``seed``)."""
    if len(texts) < folds:
        raise UsageError(f"need at least {folds} examples for {folds}-fold scores, got {len(texts)}")
    return list(train(texts, labels, folds=folds, **options).out_of_fold)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The threshold meeting a quality target, and what it achieved on the calibration data."""

    threshold: float
    target_ratio: float
    quality: float
    strong_share: float
    examples: int
    met: bool

    def to_json(self) -> dict[str, Any]:
        """Plain numbers for JSON output."""
        return {
            "threshold": round(self.threshold, 6),
            "target_ratio": self.target_ratio,
            "quality": round(self.quality, 6),
            "strong_share": round(self.strong_share, 6),
            "examples": self.examples,
            "met": self.met,
        }


def calibrate_threshold(
    scores: Sequence[float],
    cheap: Sequence[float],
    strong: Sequence[float],
    target_ratio: float,
    *,
    confidence: float | None = 0.95,
) -> Calibration:
    """The threshold with the fewest strong calls whose routed quality reaches ``target_ratio`` of
    the strong model's quality — with ``confidence`` (one-sided), when given.

    A prompt goes to the cheap model when its score (P(cheap good enough)) is at or above the
    threshold. ``cheap`` and ``strong`` are each model's per-prompt quality (1/0 for right/wrong).
    The check is paired: with ``d_i = routed_i - target_ratio * strong_i``, the mean of ``d`` minus
    ``z * standard error`` must be at least 0 (``z`` = 1.645 for 0.95), which guards against picking
    a threshold that met the target on this sample by luck. Cut points fall only between distinct
    scores, so ties are routed together, as at run time. If no threshold reaches the target,
    every prompt goes to the strong model and ``met`` is False.
    """
    n = len(scores)
    if n == 0 or len(cheap) != n or len(strong) != n:
        raise UsageError("scores, cheap and strong must be non-empty and of equal length")
    z = 0.0 if confidence is None else NormalDist().inv_cdf(confidence)
    order = sorted(range(n), key=lambda i: scores[i])
    d = [cheap[i] - target_ratio * strong[i] for i in range(n)]
    total, squares = sum(d), sum(x * x for x in d)
    k = 0
    while True:
        mean = total / n
        spread = math.sqrt(max(0.0, squares / n - mean * mean) / max(1, n - 1))
        if mean - z * spread >= -1e-12:
            break
        if k == n:
            quality = sum(strong) / n
            return Calibration(1.0, target_ratio, quality, 1.0, n, False)
        value = scores[order[k]]
        while k < n and scores[order[k]] == value:  # the next group of tied scores goes strong
            i = order[k]
            new = strong[i] - target_ratio * strong[i]
            total += new - d[i]
            squares += new * new - d[i] * d[i]
            k += 1
    if k == 0:
        threshold = 0.0
    elif k == n:
        threshold = 1.0
    else:
        threshold = (scores[order[k - 1]] + scores[order[k]]) / 2
    routed = [strong[i] for i in order[:k]] + [cheap[i] for i in order[k:]]
    return Calibration(threshold, target_ratio, sum(routed) / n, k / n, n, True)
