"""The one place the gateway meets the drop-in client's pipeline (:class:`CallPipeline`).

Policies — cache planning, routing verdicts, output caps, the concise instruction, fallbacks —
run through the same ``prepare()`` / ``finish()`` as :class:`clawback.Anthropic`, so a request
gets the same treatment whichever way it reaches clawback. A pipeline learns (cache history,
output caps) per policy and per workspace: the upstream key for managed keys, the caller's key
identity for pass-through ones (the prompt cache is per workspace, so plans must be too).

Kept small on purpose: if the pipeline's signatures change, this module is the one to fix.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawback.gateway.config import Policy
from clawback.ledger.record import CallRecord
from clawback.pricing.catalogue import Catalogue

if TYPE_CHECKING:  # imported on first use: the client package pulls in the SDK (tens of MB)
    from clawback.client.pipeline import CallPipeline, Outcome, Prepared
    from clawback.client.routing_source import RoutingSource

__all__ = ["PolicyRunner"]

MAX_PIPELINES = 256


class PolicyRunner:
    """Pipelines by (policy, workspace), created on first use, the least recently used dropped."""

    def __init__(
        self, catalogue: Catalogue, *, prices: tuple[Path, ...] = (), clock: Callable[[], float] = time.time
    ) -> None:
        self.catalogue = catalogue
        self.clock = clock
        self._prices = prices
        self._pipelines: OrderedDict[tuple[Policy, str], CallPipeline] = OrderedDict()
        self._routing: dict[str, RoutingSource] = {}

    def pipeline(self, policy: Policy, workspace: str) -> CallPipeline:
        """The pipeline for ``policy`` and ``workspace`` (created on first use)."""
        key = (policy, workspace)
        pipe = self._pipelines.get(key)
        if pipe is not None:
            self._pipelines.move_to_end(key)
        else:
            from clawback.client.options import ClientOptions
            from clawback.client.pipeline import CallPipeline

            options = ClientOptions(
                plan_cache=policy.plan_cache,
                output_caps=policy.output_caps,
                concise=policy.concise,
                fallbacks=policy.fallbacks,
                seed_from_ledger=0,
                prices=self._prices,
                clock=self.clock,
            )
            pipe = CallPipeline(self.catalogue, options, workspace=workspace, clock=self.clock)
            self._pipelines[key] = pipe
            if len(self._pipelines) > MAX_PIPELINES:
                self._pipelines.popitem(last=False)
        if policy.routing:
            source = self._routing.get(policy.routing)
            if source is None:
                from clawback.client.routing_source import RoutingSource

                source = self._routing[policy.routing] = RoutingSource(Path(policy.routing), explicit=True)
            pipe.routing = source.current()
        return pipe

    @staticmethod
    def prepare(
        pipe: CallPipeline, body: Mapping[str, Any], task: str | None, *, caps: bool = True
    ) -> Prepared:
        """The body to send (routing, concise, cap unless ``caps`` is False, cache plan)."""
        return pipe.prepare(body, task, caps=caps)

    @staticmethod
    def finish(
        pipe: CallPipeline,
        prepared: Prepared,
        outcome: Outcome,
        *,
        key_id: str | None,
        fallback_from: str | None,
        extra: Mapping[str, Any],
    ) -> CallRecord:
        """The ledger record of one attempt (the pipeline learns from it), marked as the gateway's."""
        record = pipe.finish(prepared, outcome, fallback_from=fallback_from, extra=extra)
        return replace(
            record,
            source="gateway",
            api_key_id=key_id,
            baseline_usd=record.baseline_usd,
        )

    @staticmethod
    def fallbacks(policy: Policy, prepared: Prepared) -> list[str]:
        """Models to try after ``prepared`` fails with 529/5xx, in order (never the failing one)."""
        return [m for m in policy.fallbacks if m != prepared.model]

    @staticmethod
    def outcome(
        usage: Mapping[str, Any] | None,
        *,
        model: str | None,
        stop_reason: str | None,
        request_id: str | None,
        error: BaseException | None,
        ttft_s: float | None,
    ) -> Outcome:
        """An :class:`Outcome` of what came back."""
        from clawback.client.pipeline import Outcome

        return Outcome(
            usage=usage,
            served_model=model,
            stop_reason=stop_reason,
            request_id=request_id,
            error=error,
            ttft_s=ttft_s,
        )
