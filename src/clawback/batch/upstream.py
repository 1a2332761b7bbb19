"""The batch runner's view of the Claude API, through the official SDK, and the one place its errors are translated.

:class:`SdkUpstream` wraps an ``anthropic.Anthropic`` client (which reads ``ANTHROPIC_API_KEY`` and
``ANTHROPIC_BASE_URL`` itself). The create call is sent with the SDK's retries **off**: a retried
create after a timeout or a 5xx could make a second batch, so the runner decides instead, by
looking for the first one (:mod:`clawback.batch.recovery`). Its body is built from the journal's
stored params text, one batch at a time, without re-encoding each request. Reads (retrieve, list,
results) keep the SDK's own retries.

Every SDK or transport error becomes an :class:`UpstreamFailure` carrying the HTTP status (if
any), ``retry-after`` (if given) and whether it is worth trying again. Its message is masked
(:func:`clawback.redact.redact`): an upstream that echoes the API key never puts it in a journal,
an output file or a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from clawback.batch.recovery import ListedBatch
from clawback.errors import UpstreamError
from clawback.redact import redact

__all__ = ["BatchInfo", "SdkUpstream", "Upstream", "UpstreamFailure"]

_TRANSIENT_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class UpstreamFailure(UpstreamError):
    """An API call that failed: ``status`` (None for transport errors), ``retry_after``, ``transient``."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.error_code = error_code

    @property
    def transient(self) -> bool:
        """True when trying again later may succeed (transport errors, 408/409/429/5xx).

        Not the 429 of a reached monthly spend cap (``enforced_spend_limit_reached``): it lasts until
        the cap resets, so the job stops (resumable) instead of retrying into it.
        """
        if self.error_code == "enforced_spend_limit_reached":
            return False
        return self.status is None or self.status in _TRANSIENT_STATUSES or self.status >= 500

    @property
    def not_found(self) -> bool:
        """True for a 404."""
        return self.status == 404


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """The parts of a ``message_batch`` object the runner uses."""

    id: str
    status: str
    counts: Mapping[str, int]
    created_at: str | None = None
    archived: bool = False

    @property
    def ended(self) -> bool:
        """True once processing has ended (results can be read)."""
        return self.status == "ended"

    @property
    def total(self) -> int:
        """Requests in the batch."""
        return sum(int(v) for v in self.counts.values())


