"""Request builders and assertions shared by the emulator tests."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from clawback.pricing.loader import load_catalogue
from clawback.shapes import RequestShape, request_shape

HAIKU = "claude-haiku-5-5"  # 512-token minimum, newer tokenizer
OLD_HAIKU = "claude-haiku-4-5-20251001"  # 4,096-token minimum


def text(words: int, tag: str = "w", ttl: str | None = None) -> dict[str, Any]:
    """A text block of ``words`` distinct-ish words, optionally a cache breakpoint."""
    block: dict[str, Any] = {"type": "text", "text": " ".join(f"{tag}{i % 10}" for i in range(words))}
    if ttl is not None:
        block["cache_control"] = {"type": "ephemeral", **({"ttl": "1h"} if ttl == "1h" else {})}
    return block


def user(content: Any) -> dict[str, Any]:
    """A user message."""
    return {"role": "user", "content": content}


def body(**params: Any) -> dict[str, Any]:
    """A Messages body with defaults (Haiku 5.5, 32 max tokens, one user message)."""
    out: dict[str, Any] = {"model": HAIKU, "max_tokens": 32, "messages": [user("What is the answer?")]}
    out.update(params)
    return out


def shape_of(params: dict[str, Any]) -> RequestShape:
    """The shape the emulator computes for ``params`` (Haiku 5.5 uses the newer tokenizer)."""
    return request_shape(params, tokenizer=load_catalogue().resolve(params["model"]).tokenizer)


def assert_error(exc: Any, status: int, error_type: str, *fragments: str) -> None:
    """An SDK APIStatusError (or raw response) carrying the documented error shape."""
    response = exc if hasattr(exc, "status_code") and not hasattr(exc, "response") else exc.response
    assert response.status_code == status
    data = response.json()
    assert set(data) == {"type", "error", "request_id"}
    assert data["type"] == "error" and data["error"]["type"] == error_type
    assert data["request_id"].startswith("req_") and response.headers["request-id"] == data["request_id"]
    for fragment in fragments:
        assert fragment in data["error"]["message"], (fragment, data["error"]["message"])


def assert_refused_and_not_billed(emu: Any, params: dict[str, Any], message: str) -> None:
    """Messages and count_tokens both answer 400 naming ``message``, and nothing is billed."""
    usage = json.dumps(emu.state.stats.to_json()["usage"])
    with pytest.raises(anthropic.BadRequestError) as caught:
        emu.client.messages.create(**params)
    assert_error(caught.value, 400, "invalid_request_error", message)
    counted = {k: v for k, v in params.items() if k != "max_tokens"}
    with pytest.raises(anthropic.BadRequestError) as counting:
        emu.client.messages.count_tokens(**counted)
    assert_error(counting.value, 400, "invalid_request_error", message)
    assert json.dumps(emu.state.stats.to_json()["usage"]) == usage
