"""The gateway's collaborators in one place, and the steps every API route shares.

:class:`Gateway` is built once per process (see :mod:`clawback.gateway.app`) from a config and
its collaborators — the upstream client, the state store, the ledger writer, the catalogue, the
metrics, the policy runner and a clock — all passed in, so tests can pass their own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from clawback.errors import ClawbackError
from clawback.gateway.asgi import ClientGone, Send, send_error
from clawback.gateway.budgets import TOOL_OVERHEAD_TOKENS, Budget, worst_case_cost, worst_case_input_tokens
from clawback.gateway.config import GatewayConfig, ManagedKey, Policy
from clawback.gateway.ids import RecordIds
from clawback.gateway.keys import CallerKey, caller_key, key_identity
from clawback.gateway.metrics import BudgetGauge, Metrics
from clawback.gateway.pg_state import PostgresState
from clawback.gateway.policy import PolicyRunner
from clawback.gateway.ratelimit import RateLimit
from clawback.gateway.shared_metrics import SharedMetrics
from clawback.gateway.state import AdmitPlan, LocalState
from clawback.gateway.upstream import Upstream
from clawback.gateway.wire import GatewayRefusal, new_request_id
from clawback.ledger.record import CallError, CallRecord, TokenCounts
from clawback.ledger.writer import LedgerWriter
from clawback.pricing.catalogue import Catalogue, ModelInfo
from clawback.pricing.cost import format_usd, parse_usage, price_usage
from clawback.redact import redact
from clawback.storage.location import StoreLocation

__all__ = ["Caller", "Gateway", "parse_body"]

log = logging.getLogger("clawback.gateway")
_TASK_HEADER = b"clawback-task"
MAX_CALLERS = 4096
MAX_PRICED = 4096


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as far as the gateway needs to know."""

    key_id: str | None
    """``gw:<salted hash>:<last 4>``, the only form of the key that is ever written."""
    managed: ManagedKey | None
    policy: Policy
    auth: tuple[str, str] | None
    """The header to send upstream instead of the caller's (managed keys)."""
    workspace: str
    task: str | None = None


def _unit_rates(
    info: ModelInfo, day: date, caching: bool, flags: Mapping[str, Any]
) -> tuple[Decimal, Decimal, int | None]:
    """Worst-case USD per input token and per output token, exact: prices are linear below the
    prompt-length tier (the threshold, when the model has one, is returned with them)."""
    million = 1_000_000
    base = worst_case_cost(info, body_bytes=0, max_tokens=0, day=day, cache_writes=caching, flags=flags)
    with_output = worst_case_cost(
        info, body_bytes=0, max_tokens=million, day=day, cache_writes=caching, flags=flags
    )
    tier = info.prompt_tier_at(day)
    return (
        base / TOOL_OVERHEAD_TOKENS,
        (with_output - base) / million,
        (None if tier is None else tier.threshold_prompt_tokens),
    )


_FREE_PLAN = AdmitPlan()


def _limits_of(key: ManagedKey) -> tuple[tuple[Budget, ...], tuple[tuple[str, RateLimit], ...]]:
    """A managed key's budgets and its rate limits by scope (its own, then its project's)."""
    rates = []
    if key.rate.active:
        rates.append((f"key:{key.name}", key.rate))
    if key.project is not None and key.project.rate.active:
        rates.append((f"project:{key.project.name}", key.project.rate))
    return key.all_budgets, tuple(rates)


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body; 400 ``invalid_request_error`` when it is not one."""
    if not body:
        raise GatewayRefusal(400, "request body is empty; expected a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise GatewayRefusal(
            400, f"request body is not valid JSON: {str(exc).splitlines()[0][:200]}"
        ) from None
    if not isinstance(data, dict):
        raise GatewayRefusal(400, f"request body must be a JSON object, got {type(data).__name__}")
    return data


@dataclass(frozen=True, slots=True)
class Priced:
    """One usage object priced and counted (remembered per model, day and usage)."""

    cost: Mapping[str, Any] | None
    """The cost breakdown's JSON (None: unpriced)."""
    total_usd: str | None
    reason: str | None
    """Why it is unpriced (None when priced, or when there was no usage)."""
    counts: TokenCounts
    total: Decimal | None


_UNUSED = Priced(None, None, None, TokenCounts(), None)


