"""Validators a cascade runs on the cheap model's answer to decide whether to escalate (pure).

Each validator looks at answer text (and, for the learned one, the prompt) and says ``ok`` or not,
with a reason. Kinds, as named in the routing config and on the command line:

* ``json-schema``  the answer is JSON (a fenced block is accepted) valid against a schema. A subset
  of JSON Schema is supported — ``type``, ``enum``, ``const``, ``properties``, ``required``,
  ``additionalProperties`` (boolean), ``items``, ``minItems``/``maxItems``,
  ``minLength``/``maxLength``, ``minimum``/``maximum`` — which covers the shapes structured
  outputs use. Other keywords are refused, not ignored, so a schema never passes by accident.
* ``labels``       the answer, normalised (case, surrounding quotes and punctuation), is one of
  an allowed label set.
* ``confidence``   the answer states a confidence (a JSON field or a ``confidence: 0.8`` line) of
  at least a minimum.
* ``agreement``    several cheap answers agree (normalised); the cascade samples them.
* ``learned``      a trained prompt+answer model (:class:`LinearModel`) scores the answer at or above
  a threshold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clawback.errors import UsageError
from clawback.routing.model import LinearModel

__all__ = [
    "AgreementValidator",
    "ConfidenceValidator",
    "JsonSchemaValidator",
    "LabelValidator",
    "LearnedValidator",
    "Validation",
    "Validator",
    "extract_json",
    "normalise_label",
]

_SUPPORTED = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum",
        "title", "description", "$schema", "default", "examples",
    }
)  # fmt: skip
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_CONFIDENCE_LINE = re.compile(r"confidence\W{0,3}\s*([01](?:\.\d+)?|\d{1,3}\s*%)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Validation:
    """A validator's verdict on an answer."""

    ok: bool
    reason: str


class Validator(Protocol):
    """Decides whether a cheap answer can be kept (``ok``) or must be escalated."""

    @property
    def name(self) -> str:
        """The validator's kind, as written in the routing config."""
        ...

    def check(self, answers: Sequence[str], prompt: str = "") -> Validation:
        """Judge the cheap model's answer(s) to ``prompt``; most validators read ``answers[0]``."""
        ...


def normalise_label(text: str) -> str:
    """An answer reduced for label comparison: trimmed, lower-case, outer quotes/punctuation gone."""
    return text.strip().strip("\"'`*.:;!,[](){}").strip().lower()


