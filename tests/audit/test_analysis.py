"""Tasks, each technique on small hand-computed cases, stacking, recommendations and the JSON keys."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clawback.audit.engine import AuditOptions, run_audit
from clawback.audit.results import POLICIES
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


def _capped_line(seconds: float, out: int, limit: int) -> dict[str, Any]:
    body = {"model": "claude-sonnet-5-5", "max_tokens": limit, "messages": [{"role": "user", "content": "x"}]}
    line = log_line(_ts(seconds), "claude-sonnet-5-5", usage(100, out), task="x", request=body)
    line["response"]["stop_reason"] = "max_tokens" if out >= limit else "end_turn"
    return line


def test_output_cap_stops_runaways_that_ran_to_the_limit(tmp_path: Path) -> None:
    # 98 answers of 100-197 tokens finish; 2 run away to the 4,096-token limit
    lines = [_capped_line(i, 100 + i, 4096) for i in range(98)] + [
        _capped_line(500 + i, 4096, 4096) for i in range(2)
    ]
    summary = _audit(tmp_path, lines)
    cap = _technique(summary, "output_cap")
    # p99 of the finished answers is 197, rounded up to 208: each runaway loses 3,888 tokens at $10/MTok
    assert cap.alone == 2 * 3888 * Decimal(10) / 1_000_000
    rec = next(r for r in summary.recommendations if r.technique == "output_cap")
    assert rec.change == 'set "max_tokens": 208 (now 4,096)'
    assert rec.why.startswith("2 calls ran to the limit (cut off anyway)")


def test_output_cap_is_not_suggested_when_the_limit_binds_real_answers(tmp_path: Path) -> None:
    # answers that finish reach 900 of a 1,000-token limit: the 5 cut at the limit needed more room
    lines = [_capped_line(i, 500 + 4 * i, 1000) for i in range(100)] + [
        _capped_line(300 + i, 1000, 1000) for i in range(5)
    ]
    summary = _audit(tmp_path, lines)
    cap = _technique(summary, "output_cap")
    assert cap.alone == 0 and not cap.applies
    assert any(
        "x: 5 of 105 calls stop at max_tokens" in r and "limit cuts real answers" in r for r in cap.reasons
    )


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


def test_clairvoyant_is_a_bound_on_the_demo_sample(sample_summary: AuditSummary) -> None:
    """No replayed policy, nor the calls as logged, costs less than the clairvoyant bound."""
    policies = sample_summary.policies
    logged = sample_summary.caching.logged
    bound = policies["clairvoyant"].cost
    others = [p.cost for name, p in policies.items() if name != "clairvoyant"]
    assert logged is not None and len(others) == len(POLICIES) - 1
    assert all(bound <= cost for cost in [*others, logged.cost])
    assert policies["planner"].cost < policies["none"].cost


USAGE_DAYS = {
    "data": [
        {"starting_at": f"2026-11-{day}T00:00:00Z", "ending_at": f"2026-11-{day + 1}T00:00:00Z", "results": [
            {"uncached_input_tokens": 1_000_000, "output_tokens": 100_000, "model": "claude-haiku-5-5",
             "service_tier": "standard"},
            {"uncached_input_tokens": 1_000, "output_tokens": 10, "model": "claude-nano-9"},
        ]}
        for day in (10, 11)
    ],
    "has_more": False,
}  # fmt: skip


def test_aggregated_usage_report_buckets_window_and_what_it_cannot_evaluate(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(USAGE_DAYS))
    summary = run_audit([str(path)], CATALOGUE)
    spend = summary.spend
    assert (spend.calls, spend.buckets) == (0, 4)
    # two daily buckets: the window runs to the last bucket's end, not its start
    assert (spend.first, spend.last) == (
        datetime(2026, 11, 10, tzinfo=UTC),
        datetime(2026, 11, 12, tzinfo=UTC),
    )
    assert summary.monthly_factor == 15
    haiku = next(r for r in spend.by_model if r.key == "claude-haiku-5-5")
    assert (haiku.calls, haiku.buckets, haiku.usd) == (0, 2, Decimal("0.3"))  # 2 x ($0.10 + $0.05)
    nano = next(r for r in spend.by_model if r.key == "claude-nano-9")
    assert nano.unpriced and nano.to_json()["usd"] is None
    assert any("long-prompt rates" in note for note in summary.issues["notes"])
    assert any("can't be evaluated" in note for note in summary.issues["notes"])
    cap = _technique(summary, "output_cap")
    assert cap.reasons == ("aggregated report: no per-call output lengths, so no cap can be derived",)
    assert not _technique(summary, "cache").applies


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        ("", "auto", "is empty: nothing to audit"),
        ("\n  \n", "jsonl", "is empty: nothing to audit"),
        ('{"timestamp": "2026-11-10T09:00:00Z", "nope": 1}\n', "jsonl", "no API calls found"),
        (json.dumps(log_line("2026-11-10T09:00:00Z", "claude-sonnet-5-5", usage(1, 1))) + "\n", "trace",
         "read as trace: 1 malformed lines; first: "),
    ],
)  # fmt: skip
def test_an_input_without_calls_is_a_one_line_error(
    tmp_path: Path, content: str, fmt: str, message: str
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(content)
    with pytest.raises(InputFileError, match=re.escape(message)):
        run_audit([str(path)], CATALOGUE, AuditOptions(format=fmt))


def test_an_empty_file_among_others_is_noted_not_fatal(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    log = write_lines(
        tmp_path / "log.jsonl", [log_line(_ts(0), "claude-sonnet-5-5", usage(1000, 0), task="a")]
    )
    summary = run_audit([str(empty), str(log)], CATALOGUE)
    assert summary.spend.calls == 1 and f"{empty} is empty" in summary.issues["notes"]


def test_lifecycle_warnings_are_judged_today_with_the_retirement_date() -> None:
    """A model whose 'retires' date has passed is retired now, whatever the logs' dates."""
    from datetime import date

    from clawback.audit.engine import _warnings

    catalogue = load_catalogue()
    last = datetime(2026, 2, 12, tzinfo=UTC)
    models = ["claude-sonnet-4-5-20250929", "claude-3-5-sonnet-20241022", "claude-sonnet-5-5"]
    after = _warnings(catalogue, models, last, today=date(2026, 12, 3))
    assert after == [
        "claude-sonnet-4-5-20250929 was retired on 2026-11-30: the Claude API no longer serves it; move its calls",
        "claude-3-5-sonnet-20241022 was retired on 2025-10-28: the Claude API no longer serves it; move its calls",
    ]
    before = _warnings(catalogue, models[:1], last, today=date(2026, 11, 1))
    assert before == ["claude-sonnet-4-5-20250929 is deprecated and retires on 2026-11-30; plan the move"]
