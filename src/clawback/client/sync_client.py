"""``clawback.Anthropic``: the official SDK client, plus cache planning, caps, fallbacks and a ledger.

It *is* an ``anthropic.Anthropic`` (a subclass), so existing code changes one import; only
``messages`` is replaced, by a subclass of the SDK's own ``Messages`` whose ``create``,
``stream``, ``parse`` and ``count_tokens`` accept one more keyword, ``task=``, and return the
SDK's own types. Everything else (batches, models, files, ``with_options``) is the SDK's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import anthropic
from anthropic.resources.messages import Messages

from clawback.client.options import ClientOptions
from clawback.client.pipeline import Prepared, split_kwargs
from clawback.client.runtime import ClientRuntime, is_fallback_error
from clawback.client.streams import wrap_stream
from clawback.settings import Settings

__all__ = ["Anthropic", "ClawbackMessages"]

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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
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

    def close(self) -> None:
        """Close the HTTP client, stop keep-alive and flush the ledger."""
        try:
            super().close()
        finally:
            self.clawback.close()

    def _ping(self, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        message = Messages(self).create(**body)
        usage: Mapping[str, Any] = message.usage.model_dump(mode="json", exclude_none=True)
        return usage


class ClawbackMessages(Messages):
    """``client.messages`` with per-call planning, caps, routing, fallbacks and recording."""

    _client: Anthropic

    @property
    def _rt(self) -> ClientRuntime:
        return self._client.clawback

    def create(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.create`` plus ``task=``; the same return types, streams included."""
        body, req_opts, task = split_kwargs(kwargs)
        prepared = self._rt.prepare(body, task)
        if body.get("stream"):
            return self._attempts(prepared, lambda p, failed: self._open_stream(p, failed, req_opts))
        if prepared.routing is not None and prepared.routing.escalate_to is not None:
            return self._cascade(prepared, req_opts)
        return self._attempts(prepared, lambda p, failed: self._send(p, failed, req_opts, Messages.create))

    def parse(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.parse`` (structured outputs pass through) plus ``task=``."""
        body, req_opts, task = split_kwargs(kwargs)
        prepared = self._rt.prepare(body, task)
        return self._attempts(prepared, lambda p, failed: self._send(p, failed, req_opts, Messages.parse))

    def stream(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.stream`` plus ``task=``; the stream is recorded when it ends."""
        body, req_opts, task = split_kwargs(kwargs)
        return _RecordingStreamManager(self, self._rt.prepare(body, task), req_opts)

    def count_tokens(self, **kwargs: Any) -> Any:
        """The SDK's ``messages.count_tokens``; ``task=`` is accepted and ignored."""
        kwargs.pop("task", None)
        return super().count_tokens(**kwargs)

    # -- the steps ---------------------------------------------------------------------------

    def _send(self, prepared: Prepared, failed: str | None, req_opts: Mapping[str, Any], method: Any) -> Any:
        message = method(self, **prepared.body, **req_opts)
        again = self._rt.capped_short(prepared, message)
        if again is not None:  # a learned cap cut the answer: record it, then ask with the caller's limit
            self._rt.record_message(prepared, message, fallback_from=failed)
            prepared, message = again, method(self, **again.body, **req_opts)
        self._rt.record_message(prepared, message, fallback_from=failed)
        return message

    def _open_stream(self, prepared: Prepared, failed: str | None, req_opts: Mapping[str, Any]) -> Any:
        raw = Messages.create(self, **prepared.body, **req_opts)
        return wrap_stream(raw, self._rt.stream_recorder(prepared, failed))

    def _cascade(self, prepared: Prepared, req_opts: Mapping[str, Any]) -> Any:
        """Cheap model first; the validator decides whether the strong model is called."""
        decision = prepared.routing
        assert decision is not None and decision.escalate_to is not None
        cheap = [
            self._attempts(prepared, lambda p, failed: self._send(p, failed, req_opts, Messages.create))
            for _ in range(self._rt.cascade_samples(prepared))
        ]
        if self._rt.cascade_accepts(prepared, cheap):
            return cheap[0]
        strong = self._rt.fallback(prepared, decision.escalate_to)
        return self._attempts(strong, lambda p, failed: self._send(p, failed, req_opts, Messages.create))

    def _attempts(self, prepared: Prepared, call: Call) -> Any:
        """Call; on 529/5xx after the SDK's retries, record it and try each fallback model in turn."""
        attempt, failed = prepared, None
        fallbacks = iter(self._rt.fallbacks_for(prepared))
        while True:
            try:
                return call(attempt, failed)
            except anthropic.APIError as exc:
                self._rt.record_failure(attempt, exc, fallback_from=failed)
                model = next(fallbacks, None) if is_fallback_error(exc) else None
                if model is None:
                    raise
                failed, attempt = attempt.model, self._rt.fallback(prepared, model)


class _RecordingStreamManager:
    """Like the SDK's ``MessageStreamManager``; falls back when opening fails, records the end."""

    def __init__(self, messages: ClawbackMessages, prepared: Prepared, req_opts: Mapping[str, Any]) -> None:
        self._messages = messages
        self._prepared = prepared
        self._req_opts = req_opts
        self._inner: Any = None

    def __enter__(self) -> Any:
        def open_stream(p: Prepared, failed: str | None) -> Any:
            manager = Messages.stream(self._messages, **p.body, **self._req_opts)
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
