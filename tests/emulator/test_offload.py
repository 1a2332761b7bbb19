"""The worker process prepares big bodies exactly as inline preparation does, and is replaced if it dies."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest

from clawback.emulator.offload import Offloader
from clawback.emulator.prepare import Job, prepare_batch, prepare_message
from clawback.emulator.wire import ApiError
from clawback.pricing.loader import load_catalogue

from .helpers import body, text, user

CATALOGUE = load_catalogue()
JOB = Job("2023-06-01", date(2026, 12, 1))


def test_the_worker_prepares_what_inline_preparation_prepares_and_survives_its_death() -> None:
    raw = json.dumps(body(system=[text(600, "s", ttl="5m")], messages=[user("What is the answer?")])).encode()
    bad = json.dumps(body(colour="red")).encode()
    inline = prepare_message(raw, JOB, CATALOGUE)

    async def scenario() -> None:
        offload = Offloader(CATALOGUE, threshold=0)  # everything goes to the worker
        try:
            remote = await offload.run(prepare_message, raw, JOB)
            assert remote.shape == inline.shape and remote.params_hash == inline.params_hash
            assert remote.request is not None and remote.request.max_tokens == 32
            refused = await offload.run(prepare_message, bad, JOB)
            assert refused.error == (400, "colour: Extra inputs are not permitted", "invalid_request_error")
            worker = offload._worker
            assert worker is not None
            worker.proc.kill()
            worker.proc.wait()
            again = await offload.run(prepare_message, raw, JOB)  # a new worker answers
            assert again.shape == inline.shape and offload._worker is not worker
        finally:
            offload.close()
        assert offload._worker is None

    asyncio.run(scenario())


def test_errors_raised_in_the_worker_come_back_as_the_same_api_error() -> None:
    async def scenario() -> None:
        offload = Offloader(CATALOGUE, threshold=0)
        try:
            with pytest.raises(ApiError, match="at least one request") as info:
                await offload.run(prepare_batch, b'{"requests": []}', JOB, tail=(10,))
            assert info.value.status == 400 and info.value.error_type == "invalid_request_error"
        finally:
            offload.close()

    asyncio.run(scenario())