def extract_json(text: str) -> Any:
    """The JSON value in ``text`` (whole text, or the first fenced block); raises ValueError."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        match = _FENCE.search(stripped)
        if match is None:
            raise
        return json.loads(match.group(1))


def _is_type(value: Any, name: str) -> bool:
    if name in ("number", "integer") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _check_schema(schema: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(schema) - _SUPPORTED)
    if unknown:
        raise UsageError(f"JSON schema at {where}: unsupported keyword {unknown[0]!r}")
    kinds = schema.get("type")
    for kind in [kinds] if isinstance(kinds, str) else kinds or []:
        if kind not in _TYPES:
            raise UsageError(f"JSON schema at {where}: unknown type {kind!r}")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), Mapping):
        _check_schema(schema["items"], f"{where}[]")


def _errors(value: Any, schema: Mapping[str, Any], where: str) -> str | None:
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is_type(value, n) for n in names):
            return f"{where} is {type(value).__name__}, expected {' or '.join(names)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} is not one of the allowed values"
    if "const" in schema and value != schema["const"]:
        return f"{where} differs from the required constant"
    if isinstance(value, str) and not schema.get("minLength", 0) <= len(value) <= schema.get(
        "maxLength", len(value)
    ):
        return f"{where} has a length outside the allowed range"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        return f"{where} is outside the allowed range"
    if isinstance(value, list):
        return _array_errors(value, schema, where)
    if isinstance(value, dict):
        return _object_errors(value, schema, where)
    return None


def _array_errors(value: list[Any], schema: Mapping[str, Any], where: str) -> str | None:
    if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
        return f"{where} has a number of items outside the allowed range"
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            problem = _errors(item, items, f"{where}[{i}]")
            if problem:
                return problem
    return None


def _object_errors(value: dict[str, Any], schema: Mapping[str, Any], where: str) -> str | None:
    for name in schema.get("required", ()):
        if name not in value:
            return f"{where} lacks required field {name!r}"
    properties = schema.get("properties") or {}
    if schema.get("additionalProperties") is False:
        extra = sorted(set(value) - set(properties))
        if extra:
            return f"{where} has unexpected field {extra[0]!r}"
    for name, sub in properties.items():
        if name in value:
            problem = _errors(value[name], sub, f"{where}.{name}")
            if problem:
                return problem
    return None


@dataclass(frozen=True, slots=True)
class JsonSchemaValidator:
    """The answer parses as JSON and fits a (subset of) JSON Schema."""

    schema: Mapping[str, Any]
    name: str = "json-schema"

    def __post_init__(self) -> None:
        if not isinstance(self.schema, Mapping):
            raise UsageError("a JSON schema must be an object")
        _check_schema(self.schema, "$")

    def check(self, answers: Sequence[str], prompt: str = "") -> Validation:
        """Valid JSON matching the schema is ok; anything else escalates."""
        try:
            value = extract_json(answers[0] if answers else "")
        except ValueError:
            return Validation(False, "answer is not JSON")
        problem = _errors(value, self.schema, "$")
        return Validation(problem is None, problem or "valid against the schema")


@dataclass(frozen=True, slots=True)
class LabelValidator:
    """The answer is one of an allowed label set (compared after :func:`normalise_label`)."""

    labels: frozenset[str]
    name: str = "labels"
    _normalised: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.labels:
            raise UsageError("a label validator needs at least one allowed label")
        object.__setattr__(self, "_normalised", frozenset(normalise_label(x) for x in self.labels))

    def check(self, answers: Sequence[str], prompt: str = "") -> Validation:
        """An allowed label is ok; prose, an invented label or nothing escalates."""
        answer = normalise_label(answers[0] if answers else "")
        if answer in self._normalised:
            return Validation(True, "an allowed label")
        return Validation(False, "not one of the allowed labels")


def _stated_confidence(text: str, field_name: str) -> float | None:
    try:
        value = extract_json(text)
    except ValueError:
        value = None
    if isinstance(value, Mapping) and isinstance(value.get(field_name), (int, float)):
        return float(value[field_name])
    match = _CONFIDENCE_LINE.search(text)
    if match is None:
        return None
    raw = match.group(1).replace(" ", "")
    return float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)


@dataclass(frozen=True, slots=True)
class ConfidenceValidator:
    """The answer states a confidence of at least ``minimum`` (0-1, or a percentage)."""

    minimum: float
    field: str = "confidence"
    name: str = "confidence"

    def check(self, answers: Sequence[str], prompt: str = "") -> Validation:
        """A stated confidence at or above the minimum is ok; a missing one escalates."""
        stated = _stated_confidence(answers[0] if answers else "", self.field)
        if stated is None:
            return Validation(False, "no stated confidence")
        ok = stated >= self.minimum
        return Validation(ok, f"stated confidence {stated:g} {'>=' if ok else '<'} {self.minimum:g}")


@dataclass(frozen=True, slots=True)
class AgreementValidator:
    """At least ``samples`` cheap answers, of which a ``minimum`` share agree with the first."""

    samples: int = 2
    minimum: float = 1.0
    name: str = "agreement"

    def __post_init__(self) -> None:
        if self.samples < 2:
            raise UsageError("an agreement check needs at least 2 samples")

    def check(self, answers: Sequence[str], prompt: str = "") -> Validation:
        """Enough answers agreeing (after normalisation) is ok; disagreement escalates."""
        if len(answers) < self.samples:
            return Validation(False, f"needs {self.samples} answers, got {len(answers)}")
        first = normalise_label(answers[0])
        share = sum(normalise_label(a) == first for a in answers) / len(answers)
        return Validation(share >= self.minimum, f"{share:.0%} of {len(answers)} answers agree")


@dataclass(frozen=True, slots=True)
class LearnedValidator:
    """A trained prompt+answer model scores the answer at or above ``threshold``."""

    model: LinearModel
    threshold: float
    name: str = "learned"

    def check(self, answers: Sequence[str], prompt: str = "") -> Validation:
        """A score at or above the threshold is ok; below escalates."""
        score = self.model.score(prompt, answers[0] if answers else "")
        ok = score >= self.threshold
        return Validation(ok, f"score {score:.3f} {'>=' if ok else '<'} {self.threshold:.3f}")
