"""Recording calls whose caller reads the HTTP response itself: ``with_raw_response``, ``with_streaming_response``.

The SDK's wrappers call the resource's own ``create`` with an ``X-Stainless-Raw-Response`` header
and hand the caller an ``APIResponse`` instead of a ``Message``. Every way of reading it — ``parse()``
(a ``Message``, or a ``Stream`` of events), ``read()``, ``json()``, ``text()``, ``iter_bytes()``,
``iter_lines()`` — goes through the underlying ``httpx2.Response``'s ``iter_bytes`` (``aiter_bytes``
for async), so clawback observes the bytes there, once, whichever way they are read:

* a Messages JSON body is parsed when it has been read to the end;
* a stream's server-sent events are folded, line by line, into the usage they report
  (:class:`~clawback.client.streams.StreamTracker`; only the ``message_*`` events are parsed);
* a JSON Lines body (batch results) hands each line to a callback.

A response read before it reaches clawback (``with_raw_response`` on a non-streaming call) is
observed at once; one closed before it was read is recorded without usage (the API still billed it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from clawback.client.pipeline import Outcome
from clawback.client.streams import StreamTracker

__all__ = [
    "RAW_HEADER",
    "BodyTee",
    "JsonLinesTee",
    "MessageTee",
    "SseTee",
    "observe_async_response",
    "observe_response",
    "raw_mode",
]

RAW_HEADER = "X-Stainless-Raw-Response"


def raw_mode(request_options: Mapping[str, Any]) -> str | None:
    """``raw`` or ``stream`` when the SDK's response wrappers made this call, else None."""
    headers = request_options.get("extra_headers")
    mode = headers.get(RAW_HEADER) if headers is not None and isinstance(headers, Mapping) else None
    return mode if isinstance(mode, str) else None


class BodyTee:
    """Sees a response body's bytes as the caller reads them; :meth:`end` runs once."""

    def __init__(self) -> None:
        self.reading = False
        self.ended = False

    def feed(self, chunk: bytes) -> None:
        """One more piece of the decoded body."""
        raise NotImplementedError

    def end(self, error: BaseException | None = None) -> None:
        """The body was read to the end (``error`` None), failed, or was closed early."""
        if not self.ended:
            self.ended = True
            self._finish(error)

    def _finish(self, error: BaseException | None) -> None:
        raise NotImplementedError


class _Lines(BodyTee):
    """A tee that works line by line (server-sent events, JSON Lines)."""

    def __init__(self) -> None:
        super().__init__()
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        """Split into lines; the last, unfinished one waits for the next chunk."""
        data = self._partial + chunk if self._partial else chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self.line(line.rstrip(b"\r"))

    def line(self, line: bytes) -> None:
        """One complete line."""
        raise NotImplementedError

    def _flush(self) -> None:
        if self._partial:
            last, self._partial = self._partial, b""
            self.line(last.rstrip(b"\r"))


class MessageTee(BodyTee):
    """A non-streaming Messages response: its JSON is read when the body is complete."""

    def __init__(self, on_end: Callable[[Outcome], None], request_id: str | None) -> None:
        super().__init__()
        self._on_end = on_end
        self._request_id = request_id
        self._body = bytearray()

    def feed(self, chunk: bytes) -> None:
        """Keep the body (a Message is small)."""
        self._body += chunk

    def _finish(self, error: BaseException | None) -> None:
        if error is None and not self._body:
            error = _ClosedUnread("the response was closed before its body was read")
        if error is not None:
            self._on_end(Outcome(error=error, request_id=self._request_id))
            return
        try:
            data = json.loads(bytes(self._body))
        except ValueError as exc:
            self._on_end(Outcome(error=exc, request_id=self._request_id))
            return
        self._on_end(
            Outcome(
                usage=data.get("usage") if isinstance(data, Mapping) else None,
                served_model=data.get("model") if isinstance(data, Mapping) else None,
                stop_reason=data.get("stop_reason") if isinstance(data, Mapping) else None,
                request_id=self._request_id,
            )
        )