class Gateway:
    """Everything one gateway process holds."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        upstream: Upstream,
        state: LocalState | PostgresState,
        writer: LedgerWriter | None,
        catalogue: Catalogue,
        metrics: Metrics | None = None,
        policies: PolicyRunner | None = None,
        clock: Any = time.time,
        ledger_location: StoreLocation | None = None,
    ) -> None:
        self.config = config
        self.ledger_location = ledger_location
        self.upstream = upstream
        self.state = state
        self.writer = writer
        self.catalogue = catalogue
        self.metrics = metrics or Metrics()
        self.policies = policies or PolicyRunner(catalogue, prices=config.prices)
        self.clock = clock
        self.secrets = config.secrets
        self.ready = False
        self.shared: SharedMetrics | None = None
        """Set under ``--workers N``: where the workers' counters are summed for /metrics."""
        self.ids = RecordIds()
        self._callers: dict[tuple[str, str, str | None], Caller] = {}
        self._priced: dict[Any, Priced] = {}
        self._rates: dict[tuple[str, int, bool, Any, Any], tuple[Decimal, Decimal, int | None]] = {}
        self._limits: dict[str, tuple[tuple[Budget, ...], tuple[tuple[str, RateLimit], ...]]] = {}

    # -- who is calling ----------------------------------------------------------------------

    def identify(self, headers: Iterable[tuple[bytes, bytes]]) -> Caller:
        """The caller of a request; 401 when the gateway only takes managed keys and this isn't one.

        Callers are remembered by key for the life of the process (memory only, at most
        :data:`MAX_CALLERS`), so a key's hashes are computed once, not on every request.
        """
        headers = list(headers)
        task = next((v.decode("utf-8", "replace")[:200] for k, v in headers if k == _TASK_HEADER), None)
        key = caller_key(headers)
        memo = (key.header, key.value, task) if key is not None else None
        if memo is not None:
            known = self._callers.get(memo)
            if known is not None:
                return known
        caller = self._identify(key, task)
        if memo is not None:
            if len(self._callers) >= MAX_CALLERS:
                self._callers.clear()
            self._callers[memo] = caller
        return caller

    def _identify(self, key: CallerKey | None, task: str | None) -> Caller:
        config = self.config
        salt = self.state.salt
        if key is not None:
            name = config.key_table.lookup(key.value)
            if name is not None:
                managed = config.keys[name]
                upstream_key = managed.upstream_key.reveal()
                return Caller(
                    key_identity(key.value, salt),
                    managed,
                    managed.policy,
                    ("x-api-key", upstream_key),
                    key_identity(upstream_key, salt),
                    task,
                )
        if not config.passthrough:
            message = "x-api-key header is required" if key is None else "invalid x-api-key"
            raise GatewayRefusal(401, f"clawback gateway: {message}")
        key_id = key_identity(key.value, salt) if key is not None else None
        return Caller(key_id, None, config.policy, None, key_id or "anonymous", task)

    # -- budgets -------------------------------------------------------------------------------

    def admit_plan(
        self,
        caller: Caller,
        body: Mapping[str, Any],
        body_bytes: int,
        models: Sequence[str],
        *,
        caching: bool,
    ) -> AdmitPlan:
        """What a Messages request must pass: the caller's rate limits, and its budgets at the
        worst case over every model it may be sent to (``caching``: it may write the cache)."""
        managed = caller.managed
        if managed is None:
            return _FREE_PLAN
        limits = self._limits.get(managed.name)
        if limits is None:  # a key's limits are fixed for the life of the process
            limits = self._limits[managed.name] = _limits_of(managed)
        budgets, rates = limits
        if not budgets:
            return AdmitPlan((), rates, Decimal(0)) if rates else _FREE_PLAN
        if len(models) == 1:
            worst = self._worst(models[0], body, body_bytes, caching)
        else:
            worst = max(
                (self._worst(m, body, body_bytes, caching) for m in dict.fromkeys(models)), default=Decimal(0)
            )
        return AdmitPlan(budgets, rates, worst)

    def _worst(self, model: str, body: Mapping[str, Any], body_bytes: int, caching: bool) -> Decimal:
        info = self.catalogue.get(model) if model else None
        if info is None:
            raise GatewayRefusal(
                400,
                f"clawback gateway: model {model!r} is not in the price catalogue, so this key's budget "
                "can't be checked (add its prices to the gateway's price files)",
            )
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            max_tokens = info.max_output
        max_tokens = min(max_tokens, 10**7)
        now = self.clock()
        geo, speed = body.get("inference_geo"), body.get("speed")
        memo = (info.id, int(now // 86400), caching, geo if isinstance(geo, str) else None, speed == "fast")
        rates = self._rates.get(memo)
        tokens = worst_case_input_tokens(body_bytes)
        if rates is None:
            if len(self._rates) > 1024:
                self._rates.clear()
            day = datetime.fromtimestamp(now, UTC).date()
            rates = self._rates[memo] = _unit_rates(info, day, caching, body)
        per_input, per_output, threshold = rates
        if threshold is not None and tokens > threshold:  # the prompt-length tier: price it in full
            day = datetime.fromtimestamp(now, UTC).date()
            return worst_case_cost(
                info, body_bytes=body_bytes, max_tokens=max_tokens, day=day, cache_writes=caching, flags=body
            )
        return per_input * tokens + per_output * max_tokens

    def budget_gauges(self) -> list[BudgetGauge]:
        """Every configured budget's current window."""
        budgets = {b for k in self.config.keys.values() for b in k.all_budgets}
        return self.state.gauges(sorted(budgets, key=lambda b: (b.scope, b.period)), self.clock())

    # -- the ledger ----------------------------------------------------------------------------

    def price(
        self, model: str | None, usage: Mapping[str, Any] | None, started: float
    ) -> tuple[Any, str | None]:
        """(cost breakdown, unpriced reason) of one call's usage; never raises."""
        if usage is None:
            return None, "no usage reported"
        try:
            info = self.catalogue.resolve(model or "")
            return price_usage(parse_usage(usage), info, at=datetime.fromtimestamp(started, UTC).date()), None
        except (ClawbackError, ArithmeticError) as exc:
            return None, redact(str(exc))[:300]

    def priced(
        self, model: str, usage: Mapping[str, Any] | None, started: float
    ) -> tuple[Mapping[str, Any] | None, str | None, str | None]:
        """``(cost JSON, total_usd, unpriced reason)`` of one call's usage (see :meth:`priced_usage`)."""
        out = self.priced_usage(model, usage, started)
        return out.cost, out.total_usd, out.reason

    def priced_usage(self, model: str, usage: Mapping[str, Any] | None, started: float) -> Priced:
        """One call's usage priced and counted, remembered by (model, UTC day, usage): pricing is a
        pure function, and calls of one shape repeat."""
        if usage is None:
            return _UNUSED
        try:
            key: Any = (
                model,
                int(started // 86400),
                tuple((k, tuple(v.items()) if isinstance(v, dict) else v) for k, v in usage.items()),
            )
            hit = self._priced.get(key)
        except TypeError:  # an unhashable field (a list): price it without the memo
            key, hit = None, None
        if hit is not None:
            return hit
        breakdown, reason = self.price(model, usage, started)
        counts = TokenCounts.from_usage(usage)
        if breakdown is None:
            out = Priced(None, None, reason, counts, None)
        else:  # the total as the ledger reads the string back (CallRecord.total)
            total_usd = format_usd(breakdown.total)
            out = Priced(breakdown.to_json(), total_usd, None, counts, Decimal(total_usd))
        if key is not None:
            if len(self._priced) >= MAX_PRICED:
                self._priced.clear()
            self._priced[key] = out
        return out

    def fast_record(self, caller: Caller, **fields: Any) -> CallRecord:
        """The ledger record of an attempt no policy touched (fields: :meth:`priced_record`'s)."""
        return self.priced_record(caller, **fields)[0]

    def write_fast(self, caller: Caller, **fields: Any) -> tuple[TokenCounts, Decimal | None]:
        """:meth:`priced_record` handed to :meth:`write`, with the counts and cost remembered with
        its price (not read back from the record)."""
        record, priced = self.priced_record(caller, **fields)
        return self.write(record, priced=priced)

    def priced_record(
        self,
        caller: Caller,
        *,
        requested_model: str,
        served_model: str | None,
        started: float,
        latency_ms: float,
        usage: Mapping[str, Any] | None,
        stop_reason: str | None = None,
        error: CallError | None = None,
        request_id: str | None = None,
        ttft_ms: float | None = None,
        extra: Mapping[str, Any] | None = None,
        record_id: str | None = None,
    ) -> tuple[CallRecord, Priced]:
        """The ledger record of an attempt no policy touched (its baseline is its own cost), with
        its usage priced and counted."""
        priced = self.priced_usage(served_model or requested_model, usage, started)
        record = CallRecord(
            id=record_id or self.ids.next(),
            ts=datetime.fromtimestamp(started, UTC),
            requested_model=requested_model,
            served_model=served_model,
            task=caller.task,
            api_key_id=caller.key_id,
            usage=dict(usage) if usage is not None else None,
            cost=priced.cost,
            total_usd=priced.total_usd,
            unpriced_reason=priced.reason,
            latency_ms=round(latency_ms, 3),
            ttft_ms=ttft_ms,
            stop_reason=stop_reason,
            error=error,
            service_tier=(usage or {}).get("service_tier"),
            request_id=request_id,
            source="gateway",
            baseline_usd=priced.total_usd,
            extra=dict(extra or {}),
        )
        return record, priced

    def write(
        self, record: CallRecord, *, priced: Priced | None = None
    ) -> tuple[TokenCounts, Decimal | None]:
        """Hand a record to the ledger writer (batched off the event loop) and count it.

        ``priced``: the record's counts and cost as :meth:`priced_usage` gave them (a record whose
        baseline is its own cost); without it they are read from the record."""
        if priced is not None:
            counts, cost, baseline = priced.counts, priced.total, priced.total
        else:
            counts = record.tokens()
            cost = record.total
            baseline = Decimal(record.baseline_usd) if record.baseline_usd is not None else None
        self.metrics.count_usage(counts, cost, baseline)
        self.metrics.ledger_rows += 1
        if self.writer is not None:
            self.writer.record(record)
        return counts, cost

    async def answer(self, send: Send, route: str, work: Awaitable[int]) -> int:
        """Run one route's work: a refusal becomes the API's error, a hang-up is 499; counted either way."""
        try:
            status = await work
        except GatewayRefusal as refusal:
            status = refusal.status
            self.metrics.error(f"refused_{refusal.type}")
            await send_error(send, refusal, new_request_id())
        except ClientGone:
            status = 499
            self.metrics.error("client_gone")
        self.metrics.request(route, status)
        return status

    def mask(self, text: str) -> str:
        """``text`` with every key and secret the gateway knows masked."""
        return redact(text, self.secrets)
