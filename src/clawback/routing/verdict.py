"""The verdict rules of ``clawback eval``: switch, cascade or keep (pure).

Given the incumbent model (the reference, or the dearest model when scoring against ground
truth), each cheaper candidate's quality with its Wilson 95% interval, simulated cascades and the
cost per 1,000 calls of each option, at a quality target ``t`` (default 0.95):

* the bar: ``t`` when agreement is measured against the incumbent's own answers, or ``t`` times
  the incumbent's measured accuracy when scoring against ground truth;
* fewer than ``MIN_SAMPLE`` (30) scored samples: **keep** — too little evidence to move traffic;
* **switch** to the cheapest candidate that costs less than the incumbent and whose interval's
  *lower* bound clears the bar;
* otherwise **cascade** with the cheapest simulated cascade (candidate first, a validator
  escalates to the incumbent) that costs less than the incumbent and whose lower bound clears the
  bar;
* otherwise **keep**, naming the best candidate's interval and the bar it missed.

Requiring the lower bound (not the point estimate) to clear the bar means a switch needs both a
good agreement and enough samples: 100 agreeing out of 100 gives a lower bound of 0.963; 40 of 40
only 0.912.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from clawback.routing.stats import Proportion

__all__ = ["MIN_SAMPLE", "Option", "Verdict", "decide_verdict"]

MIN_SAMPLE = 30
VerdictKind = Literal["switch", "cascade", "keep"]


@dataclass(frozen=True, slots=True)
class Option:
    """A way to serve the task: one model alone, or a cascade from ``model`` to ``escalate_to``."""

    model: str
    quality: Proportion
    cost_per_1000: Decimal | None
    escalate_to: str | None = None
    validator: str | None = None
    escalation_rate: float | None = None

    @property
    def label(self) -> str:
        """``model`` or ``model -> escalate_to``."""
        return self.model if self.escalate_to is None else f"{self.model} -> {self.escalate_to}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with the task, and why."""

    kind: VerdictKind
    incumbent: str
    bar: float
    reason: str
    chosen: Option | None = None

    @property
    def model(self) -> str:
        """The model to call first under this verdict."""
        return self.chosen.model if self.chosen is not None else self.incumbent


def _cheaper(option: Option, incumbent: Option) -> bool:
    return (
        option.cost_per_1000 is not None
        and incumbent.cost_per_1000 is not None
        and option.cost_per_1000 < incumbent.cost_per_1000
    )


def _passing(options: Sequence[Option], incumbent: Option, bar: float) -> list[Option]:
    good = [o for o in options if _cheaper(o, incumbent) and o.quality.low >= bar]
    return sorted(good, key=lambda o: (o.cost_per_1000 or Decimal(0), -o.quality.low))


def _ci(option: Option) -> str:
    q = option.quality
    return f"{q.estimate:.3f} [{q.low:.3f}, {q.high:.3f}] on {q.n}"


def decide_verdict(
    incumbent: Option,
    candidates: Sequence[Option],
    cascades: Sequence[Option],
    *,
    bar: float,
) -> Verdict:
    """Switch, cascade or keep, by the rules in the module docstring."""
    n = incumbent.quality.n
    if n < MIN_SAMPLE:
        return Verdict("keep", incumbent.model, bar, f"only {n} scored samples; at least {MIN_SAMPLE} needed")
    switch = _passing(candidates, incumbent, bar)
    if switch:
        best = switch[0]
        return Verdict(
            "switch", incumbent.model, bar, f"{best.model}: {_ci(best)}, lower bound >= {bar:.3f}", best
        )
    cascade = _passing(cascades, incumbent, bar)
    if cascade:
        best = cascade[0]
        rate = f", {best.escalation_rate:.1%} escalated" if best.escalation_rate is not None else ""
        return Verdict(
            "cascade",
            incumbent.model,
            bar,
            f"{best.label}: {_ci(best)}{rate}, lower bound >= {bar:.3f}",
            best,
        )
    cheaper = [o for o in (*candidates, *cascades) if _cheaper(o, incumbent)]
    if not cheaper:
        return Verdict("keep", incumbent.model, bar, "no candidate is cheaper than the incumbent")
    best = max(cheaper, key=lambda o: o.quality.low)
    return Verdict(
        "keep",
        incumbent.model,
        bar,
        f"best cheaper option {best.label}: {_ci(best)}, lower bound < {bar:.3f}",
    )
