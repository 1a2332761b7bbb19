"""Real public data in ../shared/data: Claude Code transcripts priced to a hand-checked total, Mooncake traces."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clawback.audit.engine import AuditOptions, run_audit
from clawback.audit.results import POLICIES
from clawback.pricing import load_catalogue
from tests.conftest import shared_file

pytestmark = pytest.mark.shared_data
CATALOGUE = load_catalogue()
HAND_CHECKED_TOTAL = Decimal("51.74634805")
RELAYED_ONLY = Decimal("0.0381633")
"""The 5 Haiku calls of a subagent whose own transcript is not in the data: only its parent's
progress lines relay them."""


def _transcripts() -> list[Path]:
    spotter = shared_file("data", "claude-code-transcripts-spotter")
    fasthooks = shared_file("data", "claude-code-transcripts-fasthooks")
    files = sorted(spotter.rglob("*.jsonl"))
    files += [fasthooks / "sample_main_transcript.jsonl", fasthooks / "sample_agent_sidechain.jsonl"]
    return files


def _usage_lines(
    files: list[Path],
) -> tuple[list[tuple[tuple[str, str], str, str, dict[str, int]]], list[Any]]:
    """(direct, relayed) usage lines: (message id, request id), model, timestamp, usage."""
    direct, relayed = [], []
    for path in files:
        for raw in path.read_text("utf-8").splitlines():
            line = json.loads(raw)
            message = line.get("message")
            if isinstance(message, dict) and "usage" in message:
                direct.append(
                    (
                        (message["id"], line["requestId"]),
                        message["model"],
                        line["timestamp"],
                        message["usage"],
                    )
                )
            inner = (line.get("data") or {}).get("message") if line.get("type") == "progress" else None
            if (
                isinstance(inner, dict)
                and isinstance(inner.get("message"), dict)
                and "usage" in inner["message"]
            ):
                m = inner["message"]
                relayed.append(((m["id"], inner["requestId"]), m["model"], inner["timestamp"], m["usage"]))
    return direct, relayed


def _hand_total(files: list[Path]) -> tuple[int, Decimal, int, Decimal]:
    """The transcripts' cost with plain Decimal arithmetic: one call per (message id, request id),
    its usage from the line with the most output tokens, its date from the first line; then the
    subagent calls only relayed in a parent's progress lines, the same way.

    Returns (calls, total) without and with those relayed calls."""
    direct, relayed = _usage_lines(files)

    def calls_of(lines: Any) -> dict[tuple[str, str], tuple[str, str, dict[str, int]]]:
        calls: dict[tuple[str, str], tuple[str, str, dict[str, int]]] = {}
        for key, model, stamp, use in lines:
            if key not in calls:
                calls[key] = (model, stamp[:10], use)
            elif use["output_tokens"] > calls[key][2]["output_tokens"]:
                calls[key] = (calls[key][0], calls[key][1], use)
        return calls

    def cost(calls: dict[tuple[str, str], tuple[str, str, dict[str, int]]]) -> Decimal:
        total = Decimal(0)
        for model, day, use in calls.values():
            r = CATALOGUE.resolve(model).rates_at(date.fromisoformat(day))
            split = use.get("cache_creation") or {}
            total += (
                use["input_tokens"] * r.input
                + split.get("ephemeral_5m_input_tokens", 0) * r.cache_write_5m
                + split.get("ephemeral_1h_input_tokens", 0) * r.cache_write_1h
                + use["cache_read_input_tokens"] * r.cache_read
                + use["output_tokens"] * r.output
            ) / Decimal(1_000_000)
        return total

    own = calls_of(direct)
    only_relayed = {k: v for k, v in calls_of(relayed).items() if k not in own}
    return len(own), cost(own), len(own) + len(only_relayed), cost(own) + cost(only_relayed)


def test_claude_code_transcripts_price_every_call_to_the_hand_checked_total() -> None:
    files = _transcripts()
    calls, hand, all_calls, all_hand = _hand_total(files)
    assert (calls, hand) == (912, HAND_CHECKED_TOTAL)
    assert (all_calls, all_hand - hand) == (917, RELAYED_ONLY)
    summary = run_audit([str(f) for f in files], CATALOGUE)
    data = summary.to_json()
    assert data["calls"] == 917 and data["unpriced_calls"] == 0
    assert summary.spend.total == HAND_CHECKED_TOTAL + RELAYED_ONLY
    assert data["input_issues"]["malformed"] == 0
    skipped = data["input_issues"]["skipped"]
    assert skipped["repeated line of an API call already counted"] == 1853 - 912
    assert set(data["by_task"]) == {"claude-code/main", "claude-code/subagent", "claude-code/compaction"}
    assert not summary.techniques[2].applies  # caching: transcripts carry no system prompt or tools


def test_mooncake_trace_policies_and_hit_rates() -> None:
    trace = shared_file("data", "mooncake", "synthetic_trace.jsonl")
    options = AuditOptions(trace_model="claude-sonnet-5-5", trace_start=datetime(2026, 11, 1, tzinfo=UTC))
    summary = run_audit([str(trace)], CATALOGUE, options)
    policies = summary.policies
    assert set(policies) == set(POLICIES)
    assert all(p.calls == 3993 for p in policies.values())
    assert policies["none"].hit_rate == 0 and policies["none"].cost == summary.spend.total
    assert 0 < policies["planner"].hit_rate < 1 and 0 < policies["clairvoyant"].hit_rate < 1
    assert policies["planner"].cost < policies["none"].cost
    assert policies["clairvoyant"].cost < policies["none"].cost
    cache = next(t for t in summary.techniques if t.name == "cache")
    assert cache.applies and cache.alone == policies["none"].cost - policies["planner"].cost
    assert "policies" in summary.to_json()


AZURE_ROWS = {"code": 8_819, "conv": 19_366}
"""Data rows of the two Azure 2023 traces: every line but the header (the files end without a
newline, so ``wc -l`` shows one line fewer: 8,819 and 19,366)."""


def _azure_by_hand(path: Path, model: str) -> tuple[int, Decimal]:
    """Rows and cost with plain Decimal arithmetic: context tokens as uncached input plus generated
    tokens as output, at the catalogue's rates for each row's date."""
    info = CATALOGUE.resolve(model)
    rows, total = 0, Decimal(0)
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(handle).strip()
        assert header == "TIMESTAMP,ContextTokens,GeneratedTokens"
        for raw in handle:
            stamp, context, generated = raw.strip().split(",")
            rates = info.rates_at(date.fromisoformat(stamp[:10]))
            total += (int(context) * rates.input + int(generated) * rates.output) / Decimal(1_000_000)
            rows += 1
    return rows, total


def test_azure_llm_inference_traces_audit_every_row_at_the_plain_total() -> None:
    files = {n: shared_file("data", "azure-llm-2023", f"AzureLLMInferenceTrace_{n}.csv") for n in AZURE_ROWS}
    by_hand = {n: _azure_by_hand(p, "claude-sonnet-5-5") for n, p in files.items()}
    assert {n: rows for n, (rows, _) in by_hand.items()} == AZURE_ROWS
    summary = run_audit([str(files["code"]), str(files["conv"])], CATALOGUE)
    data = summary.to_json()
    assert [(i["format"], i["records"]) for i in data["inputs"]] == [
        ("token-csv", AZURE_ROWS["code"]),
        ("token-csv", AZURE_ROWS["conv"]),
    ]
    assert data["calls"] == sum(AZURE_ROWS.values()) == 28_185 and data["unpriced_calls"] == 0
    assert data["input_issues"]["malformed"] == 0
    assert summary.spend.total == sum((t for _, t in by_hand.values()), Decimal(0))
    assert summary.spend.first is not None and summary.spend.first.date() == date(2023, 11, 16)
    cache = next(t for t in summary.techniques if t.name == "cache")
    assert not cache.applies and any("request data" in r for r in cache.reasons)
    notes = data["input_issues"]["notes"]
    assert any("prompt caching can't be evaluated" in n for n in notes)
    assert any("dated before its first published rates" in n for n in notes)


def test_other_csv_files_in_the_shared_data_are_not_taken_for_token_traces() -> None:
    from clawback.audit.readers import detect_format
    from clawback.errors import InputFileError

    responses = shared_file("data", "routellm-evals", "gsm8k", "gsm8k_responses.csv")
    with pytest.raises(InputFileError, match="can't tell the format"):
        detect_format(responses)
