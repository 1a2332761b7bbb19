"""``POST /v1/messages``: admit, apply the caller's policies, forward, pass the answer through, record.

One request, step by step: read the body (bounded), identify the caller, apply its policies
through the client's pipeline when it has any (else the body is forwarded byte for byte), admit it
against its rate limits and budgets at its worst case, send it upstream, and pass the answer back
— a JSON Message whole, a stream event by event as it arrives, with usage read from
``message_start``/``message_delta`` on the way. On 529 or another 5xx (or an unreachable upstream)
the policy's fallback models are tried in turn. Every attempt becomes one ledger row, whatever
happened — success, upstream error, a stream cut by upstream or abandoned by the client (with the
tokens seen so far) — and the reservation is settled with the real cost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from clawback.errors import ClawbackError
from clawback.gateway.asgi import Receive, Scope, Send, read_body, send_response
from clawback.gateway.core import Caller, Gateway, parse_body
from clawback.gateway.sse_usage import MessageFacts, SseUsage, read_message
from clawback.gateway.state import FREE, Admission
from clawback.gateway.upstream import STREAM_ERRORS, UpstreamResponse
from clawback.gateway.wire import GatewayRefusal, forward_headers, response_headers
from clawback.ledger.record import MAX_ERROR_MESSAGE, CallError, CallRecord, TokenCounts

if TYPE_CHECKING:
    from clawback.client.pipeline import Prepared

__all__ = ["BODY_TIMEOUT_S", "handle_messages"]

log = logging.getLogger("clawback.gateway.access")

BODY_TIMEOUT_S = 60.0
_SSE = b"text/event-stream"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_CUT_EVENT = (
    b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":'
    b'"clawback gateway: the upstream stream ended before message_stop"}}\n\n'
)


@dataclass(slots=True)
class _Attempt:
    """One send upstream: what was sent and what came back."""

    body: bytes
    model: str
    prepared: Prepared | None
    fallback_from: str | None = None
    status: int = 0
    request_id: str | None = None
    facts: MessageFacts | None = None
    error: CallError | None = None
    ttft_s: float | None = None
    upstream_s: float = 0.0
    stream: bool = False
    client_gone: bool = False


async def handle_messages(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ``POST /v1/messages``; never raises, never answers 5xx of its own making."""
    t0 = time.perf_counter()
    started = gw.clock()

    async def work() -> int:
        body = await read_body(receive, scope, limit=gw.config.max_body_bytes, timeout_s=BODY_TIMEOUT_S)
        caller = gw.identify(scope["headers"])
        return await _serve(gw, scope, receive, send, caller, body, parse_body(body), t0, started)

    status = await gw.answer(send, "messages", work())
    if gw.config.access_log:
        log.info(
            "POST /v1/messages",
            extra={"fields": {"status": status, "ms": round((time.perf_counter() - t0) * 1000, 3)}},
        )


async def _serve(
    gw: Gateway,
    scope: Scope,
    receive: Receive,
    send: Send,
    caller: Caller,
    body: bytes,
    data: dict[str, Any],
    t0: float,
    started: float,
) -> int:
    model_field = data.get("model")
    requested = model_field if isinstance(model_field, str) else ""
    policy = caller.policy
    pipe = None
    attempt = _Attempt(body, requested, None)
    if policy.active:
        pipe = gw.policies.pipeline(policy, caller.workspace)
        # a stream can't be sent again once the caller has read it: streams are never capped
        prepared = gw.policies.prepare(pipe, data, caller.task, caps=data.get("stream") is not True)
        attempt = _prepared_attempt(prepared, None)
    models = [attempt.model, *policy.fallbacks]
    caching = policy.plan_cache or b"cache_control" in body
    plan = gw.admit_plan(caller, data, len(attempt.body), models, caching=caching)
    if policy.output_caps and not plan.empty:  # a capped answer cut short is sent again: two calls
        plan = replace(plan, worst=plan.worst * 2)
    admission: Admission = FREE if plan.empty else await gw.state.admit(plan, started)
    headers = forward_headers(scope["headers"], auth=caller.auth)
    qs = scope.get("query_string") or b""
    path = "/v1/messages" + ("?" + qs.decode("latin-1") if qs else "")
    fallbacks = [m for m in policy.fallbacks if m != attempt.model]
    spent, tokens = Decimal(0), 0
    gw.metrics.inflight += 1
    try:
        while True:
            try:
                status, then = await _attempt(
                    gw, send, receive, path, headers, attempt, has_fallback=bool(fallbacks)
                )
            except GatewayRefusal as refusal:
                if refusal.status < 500:  # a request no HTTP client can send: refused, never attempted
                    raise
                # upstream unreachable or too slow: an attempt all the same
                attempt.status = refusal.status
                attempt.error = CallError(refusal.type, gw.mask(refusal.message), refusal.status)
                gw.metrics.error("upstream_unreachable" if refusal.status == 502 else "upstream_timeout")
                status, then = refusal.status, "fallback" if fallbacks else "done"
                if then == "done":
                    cost, used = _record(gw, caller, pipe, attempt, requested, t0, started)
                    spent, tokens = spent + cost, tokens + used
                    raise
            cost, used = _record(gw, caller, pipe, attempt, requested, t0, started)
            spent, tokens = spent + cost, tokens + used
            if then == "done" or (then == "fallback" and not fallbacks):
                break
            attempt = _next_attempt(gw, pipe, attempt, then, fallbacks, data, caller, requested)
    finally:
        gw.metrics.inflight -= 1
        gw.state.settle(admission, spent, tokens, gw.clock())
        gw.metrics.added_latency.observe(max(0.0, time.perf_counter() - t0 - attempt.upstream_s))
    return status


