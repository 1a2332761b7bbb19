"""The planner's few constants, in one value (pure).

Every number the planner learns with or decides by that is not a price or an API rule lives in
:class:`Tuning`. The defaults are the best point of a grid (step 0.1/0.2/0.3, guess prior 0.1/0.2,
late prior 0.05/0.1/0.15, own weight 1/2/4) by the mean share of the oracle's saving on the first
half, by time, of each Mooncake trace on Sonnet 5.5, Sonnet 4.6 and Opus 4.6, with keep-alive on
(``benchmarks/mooncake_replay.py --tune`` replays the grid and prints every point): the second
halves are held out. ``PrefixHistory(tuning=...)`` runs the planner with other values.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tuning"]


@dataclass(frozen=True, slots=True)
class Tuning:
    """Learning rate, priors and shrinkage of the planner's odds."""

    step: float = 0.1
    """AdaGrad step size of the 5-minute odds (in log-odds per unit gradient)."""
    prior_guess: float = 0.1
    """Starting odds of a use within 5 minutes for a tail, a turn or any position of unknown kind."""
    prior_static: float = 0.5
    """Starting odds for the end of ``tools`` or ``system`` (static by design)."""
    late_prior: float = 0.1
    """Starting chance of a use between 5 minutes and an hour, given none within 5."""
    own_weight: float = 1.0
    """Weight, in sightings, of the learned odds against a seen-before prefix's own gaps."""
