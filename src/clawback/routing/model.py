"""A trained router's model: a logistic scorer over hashed features, and its JSON form (pure).

Training happens in :mod:`clawback.routing.learned` (scikit-learn); what it produces is this plain
object, which scores a prompt in pure Python — a few dozen microseconds, no numpy, no scikit-learn
on the per-call path. The JSON form::

    {"format": "clawback-router/1", "features_version": "clawback-hashed-1", "buckets": 16384,
     "inputs": "prompt", "target": "cheap_ok", "bias": -0.12, "weights": {"17": 0.53, ...},
     "meta": {...}}

``weights`` holds the non-zero weights only, keyed by bucket index. A model whose
``features_version`` differs from :data:`clawback.routing.features.FEATURES_VERSION` is refused:
its weights would silently mean something else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from clawback.errors import UsageError
from clawback.routing.features import FEATURES_VERSION, hashed_features

__all__ = ["MODEL_FORMAT", "LinearModel"]

MODEL_FORMAT: Final = "clawback-router/1"
Inputs = Literal["prompt", "prompt+answer"]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class LinearModel:
    """P(target | text) from a logistic model over hashed features."""

    weights: tuple[float, ...]
    bias: float
    inputs: Inputs = "prompt"
    target: str = "cheap_ok"
    features_version: str = FEATURES_VERSION
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def buckets(self) -> int:
        """Size of the hashed feature space."""
        return len(self.weights)

    def raw(self, text: str, answer: str | None = None) -> float:
        """The logit for ``text`` (and ``answer`` when the model reads prompt and answer)."""
        indices = hashed_features(text, len(self.weights), answer=answer)
        if not indices:
            return self.bias
        w = self.weights
        return self.bias + sum(w[i] for i in indices) / math.sqrt(len(indices))

    def score(self, text: str, answer: str | None = None) -> float:
        """The probability of the target (e.g. that the cheap model's answer is good enough)."""
        if self.inputs == "prompt+answer" and answer is None:
            raise UsageError("this model scores a prompt together with an answer; no answer given")
        return _sigmoid(self.raw(text, answer if self.inputs == "prompt+answer" else None))

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON form, non-zero weights only."""
        return {
            "format": MODEL_FORMAT,
            "features_version": self.features_version,
            "buckets": self.buckets,
            "inputs": self.inputs,
            "target": self.target,
            "bias": self.bias,
            "weights": {str(i): round(w, 7) for i, w in enumerate(self.weights) if w != 0.0},
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: Any, *, where: str = "router model") -> LinearModel:
        """A model from its JSON form; a wrong format or features version is a one-line error."""
        if not isinstance(data, Mapping):
            raise UsageError(f"{where}: expected a JSON object")
        if data.get("format") != MODEL_FORMAT:
            raise UsageError(f"{where}: format must be {MODEL_FORMAT!r}, got {data.get('format')!r}")
        if data.get("features_version") != FEATURES_VERSION:
            raise UsageError(
                f"{where}: trained with features {data.get('features_version')!r}, this clawback "
                f"computes {FEATURES_VERSION!r}; retrain it"
            )
        buckets = data.get("buckets")
        if not isinstance(buckets, int) or isinstance(buckets, bool) or not 1 <= buckets <= 1 << 24:
            raise UsageError(f"{where}: buckets must be a positive integer, got {buckets!r}")
        weights = [0.0] * buckets
        raw = data.get("weights")
        if not isinstance(raw, Mapping):
            raise UsageError(f"{where}: weights must be an object of index -> weight")
        try:
            for key, value in raw.items():
                index = int(key)
                if index < 0:
                    raise IndexError(f"negative index {index}")
                weights[index] = float(value)
            bias = float(data.get("bias", 0.0))
        except (TypeError, ValueError, IndexError) as exc:
            raise UsageError(f"{where}: bad weight or bias ({exc})") from exc
        inputs = data.get("inputs", "prompt")
        if inputs not in ("prompt", "prompt+answer"):
            raise UsageError(f"{where}: inputs must be 'prompt' or 'prompt+answer', got {inputs!r}")
        meta = data.get("meta", {})
        return cls(
            weights=tuple(weights),
            bias=bias,
            inputs=inputs,
            target=str(data.get("target", "cheap_ok")),
            meta=dict(meta) if isinstance(meta, Mapping) else {},
        )
