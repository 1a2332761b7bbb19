"""The work the drop-in client does around each call, with no HTTP of its own.

:meth:`CallPipeline.prepare` turns the caller's keyword arguments into the body to send: the
routing decision, the concise-answer instruction, the learned output cap and the cache plan, in
that order (the plan is made for the model that will serve the call). :meth:`CallPipeline.settle`
takes what came back — usage, model, stop reason, or an error — prices its input side and feeds the
cache history and the output policy, so the next call is planned with what this one taught; the
:class:`Settled` it returns builds the ledger record (cost breakdown, baseline, shape) when asked,
which the client does off the calling thread. :meth:`CallPipeline.finish` is both at once.

The record's ``baseline_usd`` — what the call would have cost sent as the caller wrote it — is
computed here (:mod:`clawback.ledger.baseline`), so every user of the pipeline (the client, the
gateway) stores the same figure.

Everything that changes state runs under one lock, so a client shared between threads stays
consistent; the work is small (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from clawback.cache.apply import apply_plan
from clawback.cache.history import PrefixHistory, SeedRecord
from clawback.cache.plan import CachePlan
from clawback.cache.planner import plan_breakpoints
from clawback.cache.volatile import Finding, volatile_blocks
from clawback.client.options import ClientOptions
from clawback.client.output_policy import CapDecision, OutputPolicy
from clawback.client.settled import Settled, day_of, plain_usage
from clawback.errors import ClawbackError
from clawback.ledger.baseline import EXTRA_CALL
from clawback.ledger.record import CallRecord
from clawback.pricing.catalogue import Catalogue, ModelInfo
from clawback.pricing.cost import CostBreakdown, Usage, parse_usage, price_input, price_usage
from clawback.routing.policies import RoutingDecision
from clawback.routing.route import RoutingConfig, route
from clawback.shapes import RequestShape, request_shape

__all__ = ["REQUEST_OPTION_KEYS", "CallPipeline", "Outcome", "Prepared", "Settled", "split_kwargs"]

log = logging.getLogger("clawback.client")

_VOLATILE_MEMO_LIMIT = 256
REQUEST_OPTION_KEYS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout", "betas"})
"""Keyword arguments that are not part of the Messages body (``betas`` becomes a header)."""


def _given(value: Any) -> bool:
    """False for the SDK's ``omit`` / ``NOT_GIVEN`` sentinels."""
    return type(value).__name__ not in ("Omit", "NotGiven")


def split_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """``(body, request options, task)`` from a ``messages.create`` call's keyword arguments."""
    body: dict[str, Any] = {}
    options: dict[str, Any] = {}
    task: str | None = None
    for key, value in kwargs.items():
        if key == "task":
            task = None if value is None else str(value)
        elif key in REQUEST_OPTION_KEYS:
            options[key] = value
        elif _given(value):
            body[key] = value
    return body, options, task


@dataclass(slots=True)
class Prepared:
    """A call ready to send, and what was decided on the way."""

    body: dict[str, Any]
    requested_model: str
    task: str | None
    info: ModelInfo | None
    shape: RequestShape | None
    plan: CachePlan | None
    routing: RoutingDecision | None
    cap: CapDecision | None
    original_max_tokens: int | None
    started_at: float
    source: Mapping[str, Any] = field(default_factory=dict)
    """The caller's own body (before routing, caps and planning), for fallbacks and retries."""
    started_perf: float = field(default_factory=time.perf_counter)
    extra_call: str | None = None
    """Why this attempt is one the caller would not have made (its baseline is 0): ``cut_by_cap``,
    ``keepalive``, ``cascade_sample`` or ``escalation`` (see :mod:`clawback.ledger.baseline`)."""
    caps: bool = True
    """Whether an output cap may apply (False for streams and raw responses: they can't be re-sent);
    a fallback attempt keeps it."""

    @property
    def model(self) -> str:
        """The model the body asks for."""
        return str(self.body.get("model", ""))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call returned: usage (the API's JSON, or the SDK's usage object), the serving model,
    stop reason, or an error."""

    usage: Any = None
    served_model: str | None = None
    stop_reason: str | None = None
    request_id: str | None = None
    error: BaseException | None = None
    ttft_s: float | None = None


class _Priced(NamedTuple):
    """What :meth:`CallPipeline._price` found out about one call's usage."""

    parsed: Usage | None
    breakdown: CostBreakdown | None
    reason: str | None
    """Why the call has no cost (its usage could not be read or priced)."""
    input_total: Decimal | None
    """The input side of the cost, on the model the call was planned for (the history books it)."""
    deferred: ModelInfo | None
    """The model to price ``parsed`` on later, when ``breakdown`` was left to the record."""


