"""The client's hot-path shortcuts give exactly what the plain code paths give.

Shapes hash the same as before the shortcuts (golden hashes, so ledger rows written earlier still
match), salts and digests equal their straightforward forms, ``with_marks`` equals
``with_breakpoints``, the planner without explanations places the same breakpoints, the
volatile-text shortcut finds what the general scan finds, and the ledger's time format is unchanged.
"""

from __future__ import annotations

import decimal
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from clawback import shapes
from clawback.cache.economics import realized_saving
from clawback.cache.history import PrefixHistory
from clawback.cache.plan import with_marks
from clawback.cache.planner import plan_breakpoints
from clawback.cache.rules import CacheEngine
from clawback.cache.volatile import volatile_blocks
from clawback.client.output_policy import OutputPolicy, OutputPolicySettings
from clawback.errors import PricingError
from clawback.ledger.record import format_ts
from clawback.pricing.cost import Usage, format_usd, price_usage
from clawback.shapes import request_shape, shape_from_hash_blocks
from tests.cache.support import CATALOGUE, SONNET_55

GOLDEN_BODIES: list[dict[str, Any]] = [
    {
        "model": "claude-sonnet-5-5",
        "system": "You are terse. " * 80,
        "messages": [{"role": "user", "content": "hi"}],
    },
    {
        "model": "claude-opus-5-5",
        "tools": [
            {"name": "get", "description": "d", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": {"type": "auto"},
        "speed": "fast",
        "output_config": {"effort": "low"},
        "system": [{"type": "text", "text": "policy " * 200, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "doc"},
                        "citations": {"enabled": True},
                    },
                    {"type": "text", "text": "q"},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "get", "input": {"b": 1, "a": 2}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                            }
                        ],
                    }
                ],
            },
        ],
    },
    {
        "model": "claude-haiku-5-5",
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": "x" * 600}],
    },
]
# Computed by the shape code before the hot-path shortcuts existed.
GOLDEN_HASHES = [
    ["8c74574019688e6556d04d9a", "8e7411b8da1355ab1287867a"],
    [
        "f0b8a93bcaa1a6e65f560b4c",
        "746aff9cd6a71832d0a32c32",
        "058a0ab2e3cccfa2533b7154",
        "4b64e05cbfb1b5c44e00fd25",
        "70ac0d5dac1dee5b7d240b7e",
        "76ba485e2843690da2fa5935",
        "763a291a1b8ff797866ad9df",
    ],
    ["1ce3c11e1b3380c4a8aca278"],
]


@pytest.mark.parametrize(("body", "expected"), list(zip(GOLDEN_BODIES, GOLDEN_HASHES, strict=True)))
def test_prefix_hashes_are_unchanged(body: dict[str, Any], expected: list[str]) -> None:
    for _ in range(2):  # the second time through the memos
        assert [b.prefix_hash for b in request_shape(body).blocks] == expected


def _reference_digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


@pytest.mark.parametrize("parts", [(), ("a",), ("text", "héllo \ud800"), ("x", "", ""), ("long " * 500,)])
def test_digest_equals_the_part_by_part_form(parts: tuple[str, ...]) -> None:
    assert shapes._digest(*parts) == _reference_digest(*parts)


def test_long_text_digests_are_remembered_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shapes, "_TEXT_MEMO", {})
    monkeypatch.setattr(shapes, "_text_memo_chars", 0)
    monkeypatch.setattr(shapes, "_TEXT_MEMO_MAX_CHARS", 3000)
    texts = [f"{i} " + "x" * 1000 for i in range(5)]
    for t in texts:
        assert shapes._text_digest(t) == _reference_digest("text", t)
    assert shapes._text_memo_chars <= 3000 and len(shapes._TEXT_MEMO) <= 3
    assert shapes._text_digest("short") == _reference_digest("text", "short")
    assert "short" not in shapes._TEXT_MEMO


