"""Audit the real public data in ../shared/data: Claude Code transcripts and the Mooncake traces.

* Claude Code (spotter and fasthooks transcripts): calls after deduplication, every call priced,
  the exact total, and the same total computed independently with plain Decimal arithmetic.
* Mooncake FAST'25 traces (conversation and synthetic), served on ``--model``: the cost under
  each caching policy (none, automatic, clawback's planner, clairvoyant), hit rates, and how long
  the whole audit took (four replays of every request).

Run: .venv/bin/python benchmarks/audit_real.py [--model claude-sonnet-5-5] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from clawback.audit.engine import AuditOptions, run_audit
from clawback.pricing import load_catalogue

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLAWBACK_SHARED_DIR", REPO.parent / "shared")) / "data"
CATALOGUE = load_catalogue()


def transcripts() -> list[Path]:
    """Every Claude Code transcript in the shared data (hook logs excluded)."""
    fast = SHARED / "claude-code-transcripts-fasthooks"
    files = sorted((SHARED / "claude-code-transcripts-spotter").rglob("*.jsonl"))
    return [*files, fast / "sample_main_transcript.jsonl", fast / "sample_agent_sidechain.jsonl"]


def hand_total(files: list[Path]) -> tuple[int, Decimal]:
    """Calls and cost by plain arithmetic: dedupe by (message id, request id), most output tokens wins."""
    calls: dict[tuple[str, str], tuple[str, str, dict[str, int]]] = {}
    for path in files:
        for raw in path.read_text("utf-8").splitlines():
            line = json.loads(raw)
            msg = line.get("message")
            if not isinstance(msg, dict) or "usage" not in msg:
                continue
            key, use = (msg["id"], line["requestId"]), msg["usage"]
            if key not in calls or use["output_tokens"] > calls[key][2]["output_tokens"]:
                first_day = calls[key][1] if key in calls else line["timestamp"][:10]
                calls[key] = (msg["model"], first_day, use)
    total = Decimal(0)
    for model, day, u in calls.values():
        r = CATALOGUE.resolve(model).rates_at(date.fromisoformat(day))
        split = u.get("cache_creation") or {}
        total += (
            u["input_tokens"] * r.input
            + split.get("ephemeral_5m_input_tokens", 0) * r.cache_write_5m
            + split.get("ephemeral_1h_input_tokens", 0) * r.cache_write_1h
            + u["cache_read_input_tokens"] * r.cache_read
            + u["output_tokens"] * r.output
        ) / Decimal(1_000_000)
    return len(calls), total


def claude_code() -> dict[str, object]:
    """The transcripts' audit beside the independent total."""
    files = transcripts()
    started = time.perf_counter()
    summary = run_audit([str(f) for f in files], CATALOGUE)
    seconds = time.perf_counter() - started
    calls, hand = hand_total(files)
    data = summary.to_json()
    return {
        "files": len(files),
        "calls": data["calls"],
        "unpriced": data["unpriced_calls"],
        "total_usd": data["total_usd"],
        "hand_calls": calls,
        "hand_total_usd": str(hand),
        "match": summary.spend.total == hand,
        "repeated_lines": data["input_issues"]["skipped"].get(
            "repeated line of an API call already counted", 0
        ),
        "by_model": {k: v["usd"] for k, v in data["by_model"].items()},
        "seconds": seconds,
    }


def mooncake(name: str, model: str) -> dict[str, object]:
    """One trace's audit: cost and hit rate per policy."""
    path = SHARED / "mooncake" / f"{name}_trace.jsonl"
    options = AuditOptions(trace_model=model, trace_start=datetime(2026, 11, 1, tzinfo=UTC))
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_audit([str(path)], CATALOGUE, options)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    policies = {
        k: {"cost_usd": str(round(p.cost, 4)), "hit_rate": round(p.hit_rate, 4)}
        for k, p in summary.policies.items()
    }
    return {
        "trace": name,
        "model": model,
        "requests": summary.spend.calls,
        "policies": policies,
        "seconds": seconds,
        "cpu_seconds": cpu,
    }


def main() -> None:
    """Run both and print JSON or Markdown."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="claude-sonnet-5-5")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    cc = claude_code()
    traces = [mooncake(name, args.model) for name in ("conversation", "synthetic")]
    if not args.markdown:
        print(json.dumps({"claude_code": cc, "mooncake": traces}, indent=2))
        return
    print(f"Claude Code: {cc['files']} transcript files, {cc['calls']:,} calls ({cc['repeated_lines']:,} repeated "
          f"lines deduplicated), {cc['unpriced']} unpriced, total ${cc['total_usd']}; independent hand check "
          f"{cc['hand_calls']:,} calls, ${cc['hand_total_usd']} ({'match' if cc['match'] else 'MISMATCH'}); "
          f"{cc['seconds']:.1f} s.\n")  # fmt: skip
    print("| trace | requests | none | auto | planner | clairvoyant | audit wall / CPU time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t in traces:
        p = t["policies"]
        assert isinstance(p, dict)
        cells = " | ".join(
            f"${p[k]['cost_usd']} ({p[k]['hit_rate']:.1%})"
            for k in ("none", "auto", "planner", "clairvoyant")
        )
        print(
            f"| {t['trace']} on {t['model']} | {t['requests']:,} | {cells} | {t['seconds']:.0f} s / {t['cpu_seconds']:.0f} s |"
        )


if __name__ == "__main__":
    main()
