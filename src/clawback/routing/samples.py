"""Where ``clawback eval`` samples come from: a JSONL dataset, or the ledger's retained samples.

A dataset line is a JSON object in one of two shapes::

    {"id": "b77-1", "request": {"system": "...", "messages": [...], "max_tokens": 32}, "label": "card_arrival"}
    {"custom_id": "b77-1", "params": {...}, "label": "card_arrival"}      # a Message Batches input line

``request``/``params`` is a Messages body (its ``model`` is ignored: each candidate is set in
turn); the ground truth is the field named by ``--ground-truth``; an optional ``labels`` list
gives the allowed labels for a labels validator.

A ledger record is usable when its ``task`` matches and it retained a ``sample`` (opt-in): a
JSON object with a ``request`` body, or plain text taken as the user turn. The ledger holds no
ground truth, so ledger samples are scored against a ``--reference`` model's answers.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from clawback.errors import InputFileError, UsageError
from clawback.routing.evaluate import EvalSample

__all__ = ["DEFAULT_MAX_TOKENS", "labels_of", "read_dataset", "sample_from_record", "take_sample"]

DEFAULT_MAX_TOKENS = 1024


class _Line(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | int | None = None
    custom_id: str | None = None
    request: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    labels: list[str] | None = None


def _body(raw: dict[str, Any], where: str) -> dict[str, Any]:
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InputFileError(f"{where}: the request needs a non-empty 'messages' list")
    body = dict(raw)
    body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    return body


def _sample(data: Any, number: int, where: str, ground_truth: str | None) -> EvalSample:
    try:
        line = _Line.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputFileError(f"{where}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
    raw = line.request if line.request is not None else line.params
    if raw is None:
        raise InputFileError(f"{where}: expected a 'request' (or batch 'params') object")
    expected = None
    if ground_truth is not None:
        extra = line.model_extra or {}
        if ground_truth not in extra:
            raise InputFileError(f"{where}: no ground-truth field {ground_truth!r}")
        expected = extra[ground_truth]
    ident = line.id if line.id is not None else line.custom_id
    return EvalSample(
        id=str(ident) if ident is not None else f"line-{number}",
        body=_body(raw, where),
        expected=expected,
        labels=tuple(line.labels or ()),
    )


def read_dataset(path: str | Path, ground_truth: str | None = None) -> list[EvalSample]:
    """Every line of a JSONL dataset; a bad line is a one-line error naming it."""
    from clawback.safe_input import loads, read_text

    path = Path(path)
    text = read_text(path, f"dataset {path}")
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"dataset {path}, line {number}"
        data = loads(line, where)
        samples.append(_sample(data, number, where, ground_truth))
    if not samples:
        raise InputFileError(f"dataset {path} has no samples")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputFileError(f"dataset {path}: sample id {dup!r} appears more than once")
    return samples


def take_sample(samples: Sequence[EvalSample], n: int | None, seed: int) -> list[EvalSample]:
    """A seeded random sample of ``n`` (all of them, in file order, when ``n`` is None or larger)."""
    if n is None or n >= len(samples):
        return list(samples)
    if n < 1:
        raise UsageError(f"--sample must be positive, got {n}")
    picked = sorted(random.Random(seed).sample(range(len(samples)), n))
    return [samples[i] for i in picked]


def labels_of(samples: Iterable[EvalSample]) -> frozenset[str]:
    """Allowed labels: every sample's ``labels`` list, else every ground-truth value seen."""
    listed = {label for s in samples for label in s.labels}
    if listed:
        return frozenset(listed)
    return frozenset(str(s.expected) for s in samples if s.expected is not None)


def sample_from_record(record_id: str, sample: str, max_tokens: int = DEFAULT_MAX_TOKENS) -> EvalSample:
    """An eval sample from a ledger record's retained ``sample`` text (see the module docstring)."""
    from clawback.safe_input import loads

    try:
        data = loads(sample, f"ledger record {record_id}")
    except InputFileError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("request"), dict):
        return EvalSample(record_id, _body(data["request"], f"ledger record {record_id}"))
    body = {"max_tokens": max_tokens, "messages": [{"role": "user", "content": sample}]}
    return EvalSample(record_id, body)
