"""Scorers: does a candidate's answer agree with the expected one? (pure, except the judge).

Spelled on the command line as ``--scorer``:

* ``exact``           the answers are equal after trimming surrounding whitespace.
* ``label``           equal after :func:`~clawback.routing.validators.normalise_label` (case,
  surrounding quotes and punctuation), so ``"Card_Arrival."`` matches ``card_arrival``.
* ``json-field:NAME`` both parse as JSON objects (a fenced block is accepted) and field ``NAME``
  is equal; a dotted name reaches into nested objects (``result.label``).
* ``numeric:TOL``     the last number in each answer differs by at most ``TOL`` (absolute), or by
  at most ``TOL`` percent of the expected value when written ``numeric:2%``.
* ``judge:MODEL``     a judge model reads the question, the expected answer and the candidate's and
  answers CORRECT or INCORRECT; its calls go through the same runner (and are priced too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from clawback.errors import UsageError
from clawback.routing.validators import extract_json, normalise_label

__all__ = [
    "JUDGE_SYSTEM",
    "JudgeScorer",
    "ScoreItem",
    "Scorer",
    "exact_scorer",
    "json_field_scorer",
    "label_scorer",
    "numeric_scorer",
    "parse_scorer",
]

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
JUDGE_SYSTEM = (
    "You grade answers. Given a question, a reference answer and a candidate answer, reply with "
    "exactly one word: CORRECT if the candidate means the same as the reference for the question, "
    "INCORRECT otherwise."
)


@dataclass(frozen=True, slots=True)
class ScoreItem:
    """One comparison: the candidate's answer, the expected answer, and the question for context."""

    answer: str
    expected: Any
    question: str = ""


class Scorer(Protocol):
    """Scores many answers at once (a judge sends its calls as one batch)."""

    @property
    def name(self) -> str:
        """The scorer as spelled on the command line."""
        ...

    def score_many(self, items: Sequence[ScoreItem]) -> list[bool]:
        """One agreement flag per item."""
        ...


@dataclass(frozen=True, slots=True)
class _Simple:
    name: str
    check: Callable[[str, Any], bool]

    def score_many(self, items: Sequence[ScoreItem]) -> list[bool]:
        """Each item checked on its own."""
        return [self.check(item.answer, item.expected) for item in items]


def _exact(answer: str, expected: Any) -> bool:
    return answer.strip() == str(expected).strip()


def _label(answer: str, expected: Any) -> bool:
    return normalise_label(answer) == normalise_label(str(expected))


def exact_scorer() -> Scorer:
    """Equal after trimming whitespace."""
    return _Simple("exact", _exact)


def label_scorer() -> Scorer:
    """Equal after label normalisation."""
    return _Simple("label", _label)


def _field(value: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(part)
        value = value[part]
    return value


def json_field_scorer(field: str) -> Scorer:
    """Field ``field`` (dotted) of both JSON answers is equal."""
    if not field:
        raise UsageError("json-field needs a field name: json-field:NAME")
    path = field.split(".")

    def check(answer: str, expected: Any) -> bool:
        try:
            mine = _field(extract_json(answer), path)
            want = _field(extract_json(expected) if isinstance(expected, str) else expected, path)
        except (ValueError, KeyError):
            return False
        return bool(mine == want)

    return _Simple(f"json-field:{field}", check)


def _last_number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    found = _NUMBER.findall(str(value))
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def numeric_scorer(tolerance: str) -> Scorer:
    """The last numbers agree within an absolute tolerance, or a percentage (``2%``)."""
    relative = tolerance.endswith("%")
    try:
        tol = float(tolerance.rstrip("%"))
    except ValueError as exc:
        raise UsageError(f"numeric tolerance must be a number or a percentage, got {tolerance!r}") from exc
    if tol < 0 or not math.isfinite(tol):
        raise UsageError(f"numeric tolerance must be a non-negative number, got {tolerance!r}")

    def check(answer: str, expected: Any) -> bool:
        mine, want = _last_number(answer), _last_number(expected)
        if mine is None or want is None:
            return False
        allowed = abs(want) * tol / 100 if relative else tol
        return abs(mine - want) <= allowed + 1e-12

    return _Simple(f"numeric:{tolerance}", check)


def _says_correct(reply: str | None) -> bool:
    words = (reply or "").split()
    return bool(words) and words[0].strip(".:!*").upper() == "CORRECT"


JudgeCall = Callable[[Sequence[Mapping[str, Any]]], Sequence[str | None]]


@dataclass(frozen=True, slots=True)
class JudgeScorer:
    """A judge model grades each answer; ``call`` sends all judge requests and returns their texts."""

    model: str
    call: JudgeCall

    @property
    def name(self) -> str:
        """``judge:MODEL``."""
        return f"judge:{self.model}"

    def request(self, item: ScoreItem) -> dict[str, Any]:
        """The Messages body asking the judge about one item."""
        text = (
            f"Question:\n{item.question}\n\nReference answer:\n{item.expected}\n\n"
            f"Candidate answer:\n{item.answer}\n\nIs the candidate correct? Reply CORRECT or INCORRECT."
        )
        return {
            "model": self.model,
            "max_tokens": 8,
            "system": JUDGE_SYSTEM,
            "messages": [{"role": "user", "content": text}],
        }

    def score_many(self, items: Sequence[ScoreItem]) -> list[bool]:
        """CORRECT (first word, any case) agrees; anything else, or a failed judge call, does not."""
        replies = self.call([self.request(item) for item in items])
        return [_says_correct(r) for r in replies]


def parse_scorer(spec: str, judge_call: JudgeCall | None = None) -> Scorer:
    """A scorer from its command-line spelling (see the module docstring)."""
    kind, _, arg = spec.partition(":")
    if kind == "exact" and not arg:
        return exact_scorer()
    if kind == "label" and not arg:
        return label_scorer()
    if kind == "json-field":
        return json_field_scorer(arg)
    if kind == "numeric":
        return numeric_scorer(arg or "0")
    if kind == "judge":
        if not arg:
            raise UsageError("judge needs a model: judge:MODEL")
        if judge_call is None:
            raise UsageError("the judge scorer needs a runner to call the judge model")
        return JudgeScorer(arg, judge_call)
    raise UsageError(
        f"unknown scorer {spec!r}; expected exact, label, json-field:NAME, numeric:TOL or judge:MODEL"
    )
