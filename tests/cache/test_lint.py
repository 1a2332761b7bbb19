"""The volatile-text detectors and the linter, on plain request bodies."""

from __future__ import annotations

from typing import Any

import pytest

from clawback.cache.lint import lint_request
from clawback.cache.lint_params import parameter_changes
from clawback.cache.volatile import scan_text, volatile_blocks
from tests.cache.support import OPUS_46, SONNET_55, body, count, text, user


@pytest.mark.parametrize(
    ("sample", "kind", "severity"),
    [
        ("Now: 2026-11-25T09:41:07Z", "timestamp", "per-call"),
        ("request 3f2b8c1e-9d4a-4b7e-8f00-1a2b3c4d5e6f", "uuid", "per-call"),
        ("trace req_01HXYZAB12CD34", "request id", "per-call"),
        ("epoch 1764063667", "unix time", "per-call"),
        ("it is 09:41 am", "time of day", "per-call"),
        ("commit 9f86d081884c7d659a2feaa0", "hex id", "per-call"),
        ("user_id: 48213", "per-user detail", "per-user"),
        ("write to alice@example.com", "email address", "per-user"),
        ("Today is November 25, 2026.", "date", "daily"),
        ("as of 2026-11-25", "date", "daily"),
    ],
)
def test_detectors_name_what_changes_and_how_often(sample: str, kind: str, severity: str) -> None:
    findings = scan_text(sample)
    assert findings and findings[0].kind == kind and findings[0].severity == severity


def test_a_timestamp_is_one_finding_not_also_a_date_and_a_time() -> None:
    assert [f.kind for f in scan_text("at 2026-11-25 09:41")] == ["timestamp"]
    assert scan_text("You are a helpful assistant. Answer in English.") == ()


def test_only_tools_and_system_are_scanned_and_results_are_memoised() -> None:
    request = body(
        [text(10, "s"), {"type": "text", "text": "session sess_ABCDEFGH12"}],
        [user("the time is 10:42")],
        tools=[{"name": "t", "description": "Today is 2026-11-25", "input_schema": {}}],
    )
    memo: dict[str, Any] = {}
    found = volatile_blocks(request, memo=memo)
    assert set(found) == {0, 2} and found[0][0].severity == "daily" and found[2][0].kind == "request id"
    assert volatile_blocks(request, memo=memo) == found and len(memo) == 3


def lint(request: dict[str, Any], model: Any = SONNET_55, **kwargs: Any):  # type: ignore[no-untyped-def]
    return lint_request(request, model, count=count, **kwargs)


def codes(report: Any) -> list[str]:
    return [f.code for f in report.findings]


def test_a_clean_request_is_explained_block_by_block() -> None:
    report = lint(body([text(2000, "s", ttl="5m")], [user(text(300, "d"), "q")]))
    assert [b.cached for b in report.blocks] == ["yes", "no", "no"]
    assert report.blocks[0].why == "written at the breakpoint, read on repeat"
    assert report.blocks[2].why.startswith("after the last breakpoint")
    assert report.blocks[1].location == "messages[0].content[0]"
    assert report.cached_tokens == report.blocks[0].prefix_tokens and not report.rejected
    assert codes(report) == []


@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        (body([text(600, str(i), ttl="5m") for i in range(5)], [user("q")]), "too_many_breakpoints"),
        (
            body(
                [text(600, str(i), ttl="5m") for i in range(4)],
                [user("q")],
                cache_control={"type": "ephemeral"},
            ),
            "auto_no_slot",
        ),
        (body([text(600, "a", ttl="5m"), text(600, "b", ttl="1h")], [user("q")]), "ttl_order"),
        (
            body([text(600, "a")], [user(text(10, "q", ttl="1h"))], cache_control={"type": "ephemeral"}),
            "auto_ttl_conflict",
        ),
        (
            body(
                None,
                [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}],
                    }
                ],
            ),
            "uncacheable_marked",
        ),
    ],
    ids=["fifth-breakpoint", "auto-without-slot", "1h-after-5m", "auto-ttl-conflict", "empty-block"],
)
def test_requests_the_api_rejects_are_errors(request_body: dict[str, Any], code: str) -> None:
    report = lint(request_body)
    assert code in codes(report) and report.rejected


