"""``clawback.AsyncAnthropic``: the async twin of :class:`clawback.Anthropic`, step for step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import anthropic
from anthropic.resources.messages import AsyncMessages

from clawback.client.options import ClientOptions
from clawback.client.pipeline import Prepared, split_kwargs
from clawback.client.runtime import ClientRuntime, is_fallback_error
from clawback.client.streams import wrap_async_stream
from clawback.settings import Settings

__all__ = ["AsyncAnthropic", "AsyncClawbackMessages"]

AsyncCall = Callable[[Prepared, "str | None"], Awaitable[Any]]


class AsyncAnthropic(anthropic.AsyncAnthropic):
    """A drop-in ``anthropic.AsyncAnthropic``; see :class:`clawback.Anthropic` for the extra arguments."""

    def __init__(
        self,
        *args: Any,
        ledger: str | Path | bool | None = None,
        options: ClientOptions | None = None,
        fallbacks: list[str] | tuple[str, ...] | None = None,
        routing: str | Path | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._ping_client: anthropic.Anthropic | None = None
        self.clawback = ClientRuntime.build(
            api_key=self.api_key,
            ledger=ledger,
            options=options,
            fallbacks=fallbacks,
            routing=routing,
            settings=settings,
            pinger=self._ping,
        )

    @cached_property
    def messages(self) -> AsyncClawbackMessages:
        """The SDK's async messages resource, with ``task=`` and everything clawback adds."""
        return AsyncClawbackMessages(self)

    async def close(self) -> None:
        """Close the HTTP client, stop keep-alive and flush the ledger."""
        try:
            await super().close()
        finally:
            self.clawback.close()
            if self._ping_client is not None:
                self._ping_client.close()

    def _ping(self, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Keep-alive pings run on a thread, through a small sync client with the same key and URL."""
        if self._ping_client is None:
            self._ping_client = anthropic.Anthropic(api_key=self.api_key, base_url=self.base_url)
        message = self._ping_client.messages.create(**body)
        usage: Mapping[str, Any] = message.usage.model_dump(mode="json", exclude_none=True)
        return usage


class AsyncClawbackMessages(AsyncMessages):
    """``client.messages`` (async) with per-call planning, caps, routing, fallbacks and recording."""

    _client: AsyncAnthropic

    @property
    def _rt(self) -> ClientRuntime:
        return self._client.clawback

    async def create(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.create`` plus ``task=``; the same return types, streams included."""
        body, req_opts, task = split_kwargs(kwargs)
        prepared = self._rt.prepare(body, task)
        if body.get("stream"):
            return await self._attempts(prepared, lambda p, failed: self._open_stream(p, failed, req_opts))
        if prepared.routing is not None and prepared.routing.escalate_to is not None:
            return await self._cascade(prepared, req_opts)
        return await self._attempts(
            prepared, lambda p, failed: self._send(p, failed, req_opts, AsyncMessages.create)
        )

    async def parse(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.parse`` (structured outputs pass through) plus ``task=``."""
        body, req_opts, task = split_kwargs(kwargs)
        prepared = self._rt.prepare(body, task)
        return await self._attempts(
            prepared, lambda p, failed: self._send(p, failed, req_opts, AsyncMessages.parse)
        )

    def stream(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.stream`` plus ``task=``; the stream is recorded when it ends."""
        body, req_opts, task = split_kwargs(kwargs)
        return _AsyncRecordingStreamManager(self, self._rt.prepare(body, task), req_opts)

    async def count_tokens(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.count_tokens``; ``task=`` is accepted and ignored."""
        kwargs.pop("task", None)
        return await super().count_tokens(**kwargs)

    # -- the steps ---------------------------------------------------------------------------

    async def _send(
        self, prepared: Prepared, failed: str | None, req_opts: Mapping[str, Any], method: Any
    ) -> Any:
        message = await method(self, **prepared.body, **req_opts)
        again = self._rt.capped_short(prepared, message)
        if again is not None:  # a learned cap cut the answer: record it, then ask with the caller's limit
            self._rt.record_message(prepared, message, fallback_from=failed)
            prepared, message = again, await method(self, **again.body, **req_opts)
        self._rt.record_message(prepared, message, fallback_from=failed)
        return message

    async def _open_stream(self, prepared: Prepared, failed: str | None, req_opts: Mapping[str, Any]) -> Any:
        raw = await AsyncMessages.create(self, **prepared.body, **req_opts)
        return wrap_async_stream(raw, self._rt.stream_recorder(prepared, failed))

    async def _cascade(self, prepared: Prepared, req_opts: Mapping[str, Any]) -> Any:
        """Cheap model first; the validator decides whether the strong model is called."""
        decision = prepared.routing
        assert decision is not None and decision.escalate_to is not None
        cheap = [
            await self._attempts(
                prepared, lambda p, failed: self._send(p, failed, req_opts, AsyncMessages.create)
            )
            for _ in range(self._rt.cascade_samples(prepared))
        ]
        if self._rt.cascade_accepts(prepared, cheap):
            return cheap[0]
        strong = self._rt.fallback(prepared, decision.escalate_to)
        return await self._attempts(
            strong, lambda p, failed: self._send(p, failed, req_opts, AsyncMessages.create)
        )

    async def _attempts(self, prepared: Prepared, call: AsyncCall) -> Any:
        """Call; on 529/5xx after the SDK's retries, record it and try each fallback model in turn."""
        attempt, failed = prepared, None
        fallbacks = iter(self._rt.fallbacks_for(prepared))
        while True:
            try:
                return await call(attempt, failed)
            except anthropic.APIError as exc:
                self._rt.record_failure(attempt, exc, fallback_from=failed)
                model = next(fallbacks, None) if is_fallback_error(exc) else None
                if model is None:
                    raise
                failed, attempt = attempt.model, self._rt.fallback(prepared, model)


class _AsyncRecordingStreamManager:
    """Like the SDK's ``AsyncMessageStreamManager``; falls back when opening fails, records the end."""

    def __init__(
        self, messages: AsyncClawbackMessages, prepared: Prepared, req_opts: Mapping[str, Any]
    ) -> None:
        self._messages = messages
        self._prepared = prepared
        self._req_opts = req_opts
        self._inner: Any = None

    async def __aenter__(self) -> Any:
        async def open_stream(p: Prepared, failed: str | None) -> Any:
            manager = AsyncMessages.stream(self._messages, **p.body, **self._req_opts)
            stream = await manager.__aenter__()
            stream._raw_stream = wrap_async_stream(
                stream._raw_stream, self._messages._rt.stream_recorder(p, failed)
            )
            self._inner = manager
            return stream

        return await self._messages._attempts(self._prepared, open_stream)

    async def __aexit__(self, *exc: object) -> None:
        if self._inner is not None:
            await self._inner.__aexit__(*exc)
