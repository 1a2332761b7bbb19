"""Plain-value builders shared by the planner, replay and lint tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clawback.cache.history import PrefixHistory
from clawback.cache.plan import CachePlan
from clawback.cache.planner import plan_breakpoints
from clawback.cache.rules import CacheEngine, CacheOutcome
from clawback.cache.volatile import volatile_blocks
from clawback.pricing import ModelInfo, load_catalogue
from clawback.shapes import RequestShape, request_shape

CATALOGUE = load_catalogue()
SONNET_55 = CATALOGUE.resolve("claude-sonnet-5-5")  # 512-token minimum, reads at 0.05x
SONNET_46 = CATALOGUE.resolve("claude-sonnet-4-6")  # 1,024-token minimum, reads at 0.1x
OPUS_46 = CATALOGUE.resolve("claude-opus-4-6")  # 4,096-token minimum


def count(block: Any) -> int:
    """One token per character of text; 50 for anything else."""
    return len(block["text"]) if "text" in block else 50


def text(n: int, tag: str = "a", ttl: str | None = None) -> dict[str, Any]:
    """A text block of exactly ``n`` tokens under :func:`count`."""
    block: dict[str, Any] = {"type": "text", "text": (tag * n)[:n]}
    if ttl:
        block["cache_control"] = {"type": "ephemeral", **({"ttl": ttl} if ttl == "1h" else {})}
    return block


def body(
    system: list[dict[str, Any]] | str | None,
    messages: list[dict[str, Any]],
    model: ModelInfo = SONNET_55,
    **extra: Any,
) -> dict[str, Any]:
    """A Messages request body."""
    out: dict[str, Any] = {"model": model.id, "max_tokens": 100, "messages": messages, **extra}
    if system is not None:
        out["system"] = system
    return out


def user(*blocks: dict[str, Any] | str) -> dict[str, Any]:
    """A user turn."""
    return {"role": "user", "content": [b if isinstance(b, dict) else text(len(b), b) for b in blocks]}


def shape_of(request: dict[str, Any]) -> RequestShape:
    """The request's shape, counted with :func:`count`."""
    return request_shape(request, count=count)


@dataclass
class Driver:
    """Plans, serves (through the engine) and observes calls, as the client will."""

    model: ModelInfo = SONNET_55
    history: PrefixHistory = field(default_factory=PrefixHistory)
    engine: CacheEngine = field(default_factory=CacheEngine)
    plans: list[CachePlan] = field(default_factory=list)
    outcomes: list[CacheOutcome] = field(default_factory=list)

    def plan(self, request: dict[str, Any], at: float) -> CachePlan:
        """The plan for ``request`` at ``at`` without serving it."""
        return plan_breakpoints(
            shape_of(request), self.model, self.history, now=at, volatile=volatile_blocks(request)
        )

    def call(self, request: dict[str, Any], at: float) -> CacheOutcome:
        """Plan, serve and observe one call."""
        plan = self.plan(request, at)
        shape = plan.apply_to(shape_of(request))
        outcome = self.engine.process(
            shape, workspace="default", min_tokens=self.model.min_cacheable_tokens, start=at
        )
        self.history.observe(shape, outcome, at, info=self.model)
        self.plans.append(plan)
        self.outcomes.append(outcome)
        return outcome
