"""Request validation, table-driven, on plain values."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from clawback.emulator.params import check_version, parse_message_request
from clawback.emulator.wire import ApiError
from clawback.pricing.loader import load_catalogue

TODAY = date(2026, 11, 25)
CAT = load_catalogue()


def ok(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-haiku-5-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def parse(body: Any, **kw: Any) -> Any:
    return parse_message_request(body, CAT, today=kw.pop("today", TODAY), **kw)


@pytest.mark.parametrize(
    ("body", "kw", "status", "fragment"),
    [
        (ok(model="claude-haiku-3-5"), {}, 404, "model: claude-haiku-3-5"),
        (ok(model="claude-3-5-haiku-20241022"), {}, 404, "retired"),
        (ok(model=7), {}, 400, "model"),
        (
            {"model": "claude-haiku-5-5", "messages": [{"role": "user", "content": "hi"}]},
            {},
            400,
            "max_tokens: Field required",
        ),
        (ok(max_tokens=None), {}, 400, "max_tokens: Input should be a valid integer"),
        (ok(max_tokens=True), {}, 400, "integer"),
        (ok(max_tokens=0), {"in_batch": True}, 400, "greater than or equal to 1"),
        (ok(stream=True), {"in_batch": True}, 400, "stream"),
        (ok(stream="yes"), {}, 400, "boolean"),
        (ok(messages=[]), {}, 400, "at least one"),
        (ok(system=5), {}, 400, "system"),
        (ok(tools={"name": "x"}), {}, 400, "tools"),
        (ok(stop_sequences=[""]), {}, 400, "stop_sequences"),
        (ok(temperature=1.0), {"version": "2026-10-21"}, 400, "temperature"),
        (ok(thinking={"type": "enabled", "budget_tokens": 1024}), {}, 400, "adaptive"),
        (ok(speed="fast"), {}, 400, "speed"),
        (ok(service_tier="priority"), {}, 400, "service_tier"),
        (ok(max_tokens=0, tool_choice={"type": "any"}), {}, 400, "tool_choice"),
        (ok(max_tokens=0, thinking={"type": "adaptive"}), {}, 400, "thinking"),
        (ok(max_tokens=0, output_config={"format": {"type": "json_schema"}}), {}, 400, "format"),
        ("not an object", {}, 400, "JSON object"),
        (
            ok(system=[{"type": "text", "text": "x", "cache_control": {"type": "persistent"}}]),
            {},
            400,
            "system.0.cache_control.type",
        ),
        (ok(cache_control={"type": "ephemeral", "ttl": "10m"}), {}, 400, "cache_control.ttl"),
        (
            ok(tools=[{"name": "t", "input_schema": {"type": "object"}, "cache_control": "yes"}]),
            {},
            400,
            "tools.0.cache_control",
        ),
        (ok(messages=[{"role": ["user"], "content": "x"}]), {}, 400, "messages.0.role"),
        (
            ok(messages=[{"role": "user", "content": [{"type": "text"}]}]),
            {},
            400,
            "messages.0.content.0.text",
        ),
        (ok(tools=[{"description": "no name"}]), {}, 400, "tools.0.name"),
        (ok(tool_choice={"type": "sometimes"}), {}, 400, "tool_choice: Input tag 'sometimes'"),
        (ok(tool_choice={"type": "tool"}), {}, 400, "tool_choice.tool.name: Field required"),
        (ok(output_config={"effort": "extreme"}), {}, 400, "output_config.effort"),
        (ok(output_config={"format": "json"}), {}, 400, "output_config.format"),
        (ok(model="claude-haiku-4-5-20251001", inference_geo="global"), {}, 400, "inference_geo"),
        (ok(speed="ludicrous"), {}, 400, "speed"),
        (ok(model="claude-opus-5-5", speed="fast"), {"in_batch": True}, 400, "Message Batches"),
    ],
)
def test_rejections(body: Any, kw: dict[str, Any], status: int, fragment: str) -> None:
    with pytest.raises(ApiError) as info:
        parse(body, **kw)
    assert info.value.status == status and fragment in info.value.message


def test_accepted_request_is_normalised() -> None:
    request = parse(ok(model="claude-haiku-4-5", stop_sequences=["END"]))
    assert request.info.id == "claude-haiku-4-5-20251001" and request.body["model"] == request.info.id
    assert request.stop_sequences == ("END",) and request.max_tokens == 10
    assert parse(ok(temperature=1.0), version="2023-06-01").max_tokens == 10  # allowed before 2026-10-21
    assert parse({"model": "claude-haiku-5-5", "messages": [{"role": "user", "content": "x"}]}, counting=True)


def test_fast_mode_runs_at_standard_speed_on_opus_4_6() -> None:
    # facts §1.4: Opus 4.6 accepts speed "fast" but runs and bills at standard speed
    request = parse(ok(model="claude-opus-4-6", speed="fast"))
    assert request.speed == "standard" and "speed" not in request.body
    assert parse(ok(model="claude-opus-5-5", speed="fast")).speed == "fast"
    with pytest.raises(ApiError, match="not supported for claude-opus-4-7"):
        parse(ok(model="claude-opus-4-7", speed="fast"))


def test_a_deprecated_model_is_refused_once_its_retirement_date_passes() -> None:
    assert parse(ok(model="claude-sonnet-4-5-20250929")).info.id == "claude-sonnet-4-5-20250929"
    with pytest.raises(ApiError) as info:
        parse(ok(model="claude-sonnet-4-5-20250929"), today=date(2026, 11, 30))
    assert info.value.status == 404


def test_prefill_is_allowed_on_models_before_4_6() -> None:
    body = ok(
        model="claude-haiku-4-5-20251001",
        messages=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
    )
    assert parse(body).info.id == "claude-haiku-4-5-20251001"


def test_version_header() -> None:
    assert check_version("2026-10-21") == "2026-10-21"
    for bad in (None, "", "2024-01-01"):
        with pytest.raises(ApiError):
            check_version(bad)
