"""A bounded fuzz run over every route: never a 5xx, always the API's error shape, still serving after.

The full campaign (thousands of requests) is ``benchmarks/emulator_fuzz.py``; this is a fixed,
derandomized subset so ``make test`` stays fast and repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings

from clawback.emulator.testing import EmulatorSession, emulator_client

from .fuzzing import HEADERS, Probe, check, request_strategy
from .helpers import body

_SETTINGS = settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[EmulatorSession, httpx2.Client]]:
    with emulator_client() as emu, httpx2.Client(base_url=emu.base_url, timeout=5.0) as http:
        yield emu, http


def _send(http: httpx2.Client, probe: Probe) -> httpx2.Response:
    return http.request(probe.method, probe.path, content=probe.body, headers=HEADERS)


def test_fuzzed_requests_get_answers_the_api_could_give(
    served: tuple[EmulatorSession, httpx2.Client],
) -> None:
    emu, http = served
    problems: list[str] = []

    @_SETTINGS
    @given(request_strategy())
    def probe_once(probe: Probe) -> None:
        response = _send(http, probe)
        problem = check(probe, response.status_code, response.headers, response.content)
        if problem is not None:
            problems.append(problem)
        if probe.path == "/v1/messages/batches" and response.status_code == 200:
            batch_id = response.json()["id"]
            emu.advance(10)
            for path in (f"/v1/messages/batches/{batch_id}", f"/v1/messages/batches/{batch_id}/results"):
                polled = http.get(path, headers=HEADERS)
                problems.extend(
                    p for p in [check(Probe("GET", path), polled.status_code, polled.headers, b"")] if p
                )

    probe_once()
    assert problems == []
    ok = http.post("/v1/messages", json=body(), headers=HEADERS)
    assert ok.status_code == 200 and ok.json()["type"] == "message"
    statuses = emu.state.stats.statuses
    assert sum(n for status, n in statuses.items() if status >= 500) == 0
    assert sum(statuses.values()) >= 250
