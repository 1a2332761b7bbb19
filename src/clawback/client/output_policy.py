"""Output caps per task, learned from what the task's calls really produced (pure).

A task's cap is a high percentile of its observed output (``percentile``, 99 by default) times a
margin, plus a few tokens — and never below the longest answer that finished on its own
(``stop_reason`` other than ``max_tokens``): a cap must not cut what was really needed. Until a
task has ``min_samples`` finished calls there is no cap. A cap only ever lowers the caller's
``max_tokens``. The share of recent calls that stopped on ``max_tokens`` is watched; when it rises
above ``alert_rate`` the policy reports it once per rise, so a too-tight cap (or a prompt that
started rambling) is noticed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["CapDecision", "OutputPolicy", "OutputPolicySettings", "TaskOutputs"]


@dataclass(frozen=True, slots=True)
class OutputPolicySettings:
    """How caps are learned and when truncation is reported."""

    percentile: float = 99.0
    margin: float = 1.25
    slack_tokens: int = 16
    min_samples: int = 20
    window: int = 200
    alert_rate: float = 0.05
    alert_min_calls: int = 20


@dataclass(frozen=True, slots=True)
class CapDecision:
    """The ``max_tokens`` to send and why."""

    max_tokens: int
    capped: bool
    reason: str


@dataclass(slots=True)
class TaskOutputs:
    """Recent output lengths and stop reasons of one task."""

    window: int
    finished: deque[int] = field(default_factory=deque)
    stops: deque[bool] = field(default_factory=deque)
    longest_finished: int = 0
    alerted: bool = False
    truncated: int = 0
    """How many of ``stops`` are True."""
    cap: int | None = None
    """The cap learned from ``finished`` (kept by :class:`OutputPolicy`; reset by :meth:`add`)."""

    def add(self, output_tokens: int, truncated: bool) -> None:
        """Record one call's output length and whether it hit ``max_tokens``."""
        self.stops.append(truncated)
        self.truncated += truncated
        if len(self.stops) > self.window:
            self.truncated -= self.stops.popleft()
        self.cap = None
        if not truncated:
            self.finished.append(output_tokens)
            if len(self.finished) > self.window:
                self.finished.popleft()
            self.longest_finished = max(self.longest_finished, output_tokens)

    @property
    def truncation_rate(self) -> float:
        """Share of recent calls that stopped on ``max_tokens``."""
        return self.truncated / len(self.stops) if self.stops else 0.0


def _percentile(values: list[int], pct: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class OutputPolicy:
    """Learns each task's output distribution and caps ``max_tokens`` accordingly."""

    def __init__(self, settings: OutputPolicySettings | None = None) -> None:
        self.settings = settings or OutputPolicySettings()
        self._tasks: dict[str, TaskOutputs] = {}

    def observe(self, task: str | None, output_tokens: int, stop_reason: str | None) -> str | None:
        """Record a finished call; returns a warning when the task's truncation rate has risen."""
        if task is None:
            return None
        stats = self._tasks.get(task)
        if stats is None:  # not setdefault: that would build (and drop) a TaskOutputs on every call
            stats = self._tasks[task] = TaskOutputs(self.settings.window)
        stats.add(output_tokens, stop_reason == "max_tokens")
        rate = stats.truncation_rate
        enough = len(stats.stops) >= self.settings.alert_min_calls
        if enough and rate > self.settings.alert_rate and not stats.alerted:
            stats.alerted = True
            return (
                f"task {task!r}: {rate:.0%} of the last {len(stats.stops)} calls stopped at max_tokens "
                f"(alert above {self.settings.alert_rate:.0%}); answers are being cut"
            )
        if rate <= self.settings.alert_rate / 2:
            stats.alerted = False
        return None

    def cap(self, task: str | None) -> int | None:
        """The learned cap for ``task``, or None while there is too little evidence."""
        stats = self._tasks.get(task) if task is not None else None
        if stats is None or len(stats.finished) < self.settings.min_samples:
            return None
        if stats.cap is None:
            s = self.settings
            high = _percentile(list(stats.finished), s.percentile)
            stats.cap = max(stats.longest_finished, math.ceil(high * s.margin) + s.slack_tokens)
        return stats.cap

    def decide(self, task: str | None, requested: int) -> CapDecision:
        """The ``max_tokens`` to send: the learned cap when it is below what was asked."""
        learned = self.cap(task)
        if learned is None:
            return CapDecision(requested, False, "no cap: too few finished calls for this task")
        if learned < requested:
            return CapDecision(
                learned, True, f"capped at {learned} (p{self.settings.percentile:g} of observed output)"
            )
        return CapDecision(requested, False, f"requested {requested} is within the learned cap {learned}")

    def reset_alerts(self) -> None:
        """Forget which tasks were already reported (after seeding from history)."""
        for stats in self._tasks.values():
            stats.alerted = False

    def stats(self, task: str) -> TaskOutputs | None:
        """The recorded outputs of ``task``."""
        return self._tasks.get(task)
