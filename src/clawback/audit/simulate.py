"""The techniques the audit evaluates and how they stack (pure).

The order is the one :mod:`clawback.estimate` uses — route → batch → cache → output cap — and
each step is judged on the calls as the previous steps left them: caching on the model calls are
routed to (its own minimum cacheable length and rates), the cap on the routed model's tokens.

* **Routing** applies to tasks the rules file or the evaluation harness's routing config clears
  for a cheaper model. The same text counts about 30% more tokens on the 4.7+ tokenizer.
* **Batch** applies to tasks labelled or ruled latency-tolerant: 50% of every token kind.
* **Caching** replays the calls with request shapes under the real cache rules (see
  :mod:`clawback.audit.caching`); a task keeps the better of its current caching and the planner's.
* **Output caps** set ``max_tokens`` at a percentile of the task's answers that finished; calls
  that ran to the current limit (runaways, cut off anyway) stop at the cap instead, and the few
  finished answers longer than the cap would be cut off (``stop_reason: max_tokens``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from clawback.pricing.catalogue import ModelInfo
from clawback.tokens import NEW_TOKENIZER_FACTOR

__all__ = [
    "DAYS_PER_MONTH",
    "OutputStats",
    "cap_for",
    "monthly_factor",
    "tokenizer_factor",
]

DAYS_PER_MONTH: Final = 30
_SECONDS_PER_MONTH: Final = DAYS_PER_MONTH * 86_400
_MIN_WINDOW_SECONDS: Final = 3_600


@dataclass(frozen=True, slots=True)
class OutputStats:
    """A task's real output lengths (tokens).

    ``calls`` counts every per-call record; ``at_limit`` those that stopped at ``max_tokens``
    (``stop_reason: "max_tokens"``). The percentiles are over the answers that *finished* (every
    other call, including calls whose log has no stop reason): an answer cut off at the limit says
    how long the limit is, not how long the task's answers are. ``max`` is over every call;
    ``limit`` is the smallest output of a call that stopped at the limit (None when none did).
    """

    calls: int
    p50: int
    p90: int
    p95: int
    p99: int
    max: int
    at_limit: int = 0
    limit: int | None = None

    @property
    def finished(self) -> int:
        """Calls whose answer finished (did not stop at ``max_tokens``)."""
        return self.calls - self.at_limit

    def percentile(self, p: float) -> int:
        """The nearest stored percentile of finished answers at or above ``p``."""
        for cut, value in ((50, self.p50), (90, self.p90), (95, self.p95), (99, self.p99)):
            if p <= cut:
                return value
        return self.max

    @property
    def binding(self) -> bool:
        """True when the current limit cuts real answers, not runaways.

        Calls stopped at the limit are runaways when the answers that finished stay well below it
        (their p99 under half the limit): the model was repeating itself, and the cut-off output is
        waste. When finished answers come close to the limit, the calls it stopped were most
        likely real answers that needed more room, and a lower cap would cut more of them.
        """
        return self.at_limit > 0 and self.limit is not None and self.p99 * 2 > self.limit


def _round_up(tokens: int) -> int:
    step = 16 if tokens < 256 else 64
    return max(step, math.ceil(tokens / step) * step)


def cap_for(stats: OutputStats, percentile: float) -> int | None:
    """The ``max_tokens`` to suggest: the percentile of finished answers rounded up.

    None when it would cut nothing, when no answer finished, or when the current limit already
    binds real answers (:attr:`OutputStats.binding`).
    """
    if stats.finished <= 0 or stats.binding:
        return None
    cap = _round_up(stats.percentile(percentile))
    return cap if cap < stats.max else None


def tokenizer_factor(source: ModelInfo, target: ModelInfo) -> float | None:
    """How the same text's token count changes from ``source``'s tokenizer to ``target``'s (None: same)."""
    if source.tokenizer == target.tokenizer:
        return None
    return NEW_TOKENIZER_FACTOR if target.tokenizer == "4.7+" else 1 / NEW_TOKENIZER_FACTOR


def monthly_factor(window_seconds: float) -> Decimal:
    """What multiplies a saving over the audited window into a 30-day month (window at least an hour)."""
    seconds = max(window_seconds, _MIN_WINDOW_SECONDS)
    return Decimal(_SECONDS_PER_MONTH) / Decimal(str(round(seconds, 3)))


def savings(baseline: Mapping[str, Decimal], after: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Per task: baseline minus the cost after a change (tasks the change doesn't touch are left out)."""
    return {task: baseline.get(task, Decimal(0)) - cost for task, cost in after.items()}