def _next_attempt(
    gw: Gateway,
    pipe: Any,
    attempt: _Attempt,
    then: str,
    fallbacks: list[str],
    data: dict[str, Any],
    caller: Caller,
    requested: str,
) -> _Attempt:
    """The attempt after ``attempt``: the same call with the caller's own ``max_tokens`` (a learned
    cap cut the answer short), or the next fallback model, re-planned for it."""
    prepared = attempt.prepared
    assert pipe is not None and prepared is not None
    if then == "uncap":
        return _prepared_attempt(pipe.uncapped(prepared), attempt.fallback_from)
    return _prepared_attempt(pipe.fallback(prepared, fallbacks.pop(0)), attempt.model)


def _prepared_attempt(prepared: Prepared, fallback_from: str | None) -> _Attempt:
    body = _ENCODER.encode(prepared.body).encode("utf-8")
    return _Attempt(body, prepared.model, prepared, fallback_from)


async def _attempt(
    gw: Gateway,
    send: Send,
    receive: Receive,
    path: str,
    headers: dict[str, str],
    attempt: _Attempt,
    *,
    has_fallback: bool,
) -> tuple[int, str]:
    """Send one attempt; ``(status, then)``: ``done`` once the caller has its answer, ``fallback``
    when a fallback model should be tried instead, ``uncap`` when a learned output cap cut the
    answer short and the call goes again with the caller's ``max_tokens`` (a cap never loses one)."""
    t_sent = time.perf_counter()
    resp = await gw.upstream.send("POST", path, headers, attempt.body)
    try:
        attempt.status = resp.status
        attempt.request_id = resp.request_id
        retryable = resp.status == 529 or resp.status >= 500
        is_sse = resp.status == 200 and resp.content_type.encode() == _SSE
        if is_sse:
            attempt.stream = True
            await _stream(gw, send, receive, resp, attempt, t_sent)
            return resp.status, "done"
        try:
            raw = await resp.read()
        except STREAM_ERRORS as exc:
            raise GatewayRefusal(
                502, f"clawback gateway: the upstream API dropped the connection: {exc!r}"[:300]
            ) from None
        attempt.upstream_s = time.perf_counter() - t_sent
        gw.metrics.upstream_latency.observe(attempt.upstream_s)
        attempt.facts = read_message(raw)
        if resp.status >= 400:
            attempt.error = _upstream_error(gw, resp.status, attempt.facts)
            gw.metrics.error(f"upstream_{resp.status}")
            if retryable and has_fallback:
                return resp.status, "fallback"
        elif _cut_by_cap(attempt):
            return resp.status, "uncap"
        await send_response(send, resp.status, raw, response_headers(resp.raw_headers))
        return resp.status, "done"
    finally:
        resp.release()


def _cut_by_cap(attempt: _Attempt) -> bool:
    from clawback.client.pipeline import CallPipeline  # only reached when a policy prepared the call

    prepared = attempt.prepared
    return (
        prepared is not None
        and attempt.facts is not None
        and CallPipeline.cut_by_cap(prepared, attempt.facts.stop_reason)
    )


def _upstream_error(gw: Gateway, status: int, facts: MessageFacts) -> CallError:
    message = gw.mask(facts.error_message or f"HTTP {status}")[:MAX_ERROR_MESSAGE]
    return CallError(facts.error_type or "api_error", message, status)