class Upstream(Protocol):
    """What the runner needs from the Message Batches API (and one Messages call for warm-ups)."""

    def newest_batch_id(self) -> str | None:
        """The id of the workspace's most recent batch, or None."""

    def create(self, body: Iterable[bytes], length: int) -> BatchInfo:
        """Create a batch from a JSON body of exactly ``length`` bytes, streamed; never retried."""

    def retrieve(self, batch_id: str) -> BatchInfo:
        """A batch's status."""

    def list_since(self, anchor: str | None, max_pages: int = 50) -> list[ListedBatch]:
        """Batches newer than ``anchor`` (all, up to ``max_pages``, when None), newest first."""

    def cancel(self, batch_id: str) -> BatchInfo:
        """Ask for a batch to be canceled."""

    def results(self, batch_id: str) -> Any:
        """A context manager yielding the batch's result lines (str), streamed."""

    def warm(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send one standard Messages request; its usage object."""


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def translate(exc: Exception, what: str) -> UpstreamFailure:
    """The :class:`UpstreamFailure` for an SDK or transport error, its message masked."""
    failure = _translate(exc, what)
    masked = redact(str(failure))
    if masked == str(failure):
        return failure
    return UpstreamFailure(
        masked, status=failure.status, retry_after=failure.retry_after, error_code=failure.error_code
    )


def _translate(exc: Exception, what: str) -> UpstreamFailure:
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        body: Mapping[str, Any] = exc.body if isinstance(exc.body, Mapping) else {}
        raw = body.get("error")
        error: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        detail = str(error.get("message") or exc.message).splitlines()[0][:300]
        kind = error.get("type") or "error"
        details = error.get("details")
        code = details.get("error_code") if isinstance(details, Mapping) else None
        return UpstreamFailure(
            f"{what}: HTTP {exc.status_code} {kind}: {detail}",
            status=exc.status_code,
            retry_after=_retry_after(exc.response.headers),
            error_code=code if isinstance(code, str) else None,
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return UpstreamFailure(f"{what}: timed out")
    if isinstance(exc, anthropic.APIConnectionError):
        return UpstreamFailure(f"{what}: cannot reach the API ({exc.__cause__ or exc})")
    return UpstreamFailure(f"{what}: {type(exc).__name__}: {exc}")


def _info(batch: Any) -> BatchInfo:
    counts = batch.request_counts.model_dump()
    created = batch.created_at
    return BatchInfo(
        id=batch.id,
        status=batch.processing_status,
        counts={k: int(v) for k, v in counts.items()},
        created_at=created.isoformat() if isinstance(created, datetime) else str(created),
        archived=getattr(batch, "archived_at", None) is not None,
    )


class SdkUpstream:
    """:class:`Upstream` over an ``anthropic.Anthropic`` client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import anthropic

        try:
            return fn(*args, **kwargs)
        except anthropic.AnthropicError as exc:
            raise translate(exc, what) from exc

    def newest_batch_id(self) -> str | None:
        """The id of the workspace's most recent batch, or None."""
        page = self._call("list batches", self.client.messages.batches.list, limit=1)
        return page.data[0].id if page.data else None

    def create(self, body: Iterable[bytes], length: int) -> BatchInfo:
        """Create a batch; the SDK's retries are off for this call, and the body streams."""
        from anthropic.types.messages import MessageBatch

        client = self.client.with_options(max_retries=0)
        headers = {"content-type": "application/json", "content-length": str(length)}
        batch = self._call(
            "create batch",
            client.post,
            "/v1/messages/batches",
            cast_to=MessageBatch,
            content=_counted(body, length),
            options={"headers": headers},
        )
        return _info(batch)

    def retrieve(self, batch_id: str) -> BatchInfo:
        """A batch's status."""
        return _info(self._call(f"retrieve {batch_id}", self.client.messages.batches.retrieve, batch_id))

    def list_since(self, anchor: str | None, max_pages: int = 50) -> list[ListedBatch]:
        """Batches listed above ``anchor``, newest first."""
        out: list[ListedBatch] = []
        after: str | None = None
        for _ in range(max_pages):
            kwargs: dict[str, Any] = {"limit": 100}
            if after:
                kwargs["after_id"] = after
            page = self._call("list batches", self.client.messages.batches.list, **kwargs)
            for batch in page.data:
                if batch.id == anchor:
                    return out
                info = _info(batch)
                created = batch.created_at.timestamp() if isinstance(batch.created_at, datetime) else 0.0
                out.append(ListedBatch(info.id, info.total, info.ended, created))
            if not page.has_more or not page.data:
                return out
            after = page.data[-1].id
        return out

    def cancel(self, batch_id: str) -> BatchInfo:
        """Ask for a batch to be canceled."""
        return _info(self._call(f"cancel {batch_id}", self.client.messages.batches.cancel, batch_id))

    @contextmanager
    def results(self, batch_id: str) -> Iterator[Iterator[str]]:
        """The batch's result lines, streamed."""
        import anthropic

        what = f"results of {batch_id}"
        try:
            with self.client.messages.batches.with_streaming_response.results(batch_id) as response:
                yield _guarded(response.iter_lines(), what)
        except anthropic.AnthropicError as exc:
            raise translate(exc, what) from exc

    def warm(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send one standard Messages request; its usage object."""
        from anthropic.types import Message

        message = self._call(
            "warm-up request", self.client.post, "/v1/messages", cast_to=Message, body=dict(params)
        )
        usage: Mapping[str, Any] = message.usage.model_dump()
        return usage


def _counted(parts: Iterable[bytes], length: int) -> Iterator[bytes]:
    """``parts``, checking that they add up to the promised ``length``."""
    sent = 0
    for part in parts:
        sent += len(part)
        yield part
    if sent != length:
        raise UpstreamFailure(f"create batch: body was {sent} bytes, not the {length} announced")


def _guarded(lines: Iterator[str], what: str) -> Iterator[str]:
    import anthropic

    try:
        for line in lines:
            if line.strip():
                yield line
    except anthropic.AnthropicError as exc:
        raise translate(exc, what) from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("httpx", "httpcore", "h11")):
            raise UpstreamFailure(redact(f"{what}: {type(exc).__name__}: {exc}")) from exc
        raise


def parse_result_line(line: str) -> Mapping[str, Any]:
    """One line of a results file as JSON; a malformed line is an :class:`UpstreamFailure`."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UpstreamFailure(f"malformed line in batch results: {exc.msg}") from exc
    if not isinstance(data, Mapping):
        raise UpstreamFailure("malformed line in batch results: not an object")
    return data
