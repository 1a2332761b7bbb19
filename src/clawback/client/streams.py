"""Streams that report their usage to the ledger when they end, however they end.

:class:`StreamTracker` (pure) folds the SSE events of one Messages stream into the usage the
API reports — ``message_start`` carries the input and cache counts, each ``message_delta`` the
cumulative output — plus the serving model, stop reason and time to first token. The recording
stream classes are the SDK's own ``Stream`` / ``AsyncStream`` with the tracker wired into their
event loop, so callers get the SDK's types back; the tracker's callback runs exactly once: when
the stream completes, fails (mid-stream ``error`` event, cut connection) or is closed early.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import anthropic

from clawback.client.pipeline import Outcome

__all__ = ["AsyncRecordingStream", "RecordingStream", "StreamTracker", "wrap_async_stream", "wrap_stream"]


def _dump(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if hasattr(obj, "model_dump"):
        data: dict[str, Any] = obj.model_dump(mode="json", exclude_none=True)
        return data
    return dict(obj)


def _get(obj: Any, name: str) -> Any:
    """A field of an SDK event or of the same event as parsed JSON."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


class StreamTracker:
    """Accumulates one stream's usage and calls ``on_end(outcome)`` once when it ends."""

    def __init__(self, on_end: Callable[[Outcome], None], *, request_id: str | None = None) -> None:
        self._on_end = on_end
        self._started = time.perf_counter()
        self.request_id = request_id
        self.usage: dict[str, Any] = {}
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.ttft_s: float | None = None
        self.completed = False
        self._ended = False

    def observe(self, event: Any) -> None:
        """Fold one SSE event (the SDK's typed event, or its JSON) into the running totals."""
        kind = _get(event, "type")
        if kind == "message_start":
            message = _get(event, "message")
            self.model = _get(message, "model")
            self.usage = _dump(_get(message, "usage"))
        elif kind in ("content_block_start", "content_block_delta") and self.ttft_s is None:
            self.first_content()
        elif kind == "message_delta":
            self.usage.update({k: v for k, v in _dump(_get(event, "usage")).items() if v is not None})
            self.stop_reason = _get(_get(event, "delta") or {}, "stop_reason") or self.stop_reason
        elif kind == "message_stop":
            self.completed = True

    def first_content(self) -> None:
        """Note the time to first token (the first content event)."""
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self._started

    def end(self, error: BaseException | None = None) -> None:
        """Report the stream's outcome (only the first call counts)."""
        if self._ended:
            return
        self._ended = True
        if error is None and not self.completed:
            error = _ClosedEarly("the stream was closed before message_stop")
        self._on_end(
            Outcome(
                usage=self.usage or None,
                served_model=self.model,
                stop_reason=self.stop_reason,
                request_id=self.request_id,
                error=error,
                ttft_s=self.ttft_s,
            )
        )


class _ClosedEarly(Exception):
    """The caller stopped reading before the stream finished (usage so far is still recorded)."""


class RecordingStream(anthropic.Stream[Any]):
    """The SDK's ``Stream`` with a :class:`StreamTracker` on its events."""

    _tracker: StreamTracker

    def __stream__(self) -> Iterator[Any]:
        tracker = self._tracker
        try:
            for event in super().__stream__():
                tracker.observe(event)
                yield event
        except GeneratorExit:
            tracker.end()
            raise
        except BaseException as exc:
            tracker.end(exc)
            raise
        tracker.end()

    def close(self) -> None:
        """Close the response; an unfinished stream is recorded with what it used so far."""
        try:
            super().close()
        finally:
            self._tracker.end()


class AsyncRecordingStream(anthropic.AsyncStream[Any]):
    """The SDK's ``AsyncStream`` with a :class:`StreamTracker` on its events."""

    _tracker: StreamTracker

    async def __stream__(self) -> AsyncIterator[Any]:
        tracker = self._tracker
        try:
            async for event in super().__stream__():
                tracker.observe(event)
                yield event
        except GeneratorExit:
            tracker.end()
            raise
        except BaseException as exc:
            tracker.end(exc)
            raise
        tracker.end()

    async def close(self) -> None:
        """Close the response; an unfinished stream is recorded with what it used so far."""
        try:
            await super().close()
        finally:
            self._tracker.end()


def _request_id(stream: Any) -> str | None:
    response = getattr(stream, "response", None)
    headers = getattr(response, "headers", None)
    return headers.get("request-id") if headers is not None else None


def wrap_stream(stream: anthropic.Stream[Any], on_end: Callable[[Outcome], None]) -> RecordingStream:
    """``stream`` as a :class:`RecordingStream` reporting to ``on_end`` (before any event is read)."""
    wrapped = RecordingStream.__new__(RecordingStream)
    wrapped.__dict__.update(stream.__dict__)
    wrapped._tracker = StreamTracker(on_end, request_id=_request_id(stream))
    return wrapped


def wrap_async_stream(
    stream: anthropic.AsyncStream[Any], on_end: Callable[[Outcome], None]
) -> AsyncRecordingStream:
    """``stream`` as an :class:`AsyncRecordingStream` reporting to ``on_end``."""
    wrapped = AsyncRecordingStream.__new__(AsyncRecordingStream)
    wrapped.__dict__.update(stream.__dict__)
    wrapped._tracker = StreamTracker(on_end, request_id=_request_id(stream))
    return wrapped
