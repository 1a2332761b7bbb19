"""``clawback.Anthropic``: the official SDK client, plus cache planning, caps, fallbacks and a ledger.

It *is* an ``anthropic.Anthropic`` (a subclass), so existing code changes one import. Every path to
the Messages API keeps clawback: ``messages`` and ``beta.messages`` are subclasses of the SDK's own
resources whose ``create``, ``stream``, ``parse`` and ``count_tokens`` accept one more keyword,
``task=``, and return the SDK's own types; their ``with_raw_response`` / ``with_streaming_response``
wrappers call the same methods and are recorded when the caller reads the response
(:mod:`clawback.client.responses`); ``messages.batches`` and ``beta.messages.batches`` record each
result when it is read (:mod:`clawback.client.batches`); ``with_options`` and ``copy`` return
clients that share this one's ledger, fallbacks, routing and options (pass ``ledger=``,
``options=``, ``fallbacks=`` or ``routing=`` to change them). Everything else is the SDK's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import anthropic
from anthropic.resources.beta import Beta
from anthropic.resources.beta.messages import Messages as BetaMessages
from anthropic.resources.messages import Messages

from clawback.client.batches import ClawbackBatches, ClawbackBetaBatches
from clawback.client.options import ClientOptions
from clawback.client.pipeline import Prepared, split_kwargs
from clawback.client.responses import message_tee, observe_response, raw_mode
from clawback.client.runtime import ClientRuntime
from clawback.client.streams import wrap_stream
from clawback.settings import Settings

__all__ = ["Anthropic", "ClawbackBeta", "ClawbackBetaMessages", "ClawbackMessages"]

Call = Callable[[Prepared, "str | None"], Any]


class Anthropic(anthropic.Anthropic):
    """A drop-in ``anthropic.Anthropic`` that plans caching and records every call in a ledger.

    ``ledger`` is a path or ``postgresql://`` URL (default: ``CLAWBACK_LEDGER`` or
    ``$CLAWBACK_HOME/ledger.sqlite3``), or ``False`` for none. ``options`` switches features (see
    :class:`~clawback.client.options.ClientOptions`); ``fallbacks`` and ``routing`` are shortcuts
    for the options of the same names. Every other argument is the SDK's, read the SDK's way
    (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``).
    """

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
    def messages(self) -> ClawbackMessages:
        """The SDK's messages resource, with ``task=`` and everything clawback adds."""
        return ClawbackMessages(self)

    @cached_property
    def beta(self) -> ClawbackBeta:
        """The SDK's beta resources; ``beta.messages`` has everything clawback adds."""
        return ClawbackBeta(self)

    def copy(self, **kwargs: Any) -> Anthropic:
        """The SDK's ``copy``/``with_options``: a client with the same clawback ledger, fallbacks, routing and options.

        ``ledger=``, ``options=``, ``fallbacks=`` and ``routing=`` change them for the new client.
        """
        changes = {k: kwargs.pop(k) for k in ("ledger", "options", "fallbacks", "routing") if k in kwargs}
        extra = {**(kwargs.pop("_extra_kwargs", None) or {}), "_clawback_parent": (self.clawback, changes)}
        client: Anthropic = super().copy(**kwargs, _extra_kwargs=extra)
        return client

    with_options = copy

    def close(self) -> None:
        """Close the HTTP client, stop keep-alive and write every queued record."""
        try:
            super().close()
        finally:
            self.clawback.release()

    def _ping(self, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        message = Messages(self).create(**body)
        usage: Mapping[str, Any] = message.usage.model_dump(mode="json", exclude_none=True)
        return usage


class _ClawbackMessagesMixin:
    """What ``messages`` and ``beta.messages`` add to the SDK's resource of the same name."""

    _client: Any  # the clawback.Anthropic this resource belongs to
    _sdk: Any
    """The SDK class whose methods send the request."""

    @property
    def _rt(self) -> ClientRuntime:
        runtime: ClientRuntime = self._client.clawback
        return runtime

    def create(self, **kwargs: Any) -> Any:
        """The SDK's ``create`` plus ``task=``; the same return types, streams and raw responses included."""
        body, req_opts, task = split_kwargs(kwargs)
        mode = raw_mode(req_opts)
        stream = bool(body.get("stream"))
        prepared = self._rt.prepare(body, task, caps=not (stream or mode))
        if mode is not None:
            return self._attempts(
                prepared,
                lambda p, failed: self._raw(p, failed, req_opts, stream=stream, method=self._sdk.create),
            )
        if stream:
            return self._attempts(prepared, lambda p, failed: self._open_stream(p, failed, req_opts))
        if prepared.routing is not None and prepared.routing.escalate_to is not None:
            return self._cascade(prepared, req_opts)
        return self._attempts(prepared, lambda p, failed: self._send(p, failed, req_opts, self._sdk.create))

    def parse(self, **kwargs: Any) -> Any:
        """The SDK's ``parse`` (structured outputs pass through) plus ``task=``."""
        body, req_opts, task = split_kwargs(kwargs)
        mode = raw_mode(req_opts)
        prepared = self._rt.prepare(body, task, caps=mode is None)
        if mode is not None:
            return self._attempts(
                prepared,
                lambda p, failed: self._raw(p, failed, req_opts, stream=False, method=self._sdk.parse),
            )
        return self._attempts(prepared, lambda p, failed: self._send(p, failed, req_opts, self._sdk.parse))

    def stream(self, **kwargs: Any) -> Any:
        """The SDK's ``stream`` plus ``task=``; the stream is recorded when it ends."""
        body, req_opts, task = split_kwargs(kwargs)
        return _RecordingStreamManager(self, self._rt.prepare(body, task, caps=False), req_opts)

    def count_tokens(self, **kwargs: Any) -> Any:
        """The SDK's ``count_tokens`` (free, so not recorded); ``task=`` is accepted and ignored."""
        kwargs.pop("task", None)
        return self._sdk.count_tokens(self, **kwargs)

    # -- the steps ---------------------------------------------------------------------------

    def _send(self, prepared: Prepared, failed: str | None, req_opts: Mapping[str, Any], method: Any) -> Any:
        message = method(self, **prepared.body, **req_opts)
        again = self._rt.capped_short(prepared, message)
        if again is not None:  # a learned cap cut the answer: record it, then ask with the caller's limit
            self._rt.record_message(prepared, message, fallback_from=failed)
            prepared, message = again, method(self, **again.body, **req_opts)
        self._rt.record_message(prepared, message, fallback_from=failed)
        return message

    def _raw(
        self,
        prepared: Prepared,
        failed: str | None,
        req_opts: Mapping[str, Any],
        *,
        stream: bool,
        method: Any,
    ) -> Any:
        """A raw or streamed response: recorded when the caller has read it (or closed it)."""
        response = method(self, **prepared.body, **req_opts)
        on_end = self._rt.stream_recorder(prepared, failed)
        observe_response(response.http_response, message_tee(on_end, response.http_response, stream=stream))
        return response

    def _open_stream(self, prepared: Prepared, failed: str | None, req_opts: Mapping[str, Any]) -> Any:
        raw = self._sdk.create(self, **prepared.body, **req_opts)
        return wrap_stream(raw, self._rt.stream_recorder(prepared, failed))

    def _cascade(self, prepared: Prepared, req_opts: Mapping[str, Any]) -> Any:
        """Cheap model first; the validator decides whether the strong model is called."""
        decision = prepared.routing
        assert decision is not None and decision.escalate_to is not None
        send = self._sdk.create
        cheap = [
            self._attempts(
                prepared if i == 0 else replace(prepared, extra_call="cascade_sample"),
                lambda p, failed: self._send(p, failed, req_opts, send),
            )
            for i in range(self._rt.cascade_samples(prepared))
        ]
        if self._rt.cascade_accepts(prepared, cheap):
            return cheap[0]
        strong = self._rt.fallback(prepared, decision.escalate_to)
        strong.extra_call = "escalation"
        return self._attempts(strong, lambda p, failed: self._send(p, failed, req_opts, send))

    def _attempts(self, prepared: Prepared, call: Call) -> Any:
        """Call; on 529/5xx after the SDK's retries, record it and try each fallback model in turn."""
        attempt, failed = prepared, None
        fallbacks = iter(self._rt.fallbacks_for(prepared))
        while True:
            try:
                return call(attempt, failed)
            except anthropic.APIError as exc:
                following = self._rt.after_failure(prepared, attempt, exc, failed, fallbacks)
                if following is None:
                    raise
                failed, attempt = attempt.model, following


class ClawbackMessages(_ClawbackMessagesMixin, Messages):
    """``client.messages`` with per-call planning, caps, routing, fallbacks and recording."""

    _sdk = Messages

    @cached_property
    def batches(self) -> ClawbackBatches:
        """The SDK's batches; each result is recorded in the ledger when it is read."""
        return ClawbackBatches(self._client)


class ClawbackBetaMessages(_ClawbackMessagesMixin, BetaMessages):
    """``client.beta.messages`` with everything ``client.messages`` has (tool runners and threads included)."""

    _sdk = BetaMessages

    @cached_property
    def batches(self) -> ClawbackBetaBatches:
        """The SDK's beta batches; each result is recorded in the ledger when it is read."""
        return ClawbackBetaBatches(self._client)


class ClawbackBeta(Beta):
    """``client.beta`` whose ``messages`` is clawback's."""

    @cached_property
    def messages(self) -> ClawbackBetaMessages:
        """The beta messages resource, with everything clawback adds."""
        return ClawbackBetaMessages(self._client)


class _RecordingStreamManager:
    """Like the SDK's ``MessageStreamManager``; falls back when opening fails, records the end."""

    def __init__(self, messages: Any, prepared: Prepared, req_opts: Mapping[str, Any]) -> None:
        self._messages = messages
        self._prepared = prepared
        self._req_opts = req_opts
        self._inner: Any = None

    def __enter__(self) -> Any:
        def open_stream(p: Prepared, failed: str | None) -> Any:
            manager = self._messages._sdk.stream(self._messages, **p.body, **self._req_opts)
            stream = manager.__enter__()
            stream._raw_stream = wrap_stream(
                stream._raw_stream, self._messages._rt.stream_recorder(p, failed)
            )
            self._inner = manager
            return stream

        return self._messages._attempts(self._prepared, open_stream)

    def __exit__(self, *exc: object) -> None:
        if self._inner is not None:
            self._inner.__exit__(*exc)
