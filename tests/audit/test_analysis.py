"""Tasks, each technique on small hand-computed cases, stacking, recommendations and the JSON keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clawback.audit.engine import AuditOptions, run_audit
from clawback.audit.rules import AuditRules, TaskRule, load_rules
from clawback.audit.summary import AuditSummary
from clawback.errors import InputFileError
from clawback.pricing import load_catalogue
from tests.audit.helpers import log_line, usage, write_lines

CATALOGUE = load_catalogue()
T0 = datetime(2026, 11, 10, 9, tzinfo=UTC)


def _ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def _audit(tmp_path: Path, lines: list[Any], rules: AuditRules | None = None, **options: Any) -> AuditSummary:
    path = write_lines(tmp_path / "log.jsonl", lines)
    return run_audit([str(path)], CATALOGUE, AuditOptions(rules=rules or AuditRules(), **options))


def _technique(summary: AuditSummary, name: str) -> Any:
    return next(t for t in summary.techniques if t.name == name)


def test_batch_halves_latency_tolerant_tasks(tmp_path: Path) -> None:
    lines = [log_line(_ts(i * 600), "claude-sonnet-5-5", usage(1000, 500), task="nightly") for i in range(2)]
    lines.append(log_line(_ts(60), "claude-sonnet-5-5", usage(1000, 500), task="chat"))
    rules = AuditRules(tasks={"nightly": TaskRule(latency_tolerant=True)})
    summary = _audit(tmp_path, lines, rules)
    assert summary.spend.total == Decimal("0.021")  # 3 x (1000 x $2 + 500 x $10) / MTok
    batch = _technique(summary, "batch")
    assert batch.alone == batch.stacked == Decimal("0.007")
    assert batch.by_task == {"nightly": Decimal("0.007")}
    assert summary.stacked_total == Decimal("0.014")


def test_a_call_labelled_latency_tolerant_is_batched_without_a_rule(tmp_path: Path) -> None:
    lines = [
        log_line(_ts(0), "claude-sonnet-5-5", usage(1000, 500), task="t", latency_tolerant=True),
        log_line(_ts(9), "claude-sonnet-5-5", usage(1000, 500), task="t"),
    ]
    assert _technique(_audit(tmp_path, lines), "batch").alone == Decimal("0.0035")


def test_routing_prices_cleared_tasks_on_the_target(tmp_path: Path) -> None:
    lines = [log_line(_ts(i), "claude-sonnet-5-5", usage(1000, 10), task="triage") for i in range(4)]
    lines.append(log_line(_ts(9), "claude-sonnet-4-5-20250929", usage(1000, 10), task="triage"))
    rules = AuditRules(tasks={"triage": TaskRule(route_to="claude-haiku-5-5", route_source="test")})
    summary = _audit(tmp_path, lines, rules)
    route = _technique(summary, "route")
    # Sonnet 5.5: 1000 x $2 + 10 x $10 = $0.0021; Haiku 5.5: 1000 x $0.10 + 10 x $0.50 = $0.000105
    # Sonnet 4.5: 1000 x $3 + 10 x $15 = $0.00315; on Haiku 5.5's tokenizer 1300 in, 13 out = $0.0001365
    expected = 4 * (Decimal("0.0021") - Decimal("0.000105")) + Decimal("0.00315") - Decimal("0.0001365")
    assert route.alone == route.stacked == expected
    rec = next(r for r in summary.recommendations if r.technique == "route")
    assert '"model": "claude-haiku-5-5"' in rec.change and rec.effort == "medium"


def test_routing_that_would_cost_more_is_left_out_and_said(tmp_path: Path) -> None:
    lines = [log_line(_ts(i), "claude-haiku-5-5", usage(1000, 10), task="t") for i in range(3)]
    summary = _audit(tmp_path, lines, AuditRules(tasks={"t": TaskRule(route_to="claude-opus-5-5")}))
    route = _technique(summary, "route")
    assert route.alone == 0 and not route.applies
    assert any("would cost more" in reason for reason in route.reasons)


def test_output_cap_from_the_real_distribution(tmp_path: Path) -> None:
    lines = [log_line(_ts(i), "claude-haiku-5-5", usage(100, 100), task="x") for i in range(99)]
    lines.append(log_line(_ts(200), "claude-haiku-5-5", usage(100, 1000), task="x"))
    summary = _audit(tmp_path, lines)
    cap = _technique(summary, "output_cap")
    # p99 of 99 x 100 and 1 x 1000 is 100, rounded up to 112; the one 1000-token answer loses 888 x $0.50/MTok
    assert cap.alone == Decimal("0.000444")
    rec = next(r for r in summary.recommendations if r.technique == "output_cap")
    assert rec.change == 'set "max_tokens": 112'


def _trace(tmp_path: Path, rows: list[dict[str, Any]], **options: Any) -> AuditSummary:
    path = write_lines(tmp_path / "trace.jsonl", rows)
    opts = AuditOptions(trace_model="claude-haiku-5-5", trace_start=T0, **options)
    return run_audit([str(path)], CATALOGUE, opts)


def test_caching_policies_on_a_hand_computed_trace(tmp_path: Path) -> None:
    rows = [
        {"timestamp": 0, "input_length": 1024, "output_length": 0, "hash_ids": [1, 2]},
        {"timestamp": 10_000, "input_length": 1536, "output_length": 0, "hash_ids": [1, 2, 3]},
    ]
    summary = _trace(tmp_path, rows)
    policies = summary.policies
    # none: 2560 uncached tokens at $0.10/MTok
    assert policies["none"].cost == Decimal("0.000256")
    # auto: call 1 writes 1024 (5m, $0.125); call 2 reads 1024 ($0.01) and writes 512 more
    assert policies["auto"].cost == Decimal("0.000128") + Decimal("0.00001024") + Decimal("0.000064")
    assert policies["auto"].hit_rate == pytest.approx(1024 / 2560)
    assert policies["clairvoyant"].cost <= policies["none"].cost
    assert summary.spend.total == policies["none"].cost  # a trace bills nothing: today is no caching


def test_caching_says_why_it_cannot_apply(tmp_path: Path) -> None:
    summary = _audit(tmp_path, [log_line(_ts(0), "claude-sonnet-5-5", usage(100, 10), task="t")])
    cache = _technique(summary, "cache")
    assert not cache.applies and "no call in the input carries request data" in cache.reasons[0]
    short = {"model": "claude-sonnet-5-5", "max_tokens": 50, "system": "Be brief.",
             "messages": [{"role": "user", "content": "hello there"}]}  # fmt: skip
    lines = [
        log_line(_ts(i * 5), "claude-sonnet-5-5", usage(30, 5), task="tiny", request=short) for i in range(6)
    ]
    cache = _technique(_audit(tmp_path, lines), "cache")
    assert not cache.applies
    assert any("below claude-sonnet-5-5's 512-token minimum" in r for r in cache.reasons), cache.reasons


def test_tasks_come_from_labels_then_prompt_templates(tmp_path: Path) -> None:
    system = "You are a careful extraction engine. " * 120
    lines = []
    for i in range(12):
        body = {"model": "claude-haiku-5-5", "max_tokens": 300, "system": system,
                "messages": [{"role": "user", "content": f"document number {i} about invoices and refunds"}]}  # fmt: skip
        lines.append(log_line(_ts(i * 30), "claude-haiku-5-5", usage(800, 50), request=body))
    conversation: list[dict[str, str]] = []
    for turn in range(5):
        conversation.append({"role": "user", "content": f"question {turn} about my order status"})
        body = {"model": "claude-haiku-5-5", "max_tokens": 300, "messages": list(conversation)}
        lines.append(log_line(_ts(500 + turn), "claude-haiku-5-5", usage(50, 20), request=body))
        conversation.append({"role": "assistant", "content": f"answer {turn}"})
    lines.append(
        log_line(_ts(900), "claude-haiku-5-5", usage(800, 50), task="labelled", request=lines[0]["request"])
    )
    summary = _audit(tmp_path, lines)
    tasks = {row.key: row.calls for row in summary.spend.by_task}
    template = next(k for k in tasks if k.startswith("template:"))
    assert tasks == {template: 12, "(no shared template)": 5, "labelled": 1}


def test_json_has_the_documented_keys(tmp_path: Path) -> None:
    lines = [
        log_line(_ts(0), "claude-sonnet-5-5", usage(1000, 10), task="a"),
        log_line(_ts(5), "acme-llm-2", usage(1000, 10), task="b"),
    ]
    data = _audit(tmp_path, lines).to_json()
    for key in (
        "calls",
        "total_usd",
        "unpriced_calls",
        "by_model",
        "by_task",
        "by_day",
        "by_token_kind",
        "savings",
    ):
        assert key in data
    assert data["calls"] == 2 and data["unpriced_calls"] == 1 and data["total_usd"] == "0.0021"
    assert data["unpriced"] == [{"model": "acme-llm-2", "reason": "unknown model", "calls": 1,
                                 "input_tokens": 1000, "output_tokens": 10}]  # fmt: skip
    assert (
        data["by_model"]["acme-llm-2"]["unpriced_calls"] == 1
        and data["by_model"]["acme-llm-2"]["usd"] is None
    )
    assert set(data["savings"]) == {"route", "batch", "cache", "output_cap", "stacked"}
    assert "policies" not in data


def test_since_and_until_filter_calls(tmp_path: Path) -> None:
    lines = [log_line(_ts(i * 86400), "claude-sonnet-5-5", usage(1000, 0), task="a") for i in range(5)]
    summary = _audit(tmp_path, lines, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert summary.spend.calls == 2
    assert summary.issues["skipped"] == {"outside --since/--until": 3}


def test_rules_file_format(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'version = 1\n[defaults]\noutput_cap_percentile = 95\n'
        '[tasks."a"]\nroute_to = "claude-haiku-5-5"\nlatency_tolerant = true\n'
        '[tasks."template:*"]\noutput_cap = false\n'
    )  # fmt: skip
    rules = load_rules(path)
    assert rules.for_task("a") == TaskRule("claude-haiku-5-5", "rules file rules.toml", True, True, 95)
    assert rules.for_task("template:1234").output_cap is False
    assert rules.for_task("other").output_cap_percentile == 95
    path.write_text('[tasks."a"]\nroute = "x"\n')
    with pytest.raises(InputFileError, match=r"tasks\.a\.route"):
        load_rules(path)
