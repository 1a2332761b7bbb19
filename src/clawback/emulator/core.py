"""The messages core: one validated request in, one Message with billing-true usage out (no I/O).

For each request the core computes the request's shape with the model's tokenizer, asks the ONE
:class:`~clawback.cache.rules.CacheEngine` what it reads and writes (workspace = the API key's
hash, minimum = the model's minimum cacheable length), has the responder answer, applies
``max_tokens`` and stop sequences, and commits the cache entries, visible from the moment the
request starts responding (``start`` + time to first token). ``count_tokens`` uses the same shape,
so ``count_tokens`` and the usage of the same request agree on the total input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clawback.cache.rules import CacheEngine, CacheOutcome
from clawback.emulator.generation import Completion, complete
from clawback.emulator.latency import LatencyModel, Timing
from clawback.emulator.params import MessageRequest
from clawback.emulator.responders import Responder
from clawback.emulator.visibility import Arrival, ArrivalStore
from clawback.emulator.wire import invalid_request, new_id
from clawback.errors import CacheRuleError
from clawback.pricing.cost import Usage
from clawback.shapes import RequestShape, request_shape
from clawback.tokens import estimate_block_tokens, estimate_text_tokens

__all__ = ["MessagesCore", "Served", "block_counter"]

Tokenizer = Literal["pre-4.7", "4.7+"]
_MEMO_MAX_CHARS = 50_000


@functools.lru_cache(maxsize=2048)
def _memo_text_tokens(text: str, tokenizer: Tokenizer) -> int:
    return estimate_text_tokens(text, tokenizer)


def _text_tokens(text: str, tokenizer: Tokenizer) -> int:
    if len(text) <= _MEMO_MAX_CHARS:
        return _memo_text_tokens(text, tokenizer)
    return estimate_text_tokens(text, tokenizer)


def block_counter(tokenizer: Tokenizer) -> Callable[[Mapping[str, Any]], int]:
    """The offline block estimator, memoised for repeated text blocks (system prompts, documents).

    It returns exactly what :func:`clawback.tokens.estimate_block_tokens` returns.
    """

    def count(block: Mapping[str, Any]) -> int:
        text = block.get("text")
        if block.get("type", "text") == "text" and isinstance(text, str):
            return _text_tokens(text, tokenizer)
        return estimate_block_tokens(block, tokenizer)

    return count


@dataclass(frozen=True, slots=True)
class Served:
    """A request the core answered: the Message JSON and how it came about."""

    message: dict[str, Any]
    usage: Usage
    completion: Completion
    outcome: CacheOutcome
    timing: Timing


class MessagesCore:
    """Answers validated Messages requests under the cache rules."""

    def __init__(self, engine: CacheEngine, responder: Responder, latency: LatencyModel) -> None:
        self.engine = engine
        self.responder = responder
        self.latency = latency
        self._counters = {t: block_counter(t) for t in ("pre-4.7", "4.7+")}

    def shape(self, request: MessageRequest) -> RequestShape:
        """The request's shape, estimated with its model's tokenizer."""
        tokenizer = request.info.tokenizer
        return request_shape(request.body, tokenizer=tokenizer, count=self._counters[tokenizer])

    def count_tokens(self, request: MessageRequest) -> int:
        """Input tokens of the request, as ``count_tokens`` reports them (caching ignored)."""
        return self.shape(request).total_tokens

    def run(
        self,
        request: MessageRequest,
        *,
        workspace: str,
        start: float,
        shape: RequestShape | None = None,
        arrival: Arrival | None = None,
        service_tier: str = "standard",
        message_id: str | None = None,
    ) -> Served:
        """Answer ``request`` started at ``start`` (virtual seconds); commits cache entries.

        ``shape`` is the request's shape when already computed (off the event loop); ``arrival``
        is how many responses had begun when the request arrived (see
        :class:`~clawback.emulator.visibility.ArrivalStore`; None sees every entry).
        """
        shape = self.shape(request) if shape is None else shape
        store = self.engine.store
        if not isinstance(store, ArrivalStore):
            return self._run(request, shape, workspace, start, service_tier, message_id)
        store.open(arrival)
        try:
            return self._run(request, shape, workspace, start, service_tier, message_id)
        finally:
            store.close()

    def _run(
        self,
        request: MessageRequest,
        shape: RequestShape,
        workspace: str,
        start: float,
        service_tier: str,
        message_id: str | None,
    ) -> Served:
        info = request.info
        try:
            outcome = self.engine.evaluate(
                shape, workspace=workspace, min_tokens=info.min_cacheable_tokens, start=start
            )
        except CacheRuleError as exc:
            raise invalid_request(str(exc)) from exc
        if request.max_tokens == 0:
            completion = Completion((), "max_tokens", None, 0)
        else:
            reply = self.responder.reply(request)
            completion = complete(
                reply,
                max_tokens=request.max_tokens,
                stop_sequences=request.stop_sequences,
                tokenizer=info.tokenizer,
                count=_text_tokens,
            )
        timing = self.latency.timing(
            fresh_input=outcome.input_tokens + outcome.cache_creation_input_tokens,
            cache_read=outcome.cache_read_input_tokens,
            output_tokens=completion.output_tokens,
        )
        store = self.engine.store
        if isinstance(store, ArrivalStore) and not self.latency.enabled:
            fresh = outcome.input_tokens + outcome.cache_creation_input_tokens
            store.window = self.latency.modelled_ttft(
                fresh_input=fresh, cache_read=outcome.cache_read_input_tokens
            )
        self.engine.commit(shape, outcome, workspace=workspace, start=start, visible_at=start + timing.ttft)
        usage = Usage(
            input_tokens=outcome.input_tokens,
            output_tokens=completion.output_tokens,
            cache_read_input_tokens=outcome.cache_read_input_tokens,
            cache_write_5m_input_tokens=outcome.cache_write_5m_input_tokens,
            cache_write_1h_input_tokens=outcome.cache_write_1h_input_tokens,
            service_tier=service_tier,
            inference_geo=(request.inference_geo or "global") if info.inference_geo_us else "not_available",
            speed=request.speed,
        )
        message = {
            "id": message_id or new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": info.id,
            "content": list(completion.content),
            "stop_reason": completion.stop_reason,
            "stop_sequence": completion.stop_sequence,
            "stop_details": None,
            "usage": usage.to_api(),
        }
        return Served(message, usage, completion, outcome, timing)
