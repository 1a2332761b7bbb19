"""The per-call entry point: ``route(body, task, config)`` -> a :class:`RoutingDecision` (pure).

The drop-in client calls :func:`route` once per request; it reads no file and opens no
connection (the config was loaded once, by :func:`clawback.routing.config.load_routing_config`).
Precedence, first that applies wins:

1. the task's **verdict** from ``clawback eval`` — ``switch`` (use the candidate), ``cascade``
   (candidate first, a validator escalates), ``keep`` (the request's own model, no other policy);
2. a **learned router** for the task (``[learned.TASK]``), then one for every task (``[learned."*"]``);
3. the **rules table** (first matching rule; ``default_model`` when none matches);
4. otherwise the request's own model, unchanged (policy ``passthrough``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from clawback.errors import UsageError
from clawback.routing.features import RequestFeatures, request_features
from clawback.routing.policies import LearnedRouter, RoutingDecision, RulesTable
from clawback.routing.validators import Validator

__all__ = ["ANY_TASK", "RoutingConfig", "TaskPolicy", "decide", "route"]

ANY_TASK = "*"
Verdict = Literal["switch", "cascade", "keep"]


@dataclass(frozen=True, slots=True)
class TaskPolicy:
    """A task's verdict from ``clawback eval``, ready to apply."""

    verdict: Verdict
    model: str | None = None
    reference: str | None = None
    escalate_to: str | None = None
    validator: Validator | None = None
    samples: int = 1
    summary: str = ""

    def __post_init__(self) -> None:
        if self.verdict in ("switch", "cascade") and not self.model:
            raise UsageError(f"a {self.verdict} verdict needs a model")
        if self.verdict == "cascade" and (not self.escalate_to or self.validator is None):
            raise UsageError("a cascade verdict needs escalate_to and a validator")


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Everything :func:`route` needs, already loaded: verdicts, learned routers, rules."""

    rules: RulesTable = field(default_factory=RulesTable)
    tasks: Mapping[str, TaskPolicy] = field(default_factory=dict)
    learned: Mapping[str, LearnedRouter] = field(default_factory=dict)
    source: str | None = None

    def validator_for(self, task: str | None) -> Validator | None:
        """The cascade validator of ``task``'s verdict, if it has one."""
        policy = self.tasks.get(task) if task is not None else None
        return policy.validator if policy is not None else None


def _verdict_decision(policy: TaskPolicy, f: RequestFeatures) -> RoutingDecision:
    why = f" ({policy.summary})" if policy.summary else ""
    if policy.verdict == "switch":
        assert policy.model is not None
        return RoutingDecision(policy.model, "verdict", f"switch{why}", task=f.task)
    if policy.verdict == "cascade":
        assert policy.model is not None and policy.validator is not None
        return RoutingDecision(
            policy.model,
            "verdict",
            f"cascade{why}",
            escalate_to=policy.escalate_to,
            validator=policy.validator.name,
            task=f.task,
        )
    model = f.model or policy.reference
    if model is None:
        raise UsageError("a keep verdict applies, but the request names no model")
    return RoutingDecision(model, "verdict", f"keep{why}", task=f.task)


def decide(features: RequestFeatures, config: RoutingConfig) -> RoutingDecision:
    """The decision for already-computed features (see the module docstring for precedence)."""
    task = features.task
    if task is not None and task in config.tasks:
        return _verdict_decision(config.tasks[task], features)
    learned = config.learned.get(task) if task is not None else None
    learned = learned or config.learned.get(ANY_TASK)
    if learned is not None:
        return learned.decide(features)
    if config.rules.default or config.rules.match(features) is not None:
        return config.rules.decide(features)
    if features.model is None:
        raise UsageError("no routing policy applies and the request names no model")
    return RoutingDecision(features.model, "passthrough", "no policy applies", task=task)


def route(
    body: Mapping[str, Any],
    task: str | None,
    config: RoutingConfig,
    *,
    needs_reasoning: bool | None = None,
) -> RoutingDecision:
    """The routing decision for one Messages request body tagged with ``task`` (pure, fast)."""
    return decide(request_features(body, task=task, needs_reasoning=needs_reasoning), config)
