"""The evaluation's results per (task, model) pair: baseline, each technique alone, the stacked steps (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from clawback.audit.results import CachingReport
from clawback.audit.simulate import OutputStats
from clawback.pricing.catalogue import ModelInfo

__all__ = ["CapCut", "Evaluation", "Key", "Pair", "Route", "RouteCaching"]

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Pair:
    """The priced calls of one task on one model."""

    task: str
    model_id: str
    cost: Decimal
    calls: int
    shaped: int
    aggregated: int
    tolerant: int


@dataclass(frozen=True, slots=True)
class Route:
    """A move cleared by the rules: target model, token scaling, the target's cache minimum."""

    target: ModelInfo
    factor: float | None
    source: str


@dataclass(frozen=True, slots=True)
class CapCut:
    """What an output cap does to a task's calls: runaways and finished answers it stops."""

    runaways: int
    """Calls that ran to the current limit (``stop_reason: max_tokens``) and would stop at the cap."""
    finished: int
    """Answers that finished but are longer than the cap: they would be cut off."""
    current: int | None = None
    """The task's most common ``max_tokens`` today (None when the log doesn't carry it)."""


class RouteCaching(Protocol):
    """Replays caching with some pairs routed (the :mod:`clawback.audit.caching` entry point)."""

    def __call__(self, routes: Mapping[Key, Route]) -> CachingReport:
        """Replay every policy; routed pairs also under the planner on their target model."""
        ...


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Costs per pair: baseline, each technique alone, and the stacked steps."""

    pairs: tuple[Pair, ...]
    routes: Mapping[Key, Route]
    caps: Mapping[str, int]
    stats: Mapping[str, OutputStats]
    alone: Mapping[str, Mapping[Key, Decimal]]
    stacked: Mapping[str, Mapping[Key, Decimal]]
    caching: CachingReport
    batch_pairs: frozenset[Key] = field(default_factory=frozenset)
    cap_cuts: Mapping[str, CapCut] = field(default_factory=dict)
    dropped: Mapping[str, tuple[Key, ...]] = field(default_factory=dict)

    @property
    def baseline(self) -> dict[Key, Decimal]:
        """Cost per pair today."""
        return {(p.task, p.model_id): p.cost for p in self.pairs}
