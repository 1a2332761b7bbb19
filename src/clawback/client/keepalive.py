"""Keep-alive: ping a cached prefix just before it expires, when that is cheaper than a rewrite.

The decisions are the replay's and the audit's own: a :class:`clawback.cache.keeper.Keeper` on the
pipeline's cache history (the one the planner reads) watches the entry each call's deepest
breakpoint keeps, renews it on every use, and approves a ping just before the entry expires only
when :func:`clawback.cache.keepalive.decide_keepalive` says it pays — from the prefix's own gaps,
or for a young prefix its kind's learned chance of a use in the next five minutes — within the
spend cap and the history's savings plus exploration allowance. :meth:`KeepAlive.run_pending`
(called by a background thread every few seconds, or by a test with the emulator's clock) sends
what the keeper approves: the request cut after the watched breakpoint
(:func:`clawback.cache.prewarm.prefix_request`, so the uncached question that followed it is not
paid for again) with the lowest ``max_tokens`` the API accepts (``0`` where it can). Each ping is
recorded in the ledger (``extra.keepalive``), observed by the history (it refreshes the entry and
is booked against the cache savings) and its cost counted against the cap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from clawback.cache.keepalive import KeepAliveSettings
from clawback.cache.keeper import Keeper, Ping
from clawback.cache.prewarm import prefix_request, prewarm_params
from clawback.client.pipeline import CallPipeline, Outcome, Prepared
from clawback.client.settled import day_of
from clawback.ledger.record import CallRecord
from clawback.shapes import request_shape

__all__ = ["KeepAlive", "Pinger"]

log = logging.getLogger("clawback.client")

Pinger = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
"""Sends one request body as it is (no planning, no recording) and returns its usage."""

MAX_FAILURES = 3
"""Pings failing in a row (a key the pinger can't use, an endpoint that refuses them) turn keep-alive off."""


class KeepAlive:
    """Pings the entries the pipeline's keeper approves, just before they expire, under a spend cap."""

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
        self.settings = KeepAliveSettings(spend_cap=cap)
        self.record = record
        self.interval = interval
        """Seconds between the background thread's checks; a ping due within that is sent at a check."""
        self.keeper: Keeper[Prepared] = Keeper(pipeline.history, self.settings, day=day_of)
        self.failures = 0
        """Pings that failed in a row; at ``MAX_FAILURES`` keep-alive stops for this client."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def spent(self) -> Decimal:
        """What the pings sent so far cost."""
        return self.keeper.spent

    @property
    def pings_sent(self) -> int:
        """How many pings were sent."""
        return self.keeper.pings_sent

    def note(self, prepared: Prepared) -> None:
        """A call was served (and the history has learned from it): watch or renew its entries."""
        shape, plan, info = prepared.shape, prepared.plan, prepared.info
        if shape is None or plan is None or info is None or self.failures >= MAX_FAILURES:
            return
        with self.pipeline.lock:
            self.keeper.observed(
                shape,
                plan.marks,
                prepared.started_at,
                info=info,
                workspace=self.pipeline.workspace,
                payload=lambda _: prepared,
            )
        self._ensure_thread()

    def next_due(self) -> float | None:
        """When the next entry is checked (None when none is watched)."""
        with self.pipeline.lock:
            return self.keeper.next_due()

    def run_pending(self, now: float | None = None, *, lead: float | None = None) -> int:
        """Send the pings due before ``now + lead`` (``lead``: the check interval); returns how many went.

        Each is decided as of its due time, ``settings.margin`` seconds before its entry expires.
        """
        now = self.pipeline.clock() if now is None else now
        until = now + (self.interval if lead is None else lead)
        sent = 0
        while self.failures < MAX_FAILURES:
            with self.pipeline.lock:
                ping = self.keeper.next_ping(until, now=now)
            if ping is None:
                return sent
            if self._ping(ping, now):
                sent += 1
        return sent

    def _ping(self, ping: Ping[Prepared], now: float) -> bool:
        watch = ping.watch
        prepared = watch.payload
        body = prewarm_params(prefix_request(prepared.body, watch.position, watch.ttl))
        shape = request_shape(body, tokenizer=watch.info.tokenizer)
        sent = replace(prepared, body=body, shape=shape, started_at=now, cap=None, extra_call="keepalive")
        try:
            usage = self.pinger(body)
        except Exception as exc:  # a failed ping is only logged; traffic will rewrite the entry
            self.failures += 1
            if self.failures >= MAX_FAILURES:
                log.warning("keep-alive is off for this client after %d failed pings: %s", self.failures, exc)
            else:
                log.warning("keep-alive ping failed: %s", exc)
            with self.pipeline.lock:
                self.keeper.failed(ping)
            if self.record is not None:
                self.record(
                    self.pipeline.finish(sent, Outcome(error=exc), extra={"keepalive": True}, learn=False)
                )
            return False
        self.failures = 0
        record = self.pipeline.finish(
            sent, Outcome(usage=usage, stop_reason="max_tokens"), extra={"keepalive": True}, learn=False
        )
        if usage is not None:
            self.pipeline.note_ping(sent, usage)
        with self.pipeline.lock:
            self.keeper.pinged(ping, record.total if record.total is not None else ping.decision.ping_cost)
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
