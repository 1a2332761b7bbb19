"""Fault injection: by script ("the 3rd POST /v1/messages returns 529") or at a seeded random rate.

Each :class:`~clawback.emulator.config.FaultRule` counts the requests it matches (endpoint, model,
and for the stream faults only streaming requests); a request whose count is in ``nth``, or that
draws under ``rate``, gets the fault. Every matching rule counts every matching request; when
several fire, the first listed wins. Kinds:

* ``rate_limit`` → 429 ``rate_limit_error`` with ``retry-after``; ``spend_limit`` → the 429 of a
  tier's monthly spend cap: no ``retry-after`` and ``error.details.error_code:
  "enforced_spend_limit_reached"`` (retrying does not help until the cap resets); ``overloaded`` → 529
  ``overloaded_error``; ``api_error`` → 500; ``timeout`` → 504 ``timeout_error``.
* ``slow`` → the answer is delayed ``delay_seconds`` of real time (for client timeouts).
* ``stream_error`` → an SSE ``error`` event (``overloaded_error``) after ``after_events`` events.
* ``stream_cut`` → the connection is dropped after ``after_events`` events.

Batch items are faulted by :class:`~clawback.emulator.config.BatchFaultRule`: by ``custom_id`` or
at a rate, ending ``errored`` (with the rule's error) or ``expired``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from clawback.emulator.config import BatchFaultRule, FaultKind, FaultRule
from clawback.emulator.wire import ApiError

__all__ = ["Fault", "FaultInjector"]

_STATUS: dict[str, tuple[int, str]] = {
    "rate_limit": (429, "Number of requests has exceeded your rate limit (injected by the emulator)"),
    "spend_limit": (429, "You have reached your monthly spend limit (injected by the emulator)"),
    "overloaded": (529, "Overloaded (injected by the emulator)"),
    "api_error": (500, "Internal server error (injected by the emulator)"),
    "timeout": (504, "Request timed out (injected by the emulator)"),
}
STREAM_KINDS = frozenset({"stream_cut", "stream_error"})


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault chosen for one request."""

    kind: FaultKind
    retry_after: float = 1.0
    delay_seconds: float = 0.0
    after_events: int = 3

    def error(self) -> ApiError | None:
        """The HTTP error this fault answers with, if it is one."""
        if self.kind not in _STATUS:
            return None
        status, message = _STATUS[self.kind]
        headers = {"retry-after": _seconds(self.retry_after)} if self.kind == "rate_limit" else {}
        details = {"error_code": "enforced_spend_limit_reached"} if self.kind == "spend_limit" else None
        return ApiError(status, message, headers=headers, details=details)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class FaultInjector:
    """Decides, request by request, whether a fault fires."""

    def __init__(
        self, rules: Iterable[FaultRule] = (), batch_rules: Iterable[BatchFaultRule] = (), *, seed: int = 0
    ) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.replace(rules, batch_rules)

    def replace(
        self, rules: Iterable[FaultRule], batch_rules: Iterable[BatchFaultRule] | None = None
    ) -> None:
        """Install new rules (and reset counters and the random stream)."""
        with self._lock:
            self.rules = tuple(rules)
            if batch_rules is not None:
                self.batch_rules = tuple(batch_rules)
            self._counts = [0] * len(self.rules)
            self._random = random.Random(self._seed)

    def pick(self, endpoint: str, *, model: str | None = None, stream: bool = False) -> Fault | None:
        """The fault for this request, if a rule fires."""
        if not self.rules:
            return None
        chosen: Fault | None = None
        with self._lock:
            for i, rule in enumerate(self.rules):
                if rule.endpoint not in (endpoint, "any"):
                    continue
                if rule.model is not None and rule.model != model:
                    continue
                if rule.kind in STREAM_KINDS and not stream:
                    continue
                self._counts[i] += 1  # every matching rule counts, whichever fires
                fires = self._counts[i] in rule.nth or (rule.rate > 0 and self._random.random() < rule.rate)
                if fires and chosen is None:
                    chosen = Fault(rule.kind, rule.retry_after, rule.delay_seconds, rule.after_events)
        return chosen

    def batch_item(self, custom_id: str) -> BatchFaultRule | None:
        """The batch-item fault for ``custom_id``, if a rule fires."""
        if not self.batch_rules:
            return None
        with self._lock:
            for rule in self.batch_rules:
                if custom_id in rule.custom_ids or (rule.rate and self._random.random() < rule.rate):
                    return rule
        return None
