"""Running a cascade decision: cheap model first, validate, escalate if needed (no I/O of its own).

The caller supplies ``send(model, body) -> response`` — the drop-in client's own call, an SDK call
or a test double — so this module never touches the network. Every attempt is kept, with the
validator's verdict, so the ledger can record both calls and what the escalation cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from clawback.routing.features import request_text
from clawback.routing.policies import RoutingDecision
from clawback.routing.validators import Validation, Validator

__all__ = ["Attempt", "CascadeResult", "response_text", "run_cascade"]

R = TypeVar("R")


def response_text(response: Any) -> str:
    """The concatenated text blocks of a Messages response (an SDK object or its JSON dict)."""
    content = response.get("content") if isinstance(response, Mapping) else getattr(response, "content", None)
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or ():
        kind = block.get("type") if isinstance(block, Mapping) else getattr(block, "type", None)
        if kind == "text":
            text = block.get("text") if isinstance(block, Mapping) else getattr(block, "text", "")
            parts.append(str(text or ""))
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Attempt(Generic[R]):
    """One call the cascade made, with the validator's verdict on it (None for the last resort)."""

    model: str
    response: R
    validation: Validation | None = None


@dataclass(frozen=True, slots=True)
class CascadeResult(Generic[R]):
    """The response to use, and every attempt that led to it."""

    response: R
    attempts: tuple[Attempt[R], ...]
    decision: RoutingDecision

    @property
    def escalated(self) -> bool:
        """Whether the strong model was called."""
        return self.decision.escalate_to is not None and self.attempts[-1].model == self.decision.escalate_to

    def to_json(self) -> dict[str, Any]:
        """The decision and each attempt's model and validation, for the ledger."""
        return {
            **self.decision.to_json(),
            "escalated": self.escalated,
            "attempts": [
                {
                    "model": a.model,
                    **({"ok": a.validation.ok, "reason": a.validation.reason} if a.validation else {}),
                }
                for a in self.attempts
            ],
        }


def run_cascade(
    decision: RoutingDecision,
    body: Mapping[str, Any],
    send: Callable[[str, Mapping[str, Any]], R],
    validator: Validator | None,
    *,
    samples: int = 1,
    text_of: Callable[[R], str] = response_text,
) -> CascadeResult[R]:
    """Call ``decision.model``; if it is a cascade and the validator rejects the answer, escalate.

    ``samples`` cheap answers are requested for an agreement check (the first one is returned when
    it passes). A decision that is not a cascade is a single call.
    """
    first = decision.model
    if decision.escalate_to is None or validator is None:
        response = send(first, body)
        return CascadeResult(response, (Attempt(first, response),), decision)
    responses = [send(first, body) for _ in range(max(1, samples))]
    verdict = validator.check([text_of(r) for r in responses], request_text(body))
    attempts: list[Attempt[R]] = [Attempt(first, r, verdict) for r in responses]
    if verdict.ok:
        return CascadeResult(responses[0], tuple(attempts), decision)
    strong = send(decision.escalate_to, body)
    attempts.append(Attempt(decision.escalate_to, strong))
    return CascadeResult(strong, tuple(attempts), decision)
