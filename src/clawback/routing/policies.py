"""Routing policies: pure functions of a request's features to a model (no I/O).

Every policy implements the :class:`Router` role — ``decide(features) -> RoutingDecision`` — and
is cheap enough to run on every call. The decision says which model to call first, which policy
chose it and why, and for a cascade which model to escalate to and which validator decides.
``RoutingDecision.to_json()`` is what the ledger records.

Policies:

* :class:`FixedRouter`   always one model (the always-cheap and always-strong baselines).
* :class:`RandomRouter`  a fixed share to the strong model, chosen by a seeded hash of the prompt
  (deterministic: the same prompt always goes the same way).
* :class:`RulesTable`    the seed article's hand-written table: first matching rule wins.
* :class:`LearnedRouter` a trained model predicts whether the cheap answer will be good enough;
  at or above the threshold the cheap model answers, below it the strong one does.
* :class:`CascadeRouter` the cheap model first; a validator decides whether to escalate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from clawback.errors import UsageError
from clawback.routing.features import RequestFeatures
from clawback.routing.model import LinearModel

__all__ = [
    "CascadeRouter",
    "FixedRouter",
    "LearnedRouter",
    "RandomRouter",
    "Router",
    "RoutingDecision",
    "Rule",
    "RulesTable",
    "hash_unit",
]


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Which model to call, who chose it and why; for a cascade, where to escalate."""

    model: str
    policy: str
    reason: str
    escalate_to: str | None = None
    validator: str | None = None
    score: float | None = None
    task: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A small JSON-ready dict for the ledger (absent fields left out)."""
        out: dict[str, Any] = {"model": self.model, "policy": self.policy, "reason": self.reason}
        for name in ("escalate_to", "validator", "task"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.score is not None:
            out["score"] = round(self.score, 4)
        return out


class Router(Protocol):
    """Chooses a model for one request from its features; pure and fast."""

    def decide(self, features: RequestFeatures) -> RoutingDecision:
        """The routing decision for one request."""
        ...


def hash_unit(text: str, seed: int = 0) -> float:
    """A number in [0, 1) fixed by ``text`` and ``seed`` (BLAKE2b), for reproducible random routing."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, salt=seed.to_bytes(8, "big")).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class FixedRouter:
    """Always the same model."""

    model: str
    name: str = "fixed"

    def decide(self, features: RequestFeatures) -> RoutingDecision:
        """Always :attr:`model`."""
        return RoutingDecision(self.model, self.name, f"always {self.model}", task=features.task)


@dataclass(frozen=True, slots=True)
class RandomRouter:
    """A seeded, prompt-keyed random share of calls to the strong model."""

    cheap: str
    strong: str
    strong_share: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.strong_share <= 1:
            raise UsageError(f"strong_share must be between 0 and 1, got {self.strong_share}")

    def decide(self, features: RequestFeatures) -> RoutingDecision:
        """Strong when the prompt's hash falls under the share."""
        u = hash_unit(features.text, self.seed)
        model = self.strong if u < self.strong_share else self.cheap
        return RoutingDecision(
            model, "random", f"hash {u:.3f} vs share {self.strong_share:g}", task=features.task
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a rules table; every condition given must hold (None means 'any')."""

    model: str
    name: str = ""
    task_types: frozenset[str] | None = None
    max_context_tokens: int | None = None
    min_context_tokens: int | None = None
    needs_reasoning: bool | None = None
    has_tools: bool | None = None
    has_images: bool | None = None

    def matches(self, f: RequestFeatures) -> bool:
        """Whether every condition of the rule holds for ``f``."""
        if self.task_types is not None and f.task not in self.task_types:
            return False
        if self.max_context_tokens is not None and f.context_tokens >= self.max_context_tokens:
            return False
        if self.min_context_tokens is not None and f.context_tokens < self.min_context_tokens:
            return False
        for name in ("needs_reasoning", "has_tools", "has_images"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(f, name) != wanted:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RulesTable:
    """The hand-written table: the first matching rule's model, else ``default`` (else unchanged)."""

    rules: Sequence[Rule] = ()
    default: str | None = None

    def match(self, features: RequestFeatures) -> Rule | None:
        """The first rule that matches, if any."""
        for rule in self.rules:
            if rule.matches(features):
                return rule
        return None

    def decide(self, features: RequestFeatures) -> RoutingDecision:
        """The matching rule's model; the default or the request's own model otherwise."""
        rule = self.match(features)
        if rule is not None:
            label = rule.name or f"rule {list(self.rules).index(rule) + 1}"
            return RoutingDecision(rule.model, "rules", f"matched {label}", task=features.task)
        model = self.default or features.model
        if model is None:
            raise UsageError("no rule matched, no default model and the request names no model")
        return RoutingDecision(model, "rules", "no rule matched", task=features.task)


@dataclass(frozen=True, slots=True)
class LearnedRouter:
    """A trained model's P(cheap answer good enough) against a calibrated threshold."""

    model: LinearModel
    cheap: str
    strong: str
    threshold: float
    name: str = "learned"

    def __post_init__(self) -> None:
        if self.model.inputs != "prompt":
            raise UsageError("a learned router needs a model trained on prompts alone")

    def decide(self, features: RequestFeatures) -> RoutingDecision:
        """Cheap when the score reaches the threshold, strong otherwise."""
        p = self.model.score(features.text)
        cheap = p >= self.threshold
        return RoutingDecision(
            self.cheap if cheap else self.strong,
            self.name,
            f"P(cheap ok) {p:.3f} {'>=' if cheap else '<'} {self.threshold:.3f}",
            score=p,
            task=features.task,
        )


@dataclass(frozen=True, slots=True)
class CascadeRouter:
    """The cheap model first; ``validator`` decides whether to escalate to the strong model."""

    cheap: str
    strong: str
    validator: str
    samples: int = 1

    def decide(self, features: RequestFeatures) -> RoutingDecision:
        """Always the cheap model first, with the escalation target and validator named."""
        return RoutingDecision(
            self.cheap,
            "cascade",
            f"{self.cheap} first; {self.validator} check escalates to {self.strong}",
            escalate_to=self.strong,
            validator=self.validator,
            task=features.task,
        )