async def _stream(
    gw: Gateway, send: Send, receive: Receive, resp: UpstreamResponse, attempt: _Attempt, t_sent: float
) -> None:
    """Pass a stream through chunk by chunk; read usage on the way; notice a client that left.

    Each chunk is sent on as soon as it arrives. A client that hangs up is noticed by a pending
    ``receive()``, started after the first chunk (a stream that arrives whole needs none); the last
    chunk goes out with the end of the response in one write."""
    await send(
        {"type": "http.response.start", "status": resp.status, "headers": response_headers(resp.raw_headers)}
    )
    tracker = SseUsage()
    watcher: asyncio.Future[Any] | None = None
    cut: BaseException | None = None
    last = b""
    try:
        while chunk := await resp.readany():
            tracker.feed(chunk)
            if attempt.ttft_s is None and tracker.content_seen:
                attempt.ttft_s = time.perf_counter() - t_sent
            if watcher is not None and watcher.done():
                attempt.client_gone = True
                break
            if resp.complete:
                last = chunk
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if watcher is None:
                watcher = asyncio.ensure_future(receive())
    except STREAM_ERRORS as exc:
        cut = exc
    except OSError:
        attempt.client_gone = True
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
    attempt.upstream_s = time.perf_counter() - t_sent
    gw.metrics.upstream_latency.observe(attempt.upstream_s)
    if attempt.ttft_s is not None:
        gw.metrics.ttft.observe(attempt.ttft_s)
    attempt.facts = tracker.facts
    if attempt.client_gone:
        attempt.error = CallError("client_disconnected", "the client closed the connection mid-stream", 499)
        gw.metrics.error("client_disconnected_mid_stream")
        return
    if tracker.facts.error_type is not None:
        attempt.error = CallError(
            tracker.facts.error_type, gw.mask(tracker.facts.error_message or "")[:MAX_ERROR_MESSAGE], 200
        )
        gw.metrics.error("upstream_stream_error")
    elif not tracker.completed:
        reason = f": {cut!r}" if cut is not None else ""
        attempt.error = CallError(
            "stream_cut", gw.mask(f"the upstream stream ended before message_stop{reason}")[:300], 200
        )
        gw.metrics.error("upstream_stream_cut")
    tail = (
        _CUT_EVENT if (cut is not None or not tracker.completed) and tracker.facts.error_type is None else b""
    )
    try:
        await send({"type": "http.response.body", "body": last + tail, "more_body": False})
    except OSError:
        attempt.client_gone = True


def _record(
    gw: Gateway, caller: Caller, pipe: Any, attempt: _Attempt, requested: str, t0: float, started: float
) -> tuple[Decimal, int]:
    """Write the attempt's ledger row; ``(its cost, its rate-limited tokens)``."""
    facts = attempt.facts or MessageFacts()
    usage = facts.usage if facts.usage else None
    latency_ms = (time.perf_counter() - t0) * 1000
    ttft_ms = None if attempt.ttft_s is None else round(attempt.ttft_s * 1000, 3)
    extra: dict[str, Any] = {"stream": attempt.stream, "status": attempt.status}
    if attempt.client_gone:
        extra["client_disconnected"] = True
    record: CallRecord
    if pipe is not None and attempt.prepared is not None:
        error = _AttemptFailed(attempt.error) if attempt.error is not None else None
        try:
            record = gw.policies.finish(
                pipe,
                attempt.prepared,
                gw.policies.outcome(
                    usage,
                    model=facts.model,
                    stop_reason=facts.stop_reason,
                    request_id=attempt.request_id,
                    error=error,
                    ttft_s=attempt.ttft_s,
                ),
                key_id=caller.key_id,
                fallback_from=attempt.fallback_from,
                extra=extra,
            )
            record = replace(record, error=attempt.error, task=caller.task)
        except (
            ClawbackError,
            ArithmeticError,
            TypeError,
            ValueError,
        ) as exc:  # the row must still be written
            extra["pipeline_error"] = gw.mask(str(exc))[:300]
            counts, cost = _fast(
                gw, caller, attempt, requested, started, latency_ms, ttft_ms, usage, facts, extra
            )
        else:
            counts, cost = gw.write(record)
    else:
        counts, cost = _fast(
            gw, caller, attempt, requested, started, latency_ms, ttft_ms, usage, facts, extra
        )
    return cost or Decimal(0), counts.input + counts.cache_write_5m + counts.cache_write_1h + counts.output


def _fast(
    gw: Gateway,
    caller: Caller,
    attempt: _Attempt,
    requested: str,
    started: float,
    latency_ms: float,
    ttft_ms: float | None,
    usage: Any,
    facts: MessageFacts,
    extra: dict[str, Any],
) -> tuple[TokenCounts, Decimal | None]:
    return gw.write_fast(
        caller,
        requested_model=requested or attempt.model,
        served_model=facts.model or attempt.model or None,
        started=started,
        latency_ms=latency_ms,
        usage=usage,
        stop_reason=facts.stop_reason,
        error=attempt.error,
        request_id=attempt.request_id,
        ttft_ms=ttft_ms,
        extra=extra if attempt.fallback_from is None else {**extra, "fallback_from": attempt.fallback_from},
    )


class _AttemptFailed(ClawbackError):
    """An attempt that failed upstream, as the pipeline's outcome sees it."""

    def __init__(self, error: CallError) -> None:
        super().__init__(error.message)
        self.status_code = error.status