_UNPRICED = _Priced(None, None, None, None, None)


class CallPipeline:
    """Prepares bodies and turns outcomes into ledger records, learning as it goes."""

    def __init__(
        self,
        catalogue: Catalogue,
        options: ClientOptions,
        *,
        workspace: str,
        routing: RoutingConfig | None = None,
        clock: Callable[[], float] = time.time,
        source: str = "client",
    ) -> None:
        self.catalogue = catalogue
        self.source = source
        """The ledger's ``source`` of the records made here (``client``; the gateway passes ``gateway``)."""
        self.options = options
        self.workspace = workspace
        self.routing = routing
        self.clock = clock
        self.history = PrefixHistory()
        self.outputs = OutputPolicy(options.output_policy)
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._volatile_memo: dict[str, tuple[Finding, ...]] = {}

    @property
    def lock(self) -> threading.Lock:
        """The lock that guards the cache history and the output policy (keep-alive takes it too)."""
        return self._lock

    # -- before the call ---------------------------------------------------------------------

    def prepare(
        self, body: Mapping[str, Any], task: str | None, *, model: str | None = None, caps: bool = True
    ) -> Prepared:
        """The body to send for ``body`` (``model`` overrides routing, e.g. for a fallback).

        ``caps=False`` sends the caller's ``max_tokens`` unchanged: for calls that could not be sent
        again if a cap cut them (streams, raw responses).
        """
        now = self.clock()
        out = dict(body)
        requested = str(out.get("model", ""))
        decision: RoutingDecision | None = None
        if model is not None:
            out["model"] = model
        elif self.routing is not None and requested:
            decision = route(out, task, self.routing)
            out["model"] = decision.model
        text = self.options.concise_text
        if text:
            out["system"] = _with_instruction(out.get("system"), text)
        info = self.catalogue.get(str(out.get("model", "")))
        with self._lock:
            cap = self._cap(out, task) if caps else None
            shape, plan = self._plan(out, info, now, task)
        if plan is not None and plan.added:
            out = apply_plan(out, plan, shape)
        requested_max = body.get("max_tokens")
        return Prepared(
            out,
            requested,
            task,
            info,
            shape,
            plan,
            decision,
            cap,
            requested_max if isinstance(requested_max, int) else None,
            now,
            source=body,
            caps=caps,
        )

    def _cap(self, body: dict[str, Any], task: str | None) -> CapDecision | None:
        requested = body.get("max_tokens")
        if not self.options.output_caps or task is None or not isinstance(requested, int) or requested <= 0:
            return None
        decision = self.outputs.decide(task, requested)
        if decision.capped:
            body["max_tokens"] = decision.max_tokens
        return decision

    def _plan(
        self, body: Mapping[str, Any], info: ModelInfo | None, now: float, task: str | None
    ) -> tuple[RequestShape | None, CachePlan | None]:
        if info is None:
            return None, None
        try:
            shape = request_shape(body, tokenizer=info.tokenizer)
        except (ClawbackError, TypeError, ValueError, KeyError) as exc:  # a body the API will reject anyway
            log.debug("no shape for this request: %s", exc)
            return None, None
        if not self.options.plan_cache or body.get("max_tokens") == 0:
            return shape, None
        if len(self._volatile_memo) >= _VOLATILE_MEMO_LIMIT:  # e.g. a system prompt that changes every call
            self._volatile_memo.clear()
        try:
            plan = plan_breakpoints(
                shape,
                info,
                self.history,
                now=now,
                workspace=self.workspace,
                volatile=volatile_blocks(body, memo=self._volatile_memo),
                day=day_of(now),
                keepalive=self.options.keep_alive_cap_usd is not None,
                explain=False,
                task=task,
            )
        except ClawbackError as exc:  # e.g. the caller's own breakpoints break the rules: the API will say so
            log.debug("no cache plan for this request: %s", exc)
            return shape, None
        return plan.apply_to(shape), plan

    # -- the next attempt (one code path for the client and the gateway) -------------------------

    @staticmethod
    def cut_by_cap(prepared: Prepared, stop_reason: str | None) -> bool:
        """Whether a learned output cap (not the caller's own limit) cut this answer off."""
        cap = prepared.cap
        return (
            cap is not None
            and cap.capped
            and stop_reason == "max_tokens"
            and prepared.original_max_tokens is not None
        )

    @staticmethod
    def uncapped(prepared: Prepared) -> Prepared:
        """The same call with the caller's own ``max_tokens``, to send again after a cap cut it off.

        The cut attempt is marked ``cut_by_cap``: the caller would not have made it, so its baseline
        is 0 and its cost counts against the saving.
        """
        again = replace(
            prepared,
            body={**prepared.body, "max_tokens": prepared.original_max_tokens},
            cap=None,
            extra_call=None,
        )
        again.started_perf = time.perf_counter()
        prepared.extra_call = "cut_by_cap"
        return again

    def fallback(self, prepared: Prepared, model: str) -> Prepared:
        """``prepared`` re-planned for a fallback model (same caller, task and routing decision)."""
        attempt = self.prepare(
            prepared.source or prepared.body, prepared.task, model=model, caps=prepared.caps
        )
        attempt.requested_model = prepared.requested_model
        attempt.routing = prepared.routing
        return attempt

    # -- after the call ----------------------------------------------------------------------

    def settle(
        self,
        prepared: Prepared,
        outcome: Outcome,
        *,
        fallback_from: str | None = None,
        extra: Mapping[str, Any] | None = None,
        learn: bool = True,
    ) -> Settled:
        """Price one attempt and, for a successful call, teach the history and caps; the record comes later."""
        latency_ms = (time.perf_counter() - prepared.started_perf) * 1000
        served = outcome.served_model or prepared.model
        usage = outcome.usage
        priced = (
            self._price(prepared, served, usage, day_of(prepared.started_at))
            if usage is not None
            else _UNPRICED
        )
        if learn and usage is not None and outcome.error is None:
            if priced.parsed is None:
                log.warning("usage from the API could not be read: %s", priced.reason)
            else:
                self._learn(prepared, priced.parsed, outcome, priced.input_total)
        return Settled(
            self,
            prepared,
            outcome,
            priced.parsed,
            priced.breakdown,
            priced.reason,
            served,
            latency_ms,
            fallback_from,
            extra,
            priced.deferred,
        )

    def finish(
        self,
        prepared: Prepared,
        outcome: Outcome,
        *,
        fallback_from: str | None = None,
        extra: Mapping[str, Any] | None = None,
        learn: bool = True,
    ) -> CallRecord:
        """The ledger record of one attempt; successful calls also teach the history and caps."""
        return self.settle(prepared, outcome, fallback_from=fallback_from, extra=extra, learn=learn).record()

    def _price(self, prepared: Prepared, served: str, usage: Any, day: date) -> _Priced:
        """The parsed usage and its cost (or why it has none) — never raises.

        When the model that served the call is the planned one and no price modifier applies, only
        the input side is priced here (the history books it); the breakdown is left to the record,
        built off the calling thread (:class:`Settled`), from the same usage, model and day.
        """
        try:
            parsed = parse_usage(plain_usage(usage))
        except (ClawbackError, ArithmeticError, TypeError) as exc:
            return _Priced(None, None, str(exc), None, None)
        try:
            info = prepared.info
            if info is not None and served == prepared.model:
                input_total = price_input(parsed, info, at=day)
                if input_total is not None:
                    return _Priced(parsed, None, None, input_total, info)
            else:
                info = self.catalogue.resolve(served)
            breakdown = price_usage(parsed, info, at=day)
        except (ClawbackError, ArithmeticError) as exc:
            return _Priced(parsed, None, str(exc), None, None)
        return _Priced(
            parsed, breakdown, None, breakdown.input_total if info is prepared.info else None, None
        )

    def _extra(self, prepared: Prepared, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = dict(extra or {})
        if prepared.extra_call is not None:
            out[EXTRA_CALL] = prepared.extra_call
        if prepared.plan is not None and prepared.plan.added:
            out["cache_plan"] = {str(p): prepared.plan.marks[p] for p in prepared.plan.added}
        if prepared.cap is not None and prepared.cap.capped:
            out["max_tokens_cap"] = {
                "sent": prepared.cap.max_tokens,
                "requested": prepared.original_max_tokens,
            }
        return out

    def _learn(
        self, prepared: Prepared, parsed: Usage, outcome: Outcome, actual_input: Decimal | None
    ) -> None:
        with self._lock:
            if prepared.shape is not None and prepared.info is not None:
                visible = prepared.started_at + (outcome.ttft_s or 0.0)
                self.history.observe(
                    prepared.shape,
                    parsed,
                    prepared.started_at,
                    info=prepared.info,
                    workspace=self.workspace,
                    day=day_of(prepared.started_at),
                    visible_at=visible,
                    actual_input=actual_input,
                    task=prepared.task,
                )
            if prepared.cap is None or not prepared.cap.capped or outcome.stop_reason != "max_tokens":
                warning = self.outputs.observe(prepared.task, parsed.output_tokens, outcome.stop_reason)
                if warning:
                    self.warnings.append(warning)
                    log.warning("%s", warning)

    def note_ping(self, prepared: Prepared, usage: Mapping[str, Any]) -> None:
        """Book a keep-alive ping's cost against the history's savings (it is not a sighting)."""
        if prepared.shape is None or prepared.info is None:
            return
        try:
            parsed = parse_usage(usage)
        except ClawbackError:
            return
        with self._lock:
            self.history.observe(
                prepared.shape,
                parsed,
                prepared.started_at,
                info=prepared.info,
                workspace=self.workspace,
                day=day_of(prepared.started_at),
                ping=True,
            )

    def seed(self, records: list[CallRecord]) -> int:
        """Learn caps and cache history from earlier ledger rows of this workspace (oldest first)."""
        seeds: list[SeedRecord] = []
        for rec in records:
            if rec.error is not None or rec.usage is None:
                continue
            if rec.task is not None:
                self.outputs.observe(rec.task, int(rec.usage.get("output_tokens") or 0), rec.stop_reason)
            if (
                rec.shape is not None
                and rec.api_key_id == self.workspace
                and rec.served_model in self.catalogue
            ):
                try:
                    seeds.append(
                        SeedRecord.from_ledger(
                            rec.shape,
                            rec.usage,
                            rec.ts.timestamp(),
                            workspace=self.workspace,
                            ttft=(rec.ttft_ms or 0.0) / 1000,
                            task=rec.task,
                        )
                    )
                except (ClawbackError, KeyError, TypeError, ValueError, IndexError):
                    continue
        with self._lock:
            self.outputs.reset_alerts()
            return self.history.seed(seeds, self.catalogue.resolve)


def _with_instruction(system: Any, text: str) -> list[dict[str, Any]] | str:
    """``system`` with the instruction appended as its last block (a stable, cacheable suffix)."""
    block = {"type": "text", "text": text}
    if system is None or system == "":
        return [block]
    if isinstance(system, str):
        return [{"type": "text", "text": system}, block]
    blocks = list(system)
    if blocks and isinstance(blocks[-1], Mapping) and blocks[-1].get("text") == text:
        return blocks
    return [*blocks, block]
