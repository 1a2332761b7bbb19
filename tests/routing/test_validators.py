"""Cascade validators: JSON schema subset, label sets, stated confidence, agreement, learned."""

from __future__ import annotations

import pytest

from clawback.errors import UsageError
from clawback.routing.model import LinearModel
from clawback.routing.validators import (
    AgreementValidator,
    ConfidenceValidator,
    JsonSchemaValidator,
    LabelValidator,
    LearnedValidator,
    extract_json,
    normalise_label,
)

SCHEMA = {
    "type": "object",
    "required": ["label", "confidence"],
    "additionalProperties": False,
    "properties": {
        "label": {"type": "string", "enum": ["refund", "delivery"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 3},
        "count": {"type": "integer"},
        "note": {"type": ["string", "null"], "maxLength": 5},
    },
}


@pytest.mark.parametrize(
    ("answer", "ok", "reason"),
    [
        ('{"label": "refund", "confidence": 0.9}', True, "valid"),
        ('```json\n{"label": "refund", "confidence": 0.9}\n```', True, "valid"),
        ('{"label": "refund"}', False, "lacks required field 'confidence'"),
        ('{"label": "other", "confidence": 0.9}', False, "$.label is not one of"),
        ('{"label": "refund", "confidence": 2}', False, "$.confidence is outside"),
        ('{"label": "refund", "confidence": true}', False, "expected number"),
        ('{"label": "refund", "confidence": 0.5, "extra": 1}', False, "unexpected field 'extra'"),
        ('{"label": "refund", "confidence": 0.5, "tags": ["a", ""]}', False, "$.tags[1] has a length"),
        ('{"label": "refund", "confidence": 0.5, "tags": ["a","b","c","d"]}', False, "number of items"),
        ('{"label": "refund", "confidence": 0.5, "count": 2.0}', True, "valid"),
        ('{"label": "refund", "confidence": 0.5, "count": 2.5}', False, "expected integer"),
        ('{"label": "refund", "confidence": 0.5, "note": null}', True, "valid"),
        ('{"label": "refund", "confidence": 0.5, "note": "too long"}', False, "length"),
        ("I think it's a refund", False, "not JSON"),
        ("[1, 2]", False, "expected object"),
    ],
)
def test_json_schema(answer: str, ok: bool, reason: str) -> None:
    result = JsonSchemaValidator(SCHEMA).check([answer])
    assert result.ok is ok
    assert reason in result.reason


@pytest.mark.parametrize(
    "schema",
    [{"type": "object", "patternProperties": {}}, {"type": "decimal"}, {"properties": {"a": {"oneOf": []}}}],
)
def test_unsupported_schema_keywords_are_refused(schema: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        JsonSchemaValidator(schema)


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("card_arrival", True),
        ("  'Card_Arrival.' ", True),
        ("card arrival", False),
        ("I think card_arrival", False),
        ("", False),
    ],
)
def test_labels(answer: str, ok: bool) -> None:
    assert LabelValidator(frozenset({"card_arrival", "pin_blocked"})).check([answer]).ok is ok


def test_label_validator_needs_labels() -> None:
    with pytest.raises(UsageError):
        LabelValidator(frozenset())


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ('{"answer": "x", "confidence": 0.92}', True),
        ('{"answer": "x", "confidence": 0.5}', False),
        ("The answer is 4.\nConfidence: 0.85", True),
        ("Answer: 4 (confidence 70%)", False),
        ("Answer: 4 (confidence: 95 %)", True),
        ("no idea", False),
    ],
)
def test_confidence(answer: str, ok: bool) -> None:
    assert ConfidenceValidator(0.8).check([answer]).ok is ok


@pytest.mark.parametrize(
    ("answers", "ok"),
    [(["A", "a."], True), (["A", "B"], False), (["A"], False)],
)
def test_agreement(answers: list[str], ok: bool) -> None:
    assert AgreementValidator(2).check(answers).ok is ok
    with pytest.raises(UsageError):
        AgreementValidator(1)


def test_learned_validator_uses_prompt_and_answer() -> None:
    model = LinearModel((0.0,) * 8, 1.0, inputs="prompt+answer")
    assert LearnedValidator(model, 0.5).check(["42"], "what?").ok
    assert not LearnedValidator(model, 0.9).check(["42"], "what?").ok
    with pytest.raises(UsageError):
        model.score("prompt only")


def test_helpers() -> None:
    assert normalise_label(' "Refund!" ') == "refund"
    assert extract_json('```\n{"a": 1}\n```') == {"a": 1}
    with pytest.raises(ValueError):
        extract_json("nothing here")