class SseTee(_Lines):
    """A streamed Messages response: the ``message_*`` events carry the usage."""

    _WANTED = (b'"message_start"', b'"message_delta"', b'"message_stop"', b'"error"')

    def __init__(self, on_end: Callable[[Outcome], None], request_id: str | None) -> None:
        super().__init__()
        self.tracker = StreamTracker(on_end, request_id=request_id)

    def line(self, line: bytes) -> None:
        """Fold a ``data:`` line into the tracker (content deltas only start the first-token clock)."""
        if not line.startswith(b"data:"):
            return
        head = line[:64]
        if b"content_block" in head:
            self.tracker.first_content()
        elif any(kind in head for kind in self._WANTED):
            try:
                event = json.loads(line[5:])
            except ValueError:
                return
            if isinstance(event, Mapping) and event.get("type") == "error":
                self._error = _StreamError(json.dumps(event.get("error"))[:500])
            elif isinstance(event, Mapping):
                self.tracker.observe(event)

    _error: BaseException | None = None

    def _finish(self, error: BaseException | None) -> None:
        self._flush()
        self.tracker.end(error or self._error)


class JsonLinesTee(_Lines):
    """A JSON Lines body: each parsed line goes to ``on_line`` (batch results)."""

    def __init__(self, on_line: Callable[[Any], None]) -> None:
        super().__init__()
        self._on_line = on_line

    def line(self, line: bytes) -> None:
        """Parse one line (blank and unreadable lines are skipped)."""
        if line.strip():
            try:
                self._on_line(json.loads(line))
            except ValueError:
                return

    def _finish(self, error: BaseException | None) -> None:
        self._flush()


class _ClosedUnread(Exception):
    """The caller closed a response without reading it (the API still billed the call)."""


class _StreamError(Exception):
    """The stream carried an ``error`` event."""


def _read_already(response: Any, tee: BodyTee) -> bool:
    content = getattr(response, "_content", None)
    if isinstance(content, bytes | bytearray):
        tee.feed(bytes(content))
        tee.end()
        return True
    return False


def observe_response(response: Any, tee: BodyTee) -> None:
    """Route the bytes of an ``httpx2.Response`` (sync) through ``tee`` however the caller reads them."""
    if _read_already(response, tee):
        return
    iter_bytes, close = response.iter_bytes, response.close

    def observed(chunk_size: int | None = None) -> Iterator[bytes]:
        tee.reading = True
        try:
            for chunk in iter_bytes(chunk_size):
                tee.feed(chunk)
                yield chunk
        except GeneratorExit:
            tee.end()
            raise
        except BaseException as exc:
            tee.end(exc)
            raise
        tee.end()

    def closing() -> None:
        try:
            close()
        finally:
            if not tee.reading:  # a read in progress closes the response itself before its last chunk
                tee.end()

    response.iter_bytes = observed
    response.close = closing


def observe_async_response(response: Any, tee: BodyTee) -> None:
    """Route the bytes of an ``httpx2.Response`` (async) through ``tee`` however the caller reads them."""
    if _read_already(response, tee):
        return
    aiter_bytes, aclose = response.aiter_bytes, response.aclose

    async def observed(chunk_size: int | None = None) -> AsyncIterator[bytes]:
        tee.reading = True
        try:
            async for chunk in aiter_bytes(chunk_size):
                tee.feed(chunk)
                yield chunk
        except GeneratorExit:
            tee.end()
            raise
        except BaseException as exc:
            tee.end(exc)
            raise
        tee.end()

    async def closing() -> None:
        try:
            await aclose()
        finally:
            if not tee.reading:
                tee.end()

    response.aiter_bytes = observed
    response.aclose = closing


def message_tee(on_end: Callable[[Outcome], None], response: Any, *, stream: bool) -> BodyTee:
    """The tee for one Messages response: server-sent events or one JSON body."""
    request_id = response.headers.get("request-id") if hasattr(response, "headers") else None
    return SseTee(on_end, request_id) if stream else MessageTee(on_end, request_id)
