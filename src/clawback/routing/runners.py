"""Runners for the evaluation harness: where the candidate calls actually go (the I/O edge).

* :class:`MessagesRunner` sends each request with ``client.messages.create`` — the official SDK
  pointed at the API or at the emulator. Full price; used for the judge when no batch runner is
  wanted, and for replaying recorded answers offline.
* :class:`BatchEvalRunner` (in :mod:`clawback.routing.batch_runner`) submits everything through
  clawback's durable batch runner at half price; it is what ``clawback eval`` uses.

A failed call becomes a :class:`RunResult` with ``error`` set, never an exception: one bad sample
must not sink an evaluation, and the report counts errors per model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anthropic

from clawback.errors import UsageError
from clawback.ledger.record import new_record_id
from clawback.ledger.results import result_record
from clawback.pricing.cost import parse_usage
from clawback.reachable import check_reachable
from clawback.redact import redact
from clawback.routing.cascade import response_text
from clawback.routing.evaluate import RunRequest, RunResult
from clawback.settings import Settings

if TYPE_CHECKING:
    from clawback.batch.ledger import RecordSink
    from clawback.pricing.catalogue import Catalogue

__all__ = ["MessagesRunner", "check_reachable", "judge_caller", "sdk_client"]


def sdk_client(settings: Settings, *, max_retries: int = 2) -> anthropic.Anthropic:
    """The official SDK client for ``settings`` (API key and base URL, e.g. the emulator's)."""
    if settings.api_key is None:
        raise UsageError("set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL to use the emulator)")
    return anthropic.Anthropic(
        api_key=settings.api_key.reveal(), base_url=settings.base_url, max_retries=max_retries
    )


class MessagesRunner:
    """Runs requests one Messages call each, ``workers`` at a time, through an SDK client.

    With a ``ledger`` (a writer) and a ``catalogue``, every call is recorded with ``source: eval``
    and the runner's ``task``.
    """

    def __init__(
        self,
        client: anthropic.Anthropic,
        *,
        workers: int = 4,
        ledger: RecordSink | None = None,
        catalogue: Catalogue | None = None,
        task: str | None = None,
    ) -> None:
        self.client = client
        self.workers = max(1, workers)
        self.ledger = ledger
        self.catalogue = catalogue
        self.task = task

    def _one(self, request: RunRequest) -> RunResult:
        started = time.time()
        try:
            message = self.client.messages.create(**dict(request.body))
        except anthropic.APIError as exc:
            self._record(request, None, exc, started)
            return RunResult(request.custom_id, error=redact(f"{type(exc).__name__}: {exc}".splitlines()[0]))
        self._record(request, message, None, started)
        return RunResult(request.custom_id, text=response_text(message), usage=parse_usage(message.usage))

    def _record(self, request: RunRequest, message: Any, error: BaseException | None, started: float) -> None:
        if self.ledger is None or self.catalogue is None:
            return
        status = getattr(error, "status_code", None)
        record = result_record(
            self.catalogue,
            record_id=new_record_id(),
            ts=datetime.fromtimestamp(started, UTC),
            requested_model=request.model,
            message=None if message is None else message.model_dump(mode="json"),
            error=None if error is None else {"type": type(error).__name__, "message": redact(str(error))},
            source="eval",
            task=self.task,
            latency_ms=round((time.time() - started) * 1000, 3),
            extra={"eval_request": request.custom_id, **({"status": status} if status else {})},
        )
        self.ledger.record_many([record])

    def run(self, requests: Sequence[RunRequest]) -> Mapping[str, RunResult]:
        """Every request's result, keyed by ``custom_id``."""
        check_reachable(self.client)
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(self._one, requests))
        return {r.custom_id: r for r in results}


def judge_caller(runner: Any, model: str) -> Any:
    """A judge-scorer callback that sends its requests through ``runner`` and returns the texts."""

    def call(bodies: Sequence[Mapping[str, Any]]) -> list[str | None]:
        requests = [RunRequest(f"judge-{i}", model, body) for i, body in enumerate(bodies)]
        got = runner.run(requests)
        return [got[r.custom_id].text if r.custom_id in got else None for r in requests]

    return call
