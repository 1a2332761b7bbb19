"""Small, exact statistics for routing evidence: proportions with Wilson intervals (pure).

The Wilson score interval is used for every agreement or accuracy figure clawback reports: unlike
the normal ("Wald") interval it stays inside [0, 1] and keeps close to its nominal coverage for
small samples and for proportions near 0 or 1, which is where routing decisions live (a cheap
model that agrees 97% of the time on 150 calls). Reference: Wilson (1927); Brown, Cai & DasGupta,
"Interval Estimation for a Binomial Proportion", Statistical Science 16(2), 2001.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from clawback.errors import UsageError

__all__ = [
    "Proportion",
    "mean",
    "proportion",
    "random_routing_band",
    "wilson_interval",
    "z_for",
]


def z_for(confidence: float) -> float:
    """The two-sided standard-normal quantile for ``confidence`` (1.959964 for 0.95)."""
    if not 0 < confidence < 1:
        raise UsageError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for ``successes`` out of ``n`` (``(0, 1)`` when ``n`` is 0)."""
    if n < 0 or successes < 0 or successes > n:
        raise UsageError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = z_for(confidence)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True, slots=True)
class Proportion:
    """``successes`` out of ``n`` with its Wilson interval at ``confidence``."""

    successes: int
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def estimate(self) -> float:
        """The observed share (0 when ``n`` is 0)."""
        return self.successes / self.n if self.n else 0.0

    def to_json(self) -> dict[str, float | int]:
        """Plain numbers for JSON output and the routing config."""
        return {
            "successes": self.successes,
            "n": self.n,
            "estimate": round(self.estimate, 6),
            "ci_low": round(self.low, 6),
            "ci_high": round(self.high, 6),
            "confidence": self.confidence,
        }


def proportion(successes: int, n: int, confidence: float = 0.95) -> Proportion:
    """A :class:`Proportion` with its Wilson interval."""
    low, high = wilson_interval(successes, n, confidence)
    return Proportion(successes, n, low, high, confidence)


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean (0 for an empty sequence)."""
    return sum(values) / len(values) if values else 0.0


def random_routing_band(
    cheap: Sequence[float], strong: Sequence[float], share: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean quality of routing a random ``share`` of prompts to the strong model, and its interval.

    Exact for sampling without replacement: the expectation is the straight line between the two
    models, and the spread comes from which prompts happen to be picked (finite-population
    variance of the per-prompt gain ``strong - cheap``). Returns ``(expected, low, high)``.
    """
    n = len(cheap)
    if n != len(strong) or n == 0:
        raise UsageError("cheap and strong outcomes must be non-empty and of equal length")
    if not 0 <= share <= 1:
        raise UsageError(f"share must be between 0 and 1, got {share}")
    gains = [s - c for c, s in zip(cheap, strong, strict=True)]
    m = round(share * n)
    base = sum(cheap) / n
    gain_mean = sum(gains) / n
    expected = base + m * gain_mean / n
    if n == 1 or m in (0, n):
        return expected, expected, expected
    spread = sum((g - gain_mean) ** 2 for g in gains) / (n - 1)
    variance = m * (n - m) / n * spread / (n * n)
    half = z_for(confidence) * math.sqrt(variance)
    return expected, expected - half, expected + half
