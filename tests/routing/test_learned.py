"""Training on synthetic data, threshold calibration, the model's JSON form."""

from __future__ import annotations

import json
import random

import pytest

from clawback.errors import UsageError
from clawback.routing.learned import calibrate_threshold, out_of_fold_scores, train_linear
from clawback.routing.model import MODEL_FORMAT, LinearModel


def _synthetic(n: int = 400, seed: int = 1) -> tuple[list[str], list[bool]]:
    """Easy prompts mention fruit; hard ones ask for proofs. The cheap model fails the hard ones."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        hard = rng.random() < 0.4
        words = ["prove", "theorem", "lemma"] if hard else ["apple", "banana", "pear"]
        texts.append(f"question {i}: {rng.choice(words)} {rng.choice(words)} please")
        labels.append(not hard if rng.random() > 0.05 else hard)
    return texts, labels


def test_trained_model_separates_easy_from_hard() -> None:
    texts, labels = _synthetic()
    model = train_linear(texts, labels, buckets=1024, meta={"note": "synthetic"})
    assert model.score("apple banana please") > 0.8
    assert model.score("prove this theorem please") < 0.3
    assert model.meta["examples"] == 400
    assert model.meta["note"] == "synthetic"


def test_json_roundtrip_keeps_scores() -> None:
    texts, labels = _synthetic()
    model = train_linear(texts, labels, buckets=512)
    back = LinearModel.from_json(json.loads(json.dumps(model.to_json())))
    for text in ("apple", "prove lemma", "anything else"):
        assert back.score(text) == pytest.approx(model.score(text), abs=1e-5)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "expected a JSON object"),
        ({"format": "other"}, "format must be"),
        ({"format": MODEL_FORMAT, "features_version": "clawback-hashed-1", "buckets": 0}, "buckets"),
        (
            {"format": MODEL_FORMAT, "features_version": "clawback-hashed-1", "buckets": 4, "weights": []},
            "weights",
        ),
        (
            {
                "format": MODEL_FORMAT,
                "features_version": "clawback-hashed-1",
                "buckets": 4,
                "weights": {"9": 1},
            },
            "bad weight",
        ),
        (
            {
                "format": MODEL_FORMAT,
                "features_version": "clawback-hashed-1",
                "buckets": 4,
                "weights": {},
                "inputs": "x",
            },
            "inputs",
        ),
    ],
)
def test_bad_model_files(data: object, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        LinearModel.from_json(data)


def test_training_needs_both_outcomes_and_matching_lengths() -> None:
    with pytest.raises(UsageError, match="both outcomes"):
        train_linear(["a", "b"], [True, True])
    with pytest.raises(UsageError):
        train_linear(["a"], [True, False])


def test_out_of_fold_scores_are_deterministic_and_informative() -> None:
    texts, labels = _synthetic()
    a = out_of_fold_scores(texts, labels, buckets=512)
    assert a == out_of_fold_scores(texts, labels, buckets=512)
    easy = [s for s, ok in zip(a, labels, strict=True) if ok]
    hard = [s for s, ok in zip(a, labels, strict=True) if not ok]
    assert sum(easy) / len(easy) > sum(hard) / len(hard) + 0.3
    with pytest.raises(UsageError):
        out_of_fold_scores(["a"], [True])


def test_calibration_picks_the_fewest_strong_calls_meeting_the_target() -> None:
    scores = [0.1, 0.2, 0.8, 0.9]
    cheap = [0.0, 0.0, 1.0, 1.0]
    strong = [1.0, 1.0, 1.0, 1.0]
    c = calibrate_threshold(scores, cheap, strong, 0.75, confidence=None)
    assert (c.threshold, c.strong_share, c.quality, c.met) == (pytest.approx(0.15), 0.25, 0.75, True)
    full = calibrate_threshold(scores, cheap, strong, 1.0, confidence=None)
    assert (full.threshold, full.strong_share) == (pytest.approx(0.5), 0.5)
    assert calibrate_threshold(scores, [1.0] * 4, strong, 0.95, confidence=None).threshold == 0.0


def test_calibration_routes_ties_together() -> None:
    c = calibrate_threshold([0.5, 0.5, 0.9], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0], 0.9, confidence=None)
    assert c.strong_share == pytest.approx(2 / 3)
    assert c.threshold == pytest.approx(0.7)


def test_calibration_with_confidence_asks_for_more_strong_calls() -> None:
    rng = random.Random(3)
    scores = [rng.random() for _ in range(300)]
    cheap = [1.0 if s > 0.3 or rng.random() < 0.5 else 0.0 for s in scores]
    strong = [1.0] * 300
    loose = calibrate_threshold(scores, cheap, strong, 0.95, confidence=None)
    strict = calibrate_threshold(scores, cheap, strong, 0.95, confidence=0.95)
    assert strict.strong_share > loose.strong_share
    assert strict.met and loose.met


def test_calibration_that_cannot_meet_the_target() -> None:
    c = calibrate_threshold([0.5, 0.6], [0.0, 0.0], [0.0, 1.0], 0.95, confidence=0.95)
    assert not c.met
    assert c.strong_share == 1.0
    assert c.to_json()["met"] is False
    with pytest.raises(UsageError):
        calibrate_threshold([], [], [], 0.9)