def test_below_minimum_is_a_warning_that_names_the_model() -> None:
    report = lint(body([text(2000, "s", ttl="5m")], [user("q")]), OPUS_46)
    (finding,) = [f for f in report.findings if f.code == "below_minimum"]
    assert "claude-opus-4-6" in finding.message and "4,096" in finding.message
    assert report.blocks[0].cached == "no" and report.cached_tokens == 0


def test_volatile_text_ahead_of_a_breakpoint_makes_the_entry_write_only() -> None:
    system = [
        text(2000, "s"),
        {"type": "text", "text": "Now: 2026-11-25T09:41:07Z", "cache_control": {"type": "ephemeral"}},
    ]
    report = lint(body(system, [user("q")]))
    assert "volatile_prefix" in codes(report)
    assert [b.cached for b in report.blocks] == ["write-only", "write-only", "no"]
    assert report.cached_tokens == 0 and report.suggested == {0: "5m"}


def test_a_breakpoint_twenty_blocks_after_the_previous_one_is_flagged() -> None:
    blocks = [text(40, f"b{i}") for i in range(25)]
    blocks[0]["cache_control"] = {"type": "ephemeral"}
    blocks[24]["cache_control"] = {"type": "ephemeral"}
    report = lint(body([text(1000, "s")], [{"role": "user", "content": blocks}]))
    assert "lookback" in codes(report)


def test_no_breakpoints_gets_a_suggestion() -> None:
    report = lint(body([text(2000, "s")], [user(text(900, "d"), "q")]))
    assert "no_breakpoints" in codes(report) and 0 in report.suggested
    assert report.blocks[0].suggested == "5m"


@pytest.mark.parametrize(
    ("change", "name", "levels"),
    [
        ({"tools": [{"name": "x", "input_schema": {}}]}, "tool definitions", "tools, system and messages"),
        ({"system": "other"}, "system prompt", "system and messages"),
        ({"speed": "fast"}, "speed", "system and messages"),
        ({"tool_choice": {"type": "any"}}, "tool_choice", "messages"),
        ({"thinking": {"type": "adaptive"}}, "thinking", "messages"),
        ({"output_config": {"effort": "low"}}, "output_config.effort", "messages"),
        (
            {"output_config": {"format": {"type": "json_schema", "schema": {}}}},
            "output_config.format",
            "prompt",
        ),
        ({"model": "claude-opus-5-5"}, "model", "whole cache"),
        (
            {"messages": [user("q"), {"role": "user", "content": [{"type": "image", "source": {}}]}]},
            "images (added or removed)",
            "messages",
        ),
    ],
)
def test_parameter_changes_name_the_levels_they_invalidate(
    change: dict[str, Any], name: str, levels: str
) -> None:
    before = body("be brief", [user("q")])
    changes = dict(parameter_changes(before, {**before, **change}))
    assert name in changes and levels in changes[name]


def test_effort_set_to_the_model_default_is_not_a_change() -> None:
    before = body("be brief", [user("q")])
    assert parameter_changes(before, {**before, "output_config": {"effort": "high"}}) == []


def test_previous_request_shows_where_the_prefix_diverges() -> None:
    before = body([text(2000, "s", ttl="5m")], [user("first")])
    after = body([text(2000, "s", ttl="5m")], [user("second")], tool_choice={"type": "auto"})
    report = lint(after, previous=before)
    assert "param_change" in codes(report)
    (diverged,) = [f for f in report.findings if f.code == "prefix_changed"]
    assert diverged.position == 1 and "up to position 0" in diverged.message


def test_json_form_carries_every_block_and_finding() -> None:
    data = lint(body([text(2000, "s", ttl="5m")], [user("q")]), OPUS_46).to_json()
    assert data["model"] == "claude-opus-4-6" and data["min_cacheable_tokens"] == 4096
    assert len(data["blocks"]) == 2 and data["findings"][0]["code"] == "below_minimum"