def _reference_salts(body: dict[str, Any]) -> tuple[str, str]:
    tools = body.get("tools") or ()
    web = sorted(str(t.get("type")) for t in tools if "web_search" in str(t.get("type")))
    blocks = [
        b
        for m in body.get("messages") or ()
        for b in ([{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"])
    ]
    citations = any(isinstance(b.get("citations"), dict) and b["citations"].get("enabled") for b in blocks)
    images = any(
        b.get("type") == "image"
        or (
            b.get("type") == "tool_result"
            and isinstance(b.get("content"), list)
            and any(c.get("type") == "image" for c in b["content"])
        )
        for b in blocks
    )
    system = json.dumps(
        {"speed": body.get("speed") or "standard", "web": web, "citations": citations}, sort_keys=True
    )
    config = body.get("output_config") or {}
    effort = config.get("effort")
    if effort == {"claude-opus-5-5": "medium", "claude-haiku-5-5": "medium"}.get(body["model"], "high"):
        effort = None
    messages = json.dumps(
        {
            "tool_choice": shapes._canonical(body.get("tool_choice")),
            "thinking": shapes._canonical(body.get("thinking")),
            "images": images,
            "effort": effort,
            "format": shapes._canonical(config.get("format")),
        },
        sort_keys=True,
    )
    return system, messages


@pytest.mark.parametrize("body", [*GOLDEN_BODIES, {"model": "claude-opus-5-5", "messages": []}])
def test_salts_equal_their_plain_json(body: dict[str, Any]) -> None:
    for _ in range(2):
        assert (shapes._system_salt(body), shapes._messages_salt(body, body["model"])) == _reference_salts(
            body
        )


def test_with_marks_equals_with_breakpoints() -> None:
    shape = request_shape(GOLDEN_BODIES[1])
    for marks in ({}, {0: "1h"}, {1: "5m", 4: "5m"}, {6: "1h"}):
        assert with_marks(shape, marks, auto="5m") == shape.with_breakpoints(marks, auto="5m")  # type: ignore[arg-type]


def test_marked_blocks_are_remembered_by_identity_within_a_bound() -> None:
    from clawback.cache import plan

    shape = request_shape(GOLDEN_BODIES[1])
    block = shape.blocks[0]
    five, hour = plan._marked(block, "5m"), plan._marked(block, "1h")
    assert five.cache_ttl == "5m" and hour.cache_ttl == "1h" and plan._marked(block, "5m") is five
    other = shapes.BlockShape(
        **{**{f: getattr(block, f) for f in block.__slots__}, "tokens": block.tokens + 1}
    )
    assert plan._marked(other, "5m").tokens == block.tokens + 1  # another block, another answer
    for i in range(plan._MARKED_LIMIT + 10):
        plan._marked(shapes.BlockShape("messages", i, "text", "c", "p", i), "5m")
    assert len(plan._MARKED) <= plan._MARKED_LIMIT


def test_the_planner_places_the_same_breakpoints_without_explanations() -> None:
    history, engine = PrefixHistory(), CacheEngine()
    convo: list[int] = []
    for turn in range(40):
        convo += [1000 + 3 * turn + k for k in range(3)]
        ids = [1, 2, 3, *convo] if turn % 3 else [1, 2, 3, 500 + turn]
        at = 45.0 * turn
        shape = shape_from_hash_blocks(SONNET_55.id, ids, len(ids) * 512)
        full = plan_breakpoints(shape, SONNET_55, history, now=at)
        quick = plan_breakpoints(shape, SONNET_55, history, now=at, explain=False)
        assert (quick.marks, quick.added, quick.expected_read, quick.keepalive, quick.worst_extra_usd) == (
            full.marks,
            full.added,
            full.expected_read,
            full.keepalive,
            full.worst_extra_usd,
        )
        assert full.decisions and not quick.decisions
        sent = full.apply_to(shape)
        outcome = engine.process(sent, workspace="default", min_tokens=512, start=at)
        history.observe(sent, outcome, at, info=SONNET_55)


@pytest.mark.parametrize(
    "body",
    [
        {"system": "Today is 2026-11-25T09:30:00Z. Be brief.", "messages": []},
        {"system": "Be brief.", "messages": [{"role": "user", "content": "at 2026-11-25T09:30:00Z"}]},
        {"system": "", "messages": []},
        {"tools": [{"name": "t", "description": "now 2026-11-25T09:30:00Z"}], "system": "Be brief at 12:00."},
    ],
)
def test_the_plain_system_prompt_shortcut_finds_what_the_scan_finds(body: dict[str, Any]) -> None:
    memo: dict[str, Any] = {}
    listed = {**body, "system": [{"type": "text", "text": body["system"]}] if body["system"] else []}
    assert volatile_blocks(body, memo=memo) == volatile_blocks(listed) == volatile_blocks(body, memo=memo)


@pytest.mark.parametrize(
    "ts",
    [
        datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 9, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_ledger_time_text_is_unchanged(ts: datetime) -> None:
    assert format_ts(ts) == ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_remembered_output_cap_follows_new_observations() -> None:
    policy = OutputPolicy(OutputPolicySettings(min_samples=3, percentile=100, margin=1.0, slack_tokens=0))
    for n in (10, 20, 30):
        policy.observe("t", n, "end_turn")
    assert policy.cap("t") == 30
    policy.observe("t", 90, "end_turn")
    assert policy.cap("t") == 90
    for _ in range(4):
        policy.observe("t", 5, "max_tokens")
    assert policy.stats("t").truncation_rate == pytest.approx(4 / 8)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "usage",
    [
        Usage(input_tokens=40, output_tokens=2, cache_read_input_tokens=3200),
        Usage(input_tokens=7, cache_write_5m_input_tokens=120_000, cache_write_1h_input_tokens=9),
        Usage(input_tokens=7, cache_read_input_tokens=900, service_tier="batch"),
        Usage(input_tokens=7, cache_read_input_tokens=900, inference_geo="us"),
        Usage(input_tokens=7, cache_read_input_tokens=900, speed="fast"),
    ],
)
@pytest.mark.parametrize("model", ["claude-haiku-5-5", "claude-opus-4-6", "claude-sonnet-5-5"])
def test_the_saving_shortcut_equals_pricing_both_sides(usage: Usage, model: str) -> None:
    info = CATALOGUE.resolve(model)
    plain = Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        service_tier=usage.service_tier,
        inference_geo=usage.inference_geo,
        speed=usage.speed,
    )
    try:
        expected = price_usage(plain, info).input_total - price_usage(usage, info).input_total
    except PricingError:
        return  # e.g. fast mode on a model without it
    assert realized_saving(usage, info) == expected


@pytest.mark.parametrize("amount", ["0", "-0", "0E-8", "0.000", "1E+2", "0.00008", "-0.5", "12.345000"])
def test_money_text_is_unchanged(amount: str) -> None:
    value = Decimal(amount)
    text = format(value.normalize(decimal.Context(prec=60)), "f")
    whole, _, frac = text.partition(".")
    assert format_usd(value) == f"{whole}.{frac.ljust(2, '0')}"
