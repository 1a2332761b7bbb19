"""Opt-in keep-alive: ping a cached prefix just before it expires, when that is cheaper than a rewrite.

After each call that wrote or read a planned prefix, :meth:`KeepAlive.note` remembers the deepest
breakpoint, its TTL and the gaps between its uses. :meth:`KeepAlive.run_pending` (called by a
background thread every few seconds, or by a test with the emulator's clock) asks the pure
:func:`clawback.cache.keepalive.decide_keepalive` for each entry about to expire, and sends a
minimal pre-warm request when it says so: the request cut after the tracked breakpoint
(:func:`clawback.cache.prewarm.prefix_request`, so the uncached question that followed it is not
paid for again) with the lowest ``max_tokens`` the API accepts (``0`` where it can). Pings stop
when traffic stops (idle limit, no expected use), when they would not pay, or at the spend cap.
Each ping is recorded in the ledger (``extra.keepalive``) and booked against the cache savings.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from clawback.cache.keepalive import KeepAliveSettings, decide_keepalive
from clawback.cache.prewarm import prefix_request, prewarm_params
from clawback.cache.rules import TTL_SECONDS
from clawback.client.pipeline import CallPipeline, Outcome, Prepared
from clawback.ledger.record import CallRecord
from clawback.shapes import Ttl, request_shape

__all__ = ["KeepAlive", "Pinger"]

log = logging.getLogger("clawback.client")

Pinger = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
"""Sends one request body as it is (no planning, no recording) and returns its usage."""

_MARGIN = 10.0


@dataclass(slots=True)
class _Tracked:
    prepared: Prepared
    position: int
    prefix_tokens: int
    ttl: Ttl
    last_use: float
    refreshed: float
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=32))
    pings: int = 0
    dormant: bool = False


class KeepAlive:
    """Tracks planned prefixes and pings them before expiry while it pays, under a spend cap."""

    def __init__(
        self,
        pipeline: CallPipeline,
        pinger: Pinger,
        *,
        cap: Decimal,
        record: Callable[[CallRecord], None] | None,
        interval: float = 5.0,
    ) -> None:
        self.pipeline = pipeline
        self.pinger = pinger
        self.settings = KeepAliveSettings(spend_cap=cap, margin=_MARGIN)
        self.record = record
        self.interval = interval
        self.spent = Decimal(0)
        self.pings_sent = 0
        self._tracked: dict[str, _Tracked] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, prepared: Prepared) -> None:
        """A call used ``prepared``'s deepest breakpoint: track (or refresh) that prefix."""
        shape, plan = prepared.shape, prepared.plan
        if shape is None or plan is None or not plan.marks or prepared.info is None:
            return
        position = max(plan.marks)
        key = shape.blocks[position].prefix_hash
        now = prepared.started_at
        with self._lock:
            tracked = self._tracked.get(key)
            if tracked is not None:
                tracked.gaps.append(now - tracked.last_use)
                tracked.last_use = tracked.refreshed = now
                tracked.pings = 0
                tracked.dormant = False
                tracked.prepared = prepared
                tracked.position = position
            else:
                self._tracked[key] = _Tracked(
                    prepared, position, shape.prefix_tokens(position), plan.marks[position], now, now
                )
        self._ensure_thread()

    def run_pending(self, now: float | None = None) -> int:
        """Decide for every entry about to expire; returns how many pings were sent."""
        now = self.pipeline.clock() if now is None else now
        with self._lock:
            due = [
                (k, t)
                for k, t in self._tracked.items()
                if not t.dormant and now >= t.refreshed + TTL_SECONDS[t.ttl] - 2 * _MARGIN
            ]
        sent = 0
        for key, tracked in due:
            info = tracked.prepared.info
            assert info is not None
            decision = decide_keepalive(
                tracked.prefix_tokens,
                info,
                ttl=tracked.ttl,
                last_use=tracked.last_use,
                now=now,
                gaps=list(tracked.gaps),
                settings=self.settings,
                spent=self.spent,
                pings_since_use=tracked.pings,
            )
            if not decision.ping:
                log.debug("no keep-alive ping for a prefix: %s", decision.detail)
                with self._lock:
                    if decision.reason in ("idle", "spend_cap"):
                        self._tracked.pop(key, None)  # traffic stopped, or the budget is spent
                    else:
                        tracked.dormant = True  # until its next use; its gaps are kept
                continue
            if self._ping(tracked, now):
                sent += 1
        return sent

    def _ping(self, tracked: _Tracked, now: float) -> bool:
        prepared = tracked.prepared
        body = prewarm_params(prefix_request(prepared.body, tracked.position, tracked.ttl))
        assert prepared.info is not None
        shape = request_shape(body, tokenizer=prepared.info.tokenizer)
        ping = replace(prepared, body=body, shape=shape, started_at=now, cap=None, extra_call="keepalive")
        try:
            usage = self.pinger(body)
        except Exception as exc:  # a failed ping is only logged; traffic will rewrite the entry
            log.warning("keep-alive ping failed: %s", exc)
            if self.record is not None:
                self.record(
                    self.pipeline.finish(ping, Outcome(error=exc), extra={"keepalive": True}, learn=False)
                )
            return False
        outcome = Outcome(usage=usage, stop_reason="max_tokens")
        record = self.pipeline.finish(ping, outcome, extra={"keepalive": True}, learn=False)
        if usage is not None:
            self.pipeline.note_ping(ping, usage)
        self.spent += record.total or Decimal(0)
        self.pings_sent += 1
        tracked.pings += 1
        tracked.refreshed = now
        if self.record is not None:
            self.record(record)
        return True

    def _ensure_thread(self) -> None:
        if self._thread is not None or self.pipeline.options.clock is not None:
            return  # an injected clock means the caller drives run_pending itself
        self._thread = threading.Thread(target=self._loop, name="clawback-keepalive", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_pending()
            except Exception as exc:  # never let the thread die silently
                log.warning("keep-alive check failed: %s", exc)

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)
