"""``messages.batches`` and ``beta.messages.batches`` of the drop-in clients: batch spend in the ledger.

A Message Batch is billed per result, so each result is recorded when the caller reads it —
``results()`` iterated, or its raw response read (:mod:`clawback.client.responses`). A succeeded
result is priced at the tier it reports (``service_tier: batch``, half price) with its baseline at
the standard tier; an errored one is recorded without cost; expired and canceled requests were never
processed and are not calls. The record id is derived from the batch id and the ``custom_id``, so
reading the same results twice stores each once. ``create`` accepts ``task=`` (kept for the results
this client reads). Everything else — ``retrieve``, ``list``, ``cancel``, ``delete`` — is the SDK's
and costs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from anthropic._decoders.jsonl import AsyncJSONLDecoder, JSONLDecoder
from anthropic.resources.beta.messages.batches import AsyncBatches as AsyncBetaBatches
from anthropic.resources.beta.messages.batches import Batches as BetaBatches
from anthropic.resources.messages.batches import AsyncBatches, Batches

from clawback.client.responses import JsonLinesTee, observe_async_response, observe_response, raw_mode
from clawback.client.settled import usage_json
from clawback.errors import ClawbackError
from clawback.ledger.baseline import baseline_text, baseline_usd
from clawback.ledger.record import CallError, CallRecord, price_call, stable_record_id
from clawback.pricing.cost import parse_usage

if TYPE_CHECKING:
    from clawback.client.runtime import ClientRuntime

__all__ = [
    "AsyncClawbackBatches",
    "AsyncClawbackBetaBatches",
    "BatchResult",
    "ClawbackBatches",
    "ClawbackBetaBatches",
]


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One result line of a batch, turned into its ledger record when asked (off the calling thread)."""

    runtime: ClientRuntime
    batch_id: str
    item: Any
    task: str | None
    read_at: datetime

    def record(self) -> CallRecord:
        """The record: priced at the tier the result reports, baseline at the standard tier."""
        result = _get(self.item, "result")
        kind, custom_id = _get(result, "type"), str(_get(self.item, "custom_id"))
        pipe = self.runtime.pipeline
        message = _get(result, "message") if kind == "succeeded" else None
        model = str(_get(message, "model") or "unknown")
        usage = usage_json(_get(message, "usage")) if message is not None else None
        breakdown, reason = price_call(pipe.catalogue, model, usage, at=self.read_at.date())
        error = _get(result, "error") if kind == "errored" else None
        return CallRecord.create(
            model,
            record_id=stable_record_id("client-batch", self.batch_id, custom_id),
            ts=self.read_at,
            breakdown=breakdown,
            unpriced_reason=reason if usage is not None else None,
            served_model=model if message is not None else None,
            task=self.task,
            api_key_id=pipe.workspace,
            usage=usage,
            stop_reason=_get(message, "stop_reason"),
            error=_call_error(error),
            service_tier=(usage or {}).get("service_tier", "batch"),
            request_id=_get(message, "id"),
            source=pipe.source,
            baseline_usd=baseline_text(self._baseline(model, usage)),
            extra={"batch_id": self.batch_id, "custom_id": custom_id},
        )

    def _baseline(self, model: str, usage: Mapping[str, Any] | None) -> Any:
        info = self.runtime.pipeline.catalogue.get(model)
        if usage is None or info is None:
            return None
        try:
            return baseline_usd(parse_usage(usage), info, at=self.read_at.date(), keep=None)
        except (ClawbackError, ArithmeticError):
            return None


def _call_error(error: Any) -> CallError | None:
    if error is None:
        return None
    inner = _get(error, "error") or error
    return CallError(str(_get(inner, "type") or "errored"), str(_get(inner, "message") or "")[:500])


def _recorder(runtime: ClientRuntime, batch_id: str) -> Callable[[Any], None]:
    """The callback that records one result line of ``batch_id`` (processed results only)."""
    task = runtime.batch_tasks.get(batch_id)

    def seen(item: Any) -> None:
        if _get(_get(item, "result"), "type") in ("succeeded", "errored"):
            runtime.write_later(BatchResult(runtime, batch_id, item, task, datetime.now(UTC)))

    return seen


class _RecordingDecoder(JSONLDecoder[Any]):
    """The SDK's results iterator, telling clawback of each line it yields."""

    _clawback_seen: Callable[[Any], None]

    def __decode__(self) -> Iterator[Any]:
        seen = self._clawback_seen
        for item in super().__decode__():
            seen(item)
            yield item


class _AsyncRecordingDecoder(AsyncJSONLDecoder[Any]):
    """The SDK's async results iterator, telling clawback of each line it yields."""

    _clawback_seen: Callable[[Any], None]

    async def __decode__(self) -> AsyncIterator[Any]:
        seen = self._clawback_seen
        async for item in super().__decode__():
            seen(item)
            yield item


def _remember(runtime: ClientRuntime, batch: Any, task: Any) -> None:
    batch_id = getattr(batch, "id", None)
    if task is not None and isinstance(batch_id, str):
        runtime.batch_tasks[batch_id] = str(task)


class _BatchesMixin:
    _client: Any
    _sdk: Any

    def create(self, **kwargs: Any) -> Any:
        """The SDK's ``create``; ``task=`` labels the results this client reads."""
        task = kwargs.pop("task", None)
        batch = self._sdk.create(self, **kwargs)
        _remember(self._client.clawback, batch, task)
        return batch

    def results(self, message_batch_id: str, **kwargs: Any) -> Any:
        """The SDK's ``results``; each processed result is recorded in the ledger as it is read."""
        out = self._sdk.results(self, message_batch_id, **kwargs)
        seen = _recorder(self._client.clawback, message_batch_id)
        if raw_mode(kwargs) is not None:
            observe_response(out.http_response, JsonLinesTee(seen))
            return out
        out.__class__ = _RecordingDecoder
        out._clawback_seen = seen
        return out


class _AsyncBatchesMixin:
    _client: Any
    _sdk: Any

    async def create(self, **kwargs: Any) -> Any:
        """The SDK's ``create``; ``task=`` labels the results this client reads."""
        task = kwargs.pop("task", None)
        batch = await self._sdk.create(self, **kwargs)
        _remember(self._client.clawback, batch, task)
        return batch

    async def results(self, message_batch_id: str, **kwargs: Any) -> Any:
        """The SDK's ``results``; each processed result is recorded in the ledger as it is read."""
        out = await self._sdk.results(self, message_batch_id, **kwargs)
        seen = _recorder(self._client.clawback, message_batch_id)
        if raw_mode(kwargs) is not None:
            observe_async_response(out.http_response, JsonLinesTee(seen))
            return out
        out.__class__ = _AsyncRecordingDecoder
        out._clawback_seen = seen
        return out


class ClawbackBatches(_BatchesMixin, Batches):
    """``client.messages.batches``, recording results as they are read."""

    _sdk = Batches


class ClawbackBetaBatches(_BatchesMixin, BetaBatches):
    """``client.beta.messages.batches``, recording results as they are read."""

    _sdk = BetaBatches


class AsyncClawbackBatches(_AsyncBatchesMixin, AsyncBatches):
    """``client.messages.batches`` (async), recording results as they are read."""

    _sdk = AsyncBatches


class AsyncClawbackBetaBatches(_AsyncBatchesMixin, AsyncBetaBatches):
    """``client.beta.messages.batches`` (async), recording results as they are read."""

    _sdk = AsyncBetaBatches
