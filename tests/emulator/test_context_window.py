"""The context window is enforced alike on Messages, ``count_tokens`` and batch items, through the SDK:
a prompt one token too long is a 400 ``prompt is too long: N tokens > W maximum`` (an ``errored``
item in a batch), never billed and never cached; a prompt that fits is served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from clawback.emulator.config import EmulatorConfig, Limits
from clawback.emulator.testing import EmulatorSession, emulator_client
from clawback.pricing.loader import load_catalogue

from .helpers import OLD_HAIKU, assert_error, shape_of, user

WINDOW = load_catalogue().resolve(OLD_HAIKU).context_window


def _prompt(words: int) -> dict[str, Any]:
    return {"model": OLD_HAIKU, "messages": [user(" ".join(f"w{i % 97}" for i in range(words)))]}


def _around_the_window() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two prompts: the largest that fits ``WINDOW`` and one just over it (found by bisection)."""
    low, high = 1, 2 * WINDOW
    while high - low > 1:
        mid = (low + high) // 2
        if shape_of(_prompt(mid)).total_tokens <= WINDOW:
            low = mid
        else:
            high = mid
    return _prompt(low), _prompt(high)


FITS, TOO_LONG = _around_the_window()


@pytest.fixture(scope="module", params=["on the loop", "offloaded"])
def emu(request: pytest.FixtureRequest) -> Iterator[EmulatorSession]:
    threshold = 1 << 30 if request.param == "on the loop" else 1024
    config = EmulatorConfig(limits=Limits(offload_body_bytes=threshold))
    with emulator_client(config) as session:
        yield session


def _usage(emu: EmulatorSession) -> Any:
    return emu.state.stats.to_json()["usage"], len(emu.state.engine.store)


def test_count_tokens_refuses_a_prompt_over_the_window(emu: EmulatorSession) -> None:
    tokens = shape_of(TOO_LONG).total_tokens
    assert tokens > WINDOW
    before = _usage(emu)
    with pytest.raises(anthropic.BadRequestError) as info:
        emu.client.messages.count_tokens(**TOO_LONG)
    assert_error(
        info.value, 400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {WINDOW} maximum"
    )
    assert emu.client.messages.count_tokens(**FITS).input_tokens == shape_of(FITS).total_tokens <= WINDOW
    assert _usage(emu) == before  # count_tokens bills nothing either way


def test_messages_refuse_it_alike(emu: EmulatorSession) -> None:
    tokens = shape_of(TOO_LONG).total_tokens
    before = _usage(emu)
    with pytest.raises(anthropic.BadRequestError) as info:
        emu.client.messages.create(max_tokens=8, **TOO_LONG)
    assert_error(
        info.value, 400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {WINDOW} maximum"
    )
    assert _usage(emu) == before
    assert emu.client.messages.create(max_tokens=8, **FITS).usage.input_tokens == shape_of(FITS).total_tokens


def test_a_batch_item_over_the_window_ends_errored(emu: EmulatorSession) -> None:
    tokens = shape_of(TOO_LONG).total_tokens
    batch = emu.client.messages.batches.create(
        requests=[
            {"custom_id": "fits", "params": {"max_tokens": 8, **FITS}},
            {"custom_id": "long", "params": {"max_tokens": 8, **TOO_LONG}},
        ]
    )
    emu.advance(10)
    done = emu.client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert done.request_counts.succeeded == 1 and done.request_counts.errored == 1
    results = {r.custom_id: r.result for r in emu.client.messages.batches.results(batch.id)}
    assert results["fits"].type == "succeeded"
    long = results["long"]
    assert long.type == "errored"
    assert long.error.error.type == "invalid_request_error"
    assert long.error.error.message == f"prompt is too long: {tokens} tokens > {WINDOW} maximum"
