"""``messages.batches`` and ``beta.messages.batches`` of the drop-in clients: batch spend in the ledger.

A Message Batch is billed per succeeded result, so each one is recorded when the caller reads it —
``results()`` iterated, or its raw response read (:mod:`clawback.client.responses`) — priced at the
tier it reports (``service_tier: batch``, half price) with its baseline at the standard tier
(errored, expired and canceled requests are not billed). The record id is derived from the batch id and the ``custom_id``, so
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
from clawback.ledger.record import CallRecord, stable_record_id
from clawback.ledger.results import result_record

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
    """One succeeded result line of a batch, turned into its ledger record when asked (off the calling thread)."""

    runtime: ClientRuntime
    batch_id: str
    item: Any
    task: str | None
    read_at: datetime

    def record(self) -> CallRecord:
        """The record: priced at the tier the result reports, baseline at the standard tier."""
        data = self.item.model_dump(mode="json") if hasattr(self.item, "model_dump") else dict(self.item)
        message = (data.get("result") or {}).get("message") or {}
        pipe = self.runtime.pipeline
        custom_id = str(data.get("custom_id"))
        return result_record(
            pipe.catalogue,
            record_id=stable_record_id("client-batch", self.batch_id, custom_id),
            ts=self.read_at,
            requested_model=str(message.get("model") or "unknown"),
            message=message,
            source=pipe.source,
            task=self.task,
            api_key_id=pipe.workspace,
            extra={"batch_id": self.batch_id, "custom_id": custom_id},
        )


def _recorder(runtime: ClientRuntime, batch_id: str) -> Callable[[Any], None]:
    """The callback that records one result line of ``batch_id`` (processed results only)."""
    task = runtime.batch_tasks.get(batch_id)

    def seen(item: Any) -> None:
        if _get(_get(item, "result"), "type") == "succeeded":  # the others are not billed
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
