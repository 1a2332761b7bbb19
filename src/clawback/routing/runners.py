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

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic

from clawback.errors import UsageError
from clawback.pricing.cost import parse_usage
from clawback.reachable import check_reachable
from clawback.redact import redact
from clawback.routing.cascade import response_text
from clawback.routing.evaluate import RunRequest, RunResult
from clawback.settings import Settings

__all__ = ["MessagesRunner", "check_reachable", "judge_caller", "sdk_client"]


def sdk_client(settings: Settings, *, max_retries: int = 2) -> anthropic.Anthropic:
    """The official SDK client for ``settings`` (API key and base URL, e.g. the emulator's)."""
    if settings.api_key is None:
        raise UsageError("set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL to use the emulator)")
    return anthropic.Anthropic(
        api_key=settings.api_key.reveal(), base_url=settings.base_url, max_retries=max_retries
    )


class MessagesRunner:
    """Runs requests one Messages call each, ``workers`` at a time, through an SDK client."""

    def __init__(self, client: anthropic.Anthropic, *, workers: int = 4) -> None:
        self.client = client
        self.workers = max(1, workers)

    def _one(self, request: RunRequest) -> RunResult:
        try:
            message = self.client.messages.create(**dict(request.body))
        except anthropic.APIError as exc:
            return RunResult(request.custom_id, error=redact(f"{type(exc).__name__}: {exc}".splitlines()[0]))
        return RunResult(request.custom_id, text=response_text(message), usage=parse_usage(message.usage))

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
