"""The emulator's state: configuration, clock, catalogue and the parts built from them.

One :class:`EmulatorState` per app (``app.state.emulator``) holds the ONE cache engine, the
responder, the fault injector, the rate limiter, the batch store, the request log and the stats.
Workspaces are derived from API keys by hashing, so no key is stored or logged in clear.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from clawback.cache.rules import CacheEngine
from clawback.emulator.batches import Batch, BatchStore, ItemParams
from clawback.emulator.clock import VirtualClock
from clawback.emulator.config import EmulatorConfig
from clawback.emulator.core import MessagesCore, Served
from clawback.emulator.faults import FaultInjector
from clawback.emulator.latency import LatencyModel
from clawback.emulator.offload import Offloader
from clawback.emulator.params import MessageRequest
from clawback.emulator.prepare import BatchItems, Job, prepare_message
from clawback.emulator.ratelimit import RateLimiter
from clawback.emulator.records import RequestLog, Stats
from clawback.emulator.responders import build_responder
from clawback.emulator.visibility import ArrivalStore
from clawback.emulator.wire import ApiError, new_id
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.loader import load_catalogue
from clawback.settings import mask_key

__all__ = ["Caller", "EmulatorState", "workspace_of"]

DEFAULT_WORKSPACE = "wrkspc_default"
_PURGE_EVERY = 10_000
_CALLERS_KEPT = 1024


def workspace_of(key: str | None) -> str:
    """The workspace (cache and batch isolation unit) of an API key: a hash, never the key."""
    if not key:
        return DEFAULT_WORKSPACE
    return "wrkspc_" + hashlib.blake2b(key.encode("utf-8"), digest_size=10).hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: their workspace and their key, masked."""

    workspace: str
    key: str


def _key_from(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    auth = headers.get("authorization", "")
    if auth[:7].lower() != "bearer ":
        return None
    return auth[7:].strip() or None


class EmulatorState:
    """Everything one emulator instance knows."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: VirtualClock | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.config = config = config or EmulatorConfig()
        start = config.start.timestamp() if config.start is not None else None
        self.clock = clock or VirtualClock(config.clock, start=start, speed=config.clock_speed)
        self.catalogue = catalogue or load_catalogue()
        self.cache_store = ArrivalStore()
        self.engine = CacheEngine(self.cache_store)
        self.offload = Offloader(self.catalogue, threshold=config.limits.offload_body_bytes)
        self.responder = build_responder(config.responder)
        self.core = MessagesCore(self.engine, self.responder, LatencyModel(config.latency))
        self.faults = FaultInjector(config.faults, config.batch_faults, seed=config.seed)
        self.limiter = RateLimiter(config.limits)
        self.batches = BatchStore(
            self._run_batch_item, duration=config.batch.seconds, cancel_seconds=config.batch.cancel_seconds
        )
        self.log = RequestLog(config.limits.log_entries)
        self.stats = Stats()
        keys = config.auth_keys
        self._allowed = None if keys is None else frozenset(workspace_of(k.get_secret_value()) for k in keys)
        self._served = 0
        self._callers: dict[str | None, Caller] = {}  # accepted keys → their caller (hashing is per key)

    def caller(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request; 401 when auth is on and the key is missing or wrong."""
        key = _key_from(headers)
        known = self._callers.get(key)
        if known is not None:
            return known
        workspace = workspace_of(key)
        if self._allowed is not None:
            if key is None:
                raise ApiError(401, "x-api-key header is required")
            if not any(hmac.compare_digest(workspace, allowed) for allowed in self._allowed):
                raise ApiError(401, "invalid x-api-key")
        if len(self._callers) >= _CALLERS_KEPT:
            self._callers.clear()
        caller = self._callers[key] = Caller(workspace, mask_key(key))
        return caller

    def today(self) -> date:
        """The clock's current date (UTC), for model retirement."""
        return self.clock.datetime().date()

    def serve(self, request: MessageRequest, caller: Caller, start: float, **kwargs: Any) -> Served:
        """Run a validated request through the core and account for it."""
        served = self.core.run(request, workspace=caller.workspace, start=start, **kwargs)
        usage = served.usage
        self.stats.bill(request.info.id, usage)
        if usage.service_tier != "batch":
            self.limiter.charge(
                caller.workspace,
                start,
                input_tokens=usage.input_tokens + usage.cache_creation_input_tokens,
                output_tokens=usage.output_tokens,
            )
        self._served += 1
        if self._served % _PURGE_EVERY == 0:
            self.engine.purge(self.clock.now())
        return served

    async def _run_batch_item(
        self, batch: Batch, custom_id: str, params: ItemParams, start: float
    ) -> tuple[str, dict[str, Any]]:
        rule = self.faults.batch_item(custom_id)
        if rule is not None and rule.result == "expired":
            self.stats.batch_results["expired"] += 1
            return "expired", {"type": "expired"}
        try:
            if rule is not None:
                raise ApiError(500, rule.message, error_type=rule.error_type)
            if not isinstance(params, bytes):  # refused when the batch was created
                status, message, kind = params
                raise ApiError(status, message, error_type=kind)
            offload = self.offload
            job = Job(batch.version, self.today(), in_batch=True, light=len(params) >= offload.threshold)
            prepared = await offload.run(prepare_message, params, job)
            request, shape = prepared.ready()
            caller = Caller(batch.workspace, "batch")
            served = self.serve(request, caller, start, shape=shape, service_tier="batch")
        except ApiError as err:
            self.stats.batch_results["errored"] += 1
            error = {"type": "error", "error": err.to_error(), "request_id": new_id("req")}
            return "errored", {"type": "errored", "error": error}
        self.stats.batch_results["succeeded"] += 1
        return "succeeded", {"type": "succeeded", "message": served.message}

    def close(self) -> None:
        """Stop the preparation worker, if one was started."""
        self.offload.close()

    def reset(self) -> None:
        """Forget cache entries, batches, the log, counters, the script queue and fault counts."""
        self.engine.store.clear()
        self.batches.clear()
        self.log.clear()
        self.stats.clear()
        self.limiter.clear()
        self.responder.clear()
        self.faults.replace(self.faults.rules)

    def record_batch_items(self, batch: Batch, caller: Caller, items: BatchItems) -> None:
        """Log one record per batch item: custom_id, params hash and batch id."""
        now = batch.created_at
        for (custom_id, _), digest, model in zip(items.items, items.hashes, items.models, strict=True):
            self.log.add(
                at=now,
                endpoint="batch_item",
                method="POST",
                path="/v1/messages/batches",
                status=200,
                request_id=batch.id,
                key=caller.key,
                model=model,
                params_hash=digest,
                batch_id=batch.id,
                custom_id=custom_id,
            )
