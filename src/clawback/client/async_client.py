"""``clawback.AsyncAnthropic``: the async twin of :class:`clawback.Anthropic`, step for step.

The same paths keep clawback as in the sync client: ``messages`` and ``beta.messages`` (``create``,
``stream``, ``parse``, ``count_tokens``, their raw and streamed response wrappers), both
``batches`` (results recorded as they are read), and ``with_options`` / ``copy``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import anthropic
from anthropic.resources.beta import AsyncBeta
from anthropic.resources.beta.messages import AsyncMessages as AsyncBetaMessages
from anthropic.resources.messages import AsyncMessages

from clawback.client.batches import AsyncClawbackBatches, AsyncClawbackBetaBatches
from clawback.client.options import ClientOptions
from clawback.client.pipeline import Prepared, split_kwargs
from clawback.client.responses import message_tee, observe_async_response, raw_mode
from clawback.client.runtime import ClientRuntime
from clawback.client.streams import wrap_async_stream
from clawback.settings import Settings

__all__ = ["AsyncAnthropic", "AsyncClawbackBeta", "AsyncClawbackBetaMessages", "AsyncClawbackMessages"]

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
        _clawback_parent: tuple[ClientRuntime, Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._ping_client: anthropic.Anthropic | None = None
        if _clawback_parent is not None:  # made by copy() / with_options()
            parent, changes = _clawback_parent
            self.clawback = parent.derive(api_key=self.api_key, pinger=self._ping, changes=changes)
        else:
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

    @cached_property
    def beta(self) -> AsyncClawbackBeta:
        """The SDK's async beta resources; ``beta.messages`` has everything clawback adds."""
        return AsyncClawbackBeta(self)

    def copy(self, **kwargs: Any) -> AsyncAnthropic:
        """The SDK's ``copy``/``with_options``, keeping clawback's ledger, fallbacks, routing and options."""
        changes = {k: kwargs.pop(k) for k in ("ledger", "options", "fallbacks", "routing") if k in kwargs}
        extra = {**(kwargs.pop("_extra_kwargs", None) or {}), "_clawback_parent": (self.clawback, changes)}
        client: AsyncAnthropic = super().copy(**kwargs, _extra_kwargs=extra)
        return client

    with_options = copy

    async def close(self) -> None:
        """Close the HTTP client, stop keep-alive and write every queued record."""
        try:
            await super().close()
        finally:
            self.clawback.release()
            if self._ping_client is not None:
                self._ping_client.close()

    def _ping(self, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Keep-alive pings run on a thread, through a small sync client with the same key and URL."""
        if self._ping_client is None:
            self._ping_client = anthropic.Anthropic(api_key=self.api_key, base_url=self.base_url)
        message = self._ping_client.messages.create(**body)
        usage: Mapping[str, Any] = message.usage.model_dump(mode="json", exclude_none=True)
        return usage


class _AsyncClawbackMessagesMixin:
    """What async ``messages`` and ``beta.messages`` add to the SDK's resource of the same name."""

    _client: Any  # the clawback.AsyncAnthropic this resource belongs to
    _sdk: Any

    @property
    def _rt(self) -> ClientRuntime:
        runtime: ClientRuntime = self._client.clawback
        return runtime

    async def create(self, **kwargs: Any) -> Any:
        """The SDK's ``create`` plus ``task=``; the same return types, streams and raw responses included."""
        body, req_opts, task = split_kwargs(kwargs)
        mode = raw_mode(req_opts)
        stream = bool(body.get("stream"))
        prepared = self._rt.prepare(body, task, caps=not (stream or mode))
        if mode is not None:
            return await self._attempts(
                prepared,
                lambda p, failed: self._raw(p, failed, req_opts, stream=stream, method=self._sdk.create),
            )
        if stream:
            return await self._attempts(prepared, lambda p, failed: self._open_stream(p, failed, req_opts))
        if prepared.routing is not None and prepared.routing.escalate_to is not None:
            return await self._cascade(prepared, req_opts)
        return await self._attempts(
            prepared, lambda p, failed: self._send(p, failed, req_opts, self._sdk.create)
        )

    async def parse(self, **kwargs: Any) -> Any:
        """The SDK's ``parse`` (structured outputs pass through) plus ``task=``."""
        body, req_opts, task = split_kwargs(kwargs)
        prepared = self._rt.prepare(body, task)
        return await self._attempts(
            prepared, lambda p, failed: self._send(p, failed, req_opts, self._sdk.parse)
        )

    def stream(self, **kwargs: Any) -> Any:
        """The SDK's ``stream`` plus ``task=``; the stream is recorded when it ends."""
        body, req_opts, task = split_kwargs(kwargs)
        return _AsyncRecordingStreamManager(self, self._rt.prepare(body, task, caps=False), req_opts)

    async def count_tokens(self, **kwargs: Any) -> Any:
        """The SDK's ``count_tokens`` (free, so not recorded); ``task=`` is accepted and ignored."""
        kwargs.pop("task", None)
        return await self._sdk.count_tokens(self, **kwargs)

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

    async def _raw(
        self,
        prepared: Prepared,
        failed: str | None,
        req_opts: Mapping[str, Any],
        *,
        stream: bool,
        method: Any,
    ) -> Any:
        """A raw or streamed response: recorded when the caller has read it (or closed it)."""
        response = await method(self, **prepared.body, **req_opts)
        on_end = self._rt.stream_recorder(prepared, failed)
        http = response.http_response
        observe_async_response(http, message_tee(on_end, http, stream=stream))
        return response

    async def _open_stream(self, prepared: Prepared, failed: str | None, req_opts: Mapping[str, Any]) -> Any:
        raw = await self._sdk.create(self, **prepared.body, **req_opts)
        return wrap_async_stream(raw, self._rt.stream_recorder(prepared, failed))

    async def _cascade(self, prepared: Prepared, req_opts: Mapping[str, Any]) -> Any:
        """Cheap model first; the validator decides whether the strong model is called."""
        decision = prepared.routing
        assert decision is not None and decision.escalate_to is not None
        send = self._sdk.create
        cheap = [
            await self._attempts(
                prepared if i == 0 else replace(prepared, extra_call="cascade_sample"),
                lambda p, failed: self._send(p, failed, req_opts, send),
            )
            for i in range(self._rt.cascade_samples(prepared))
        ]
        if self._rt.cascade_accepts(prepared, cheap):
            return cheap[0]
        strong = self._rt.fallback(prepared, decision.escalate_to)
        strong.extra_call = "escalation"
        return await self._attempts(strong, lambda p, failed: self._send(p, failed, req_opts, send))

    async def _attempts(self, prepared: Prepared, call: AsyncCall) -> Any:
        """Call; on 529/5xx after the SDK's retries, record it and try each fallback model in turn."""
        attempt, failed = prepared, None
        fallbacks = iter(self._rt.fallbacks_for(prepared))
        while True:
            try:
                return await call(attempt, failed)
            except anthropic.APIError as exc:
                following = self._rt.after_failure(prepared, attempt, exc, failed, fallbacks)
                if following is None:
                    raise
                failed, attempt = attempt.model, following


class AsyncClawbackMessages(_AsyncClawbackMessagesMixin, AsyncMessages):
    """``client.messages`` (async) with per-call planning, caps, routing, fallbacks and recording."""

    _sdk = AsyncMessages

    @cached_property
    def batches(self) -> AsyncClawbackBatches:
        """The SDK's batches; each result is recorded in the ledger when it is read."""
        return AsyncClawbackBatches(self._client)


class AsyncClawbackBetaMessages(_AsyncClawbackMessagesMixin, AsyncBetaMessages):
    """``client.beta.messages`` (async) with everything ``client.messages`` has."""

    _sdk = AsyncBetaMessages

    @cached_property
    def batches(self) -> AsyncClawbackBetaBatches:
        """The SDK's beta batches; each result is recorded in the ledger when it is read."""
        return AsyncClawbackBetaBatches(self._client)


class AsyncClawbackBeta(AsyncBeta):
    """``client.beta`` (async) whose ``messages`` is clawback's."""

    @cached_property
    def messages(self) -> AsyncClawbackBetaMessages:
        """The beta messages resource, with everything clawback adds."""
        return AsyncClawbackBetaMessages(self._client)


class _AsyncRecordingStreamManager:
    """Like the SDK's ``AsyncMessageStreamManager``; falls back when opening fails, records the end."""

    def __init__(self, messages: Any, prepared: Prepared, req_opts: Mapping[str, Any]) -> None:
        self._messages = messages
        self._prepared = prepared
        self._req_opts = req_opts
        self._inner: Any = None

    async def __aenter__(self) -> Any:
        async def open_stream(p: Prepared, failed: str | None) -> Any:
            manager = self._messages._sdk.stream(self._messages, **p.body, **self._req_opts)
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
