"""Audit the real public data in ../shared/data: Claude Code transcripts and the Mooncake traces.

* Claude Code (spotter and fasthooks transcripts): calls after deduplication (subagent calls only
  relayed in a parent's progress lines included once), every call priced, the exact total, and the
  same total computed independently with plain Decimal arithmetic.
* Mooncake FAST'25 traces (conversation and synthetic), served on ``--model``: the cost under
  each caching policy (none, automatic, clawback's planner, clairvoyant), hit rates, and how long
  the whole audit took (four replays of every request).
* Azure LLM inference traces 2023 (code and conversation, token-count CSV), served on ``--model``
  at their real dates: rows, the total, the same total by plain Decimal arithmetic, and the time.

Run: .venv/bin/python benchmarks/audit_real.py [--model claude-sonnet-5-5] [--only azure] [--markdown] [--write]

``--write`` replaces the ``audit-real`` section of docs/benchmarks.md (all three parts must run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from _doc_section import write_section
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


def _usage_lines(files: list[Path]) -> tuple[list[Any], list[Any]]:
    """(direct, relayed) usage lines as ((message id, request id), model, timestamp, usage)."""
    direct, relayed = [], []
    for path in files:
        for raw in path.read_text("utf-8").splitlines():
            line = json.loads(raw)
            msg = line.get("message")
            if isinstance(msg, dict) and "usage" in msg:
                direct.append(((msg["id"], line["requestId"]), msg["model"], line["timestamp"], msg["usage"]))
            inner = (line.get("data") or {}).get("message") if line.get("type") == "progress" else None
            if (
                isinstance(inner, dict)
                and isinstance(inner.get("message"), dict)
                and "usage" in inner["message"]
            ):
                m = inner["message"]
                relayed.append(((m["id"], inner["requestId"]), m["model"], inner["timestamp"], m["usage"]))
    return direct, relayed


def _calls(lines: list[Any]) -> dict[tuple[str, str], tuple[str, str, dict[str, int]]]:
    """One call per key: the usage with the most output tokens, the date of the first line."""
    calls: dict[tuple[str, str], tuple[str, str, dict[str, int]]] = {}
    for key, model, stamp, use in lines:
        if key not in calls or use["output_tokens"] > calls[key][2]["output_tokens"]:
            first_day = calls[key][1] if key in calls else stamp[:10]
            calls[key] = (model, first_day, use)
    return calls


def _cost(calls: dict[tuple[str, str], tuple[str, str, dict[str, int]]]) -> Decimal:
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
    return total


def hand_total(files: list[Path]) -> tuple[int, Decimal, int, Decimal]:
    """Calls and cost by plain arithmetic: dedupe by (message id, request id), most output tokens wins;
    then the relayed calls no transcript holds itself. Returns (own calls, own cost, relayed calls, their cost)."""
    direct, relayed = _usage_lines(files)
    own = _calls(direct)
    only_relayed = {k: v for k, v in _calls(relayed).items() if k not in own}
    return len(own), _cost(own), len(only_relayed), _cost(only_relayed)


def claude_code() -> dict[str, object]:
    """The transcripts' audit beside the independent total."""
    files = transcripts()
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_audit([str(f) for f in files], CATALOGUE)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    calls, hand, relayed_calls, relayed = hand_total(files)
    data = summary.to_json()
    return {
        "files": len(files),
        "calls": data["calls"],
        "unpriced": data["unpriced_calls"],
        "total_usd": data["total_usd"],
        "hand_calls": calls,
        "hand_total_usd": str(hand),
        "relayed_calls": relayed_calls,
        "relayed_usd": str(relayed),
        "match": summary.spend.total == hand + relayed and data["calls"] == calls + relayed_calls,
        "repeated_lines": data["input_issues"]["skipped"].get(
            "repeated line of an API call already counted", 0
        ),
        "by_model": {k: v["usd"] for k, v in data["by_model"].items()},
        "seconds": seconds,
        "cpu_seconds": cpu,
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


def azure(names: list[str], model: str) -> dict[str, object]:
    """The Azure token-count traces audited together, beside a plain Decimal total of their rows."""
    paths = [SHARED / "azure-llm-2023" / f"AzureLLMInferenceTrace_{n}.csv" for n in names]
    options = AuditOptions(trace_model=model)
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_audit([str(p) for p in paths], CATALOGUE, options)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    info, rows, hand = CATALOGUE.resolve(model), 0, Decimal(0)
    for path in paths:
        for raw in path.read_text("utf-8").splitlines()[1:]:
            stamp, context, generated = raw.split(",")
            r = info.rates_at(date.fromisoformat(stamp[:10]))
            hand += (int(context) * r.input + int(generated) * r.output) / Decimal(1_000_000)
            rows += 1
    data = summary.to_json()
    return {
        "traces": names,
        "model": model,
        "calls": data["calls"],
        "malformed": data["input_issues"]["malformed"],
        "total_usd": data["total_usd"],
        "hand_rows": rows,
        "hand_total_usd": str(hand),
        "match": summary.spend.total == hand and summary.spend.calls == rows,
        "seconds": seconds,
        "cpu_seconds": cpu,
    }


def _azure_markdown(runs: list[dict[str, Any]]) -> list[str]:
    out = [
        "| Azure trace | calls | total | plain Decimal check | audit wall / CPU time |",
        "|---|---:|---:|---|---:|",
    ]
    for a in runs:
        traces = " + ".join(str(t) for t in a["traces"])
        check = f"{a['hand_rows']:,} rows, ${a['hand_total_usd']} ({'match' if a['match'] else 'MISMATCH'})"
        out.append(
            f"| {traces} on {a['model']} | {a['calls']:,} | ${a['total_usd']} | {check} "
            f"| {a['seconds']:.1f} s / {a['cpu_seconds']:.1f} s |"
        )
    return out


def _claude_code_markdown(cc: dict[str, Any]) -> list[str]:
    own = Decimal(cc["hand_total_usd"])
    return [
        f"Claude Code: {cc['files']} transcript files, **{cc['calls']:,} calls** ({cc['repeated_lines']:,} repeated "
        f"lines deduplicated), {cc['unpriced']} unpriced, total **${cc['total_usd']}**; independent plain-Decimal "
        f"check: {cc['hand_calls']:,} calls in the transcripts themselves (${own}) plus {cc['relayed_calls']} subagent "
        f"calls only relayed in a parent's progress lines (${cc['relayed_usd']}): "
        f"{'match' if cc['match'] else 'MISMATCH'}; {cc['seconds']:.1f} s wall / {cc['cpu_seconds']:.1f} s CPU.",
        "",
    ]


def _mooncake_markdown(traces: list[dict[str, Any]]) -> list[str]:
    out = [
        "| trace | requests | none | auto | planner | clairvoyant | audit wall / CPU time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in traces:
        p = t["policies"]
        cells = " | ".join(
            f"${p[k]['cost_usd']} ({p[k]['hit_rate']:.1%})"
            for k in ("none", "auto", "planner", "clairvoyant")
        )
        out.append(
            f"| {t['trace']} on {t['model']} | {t['requests']:,} | {cells} | {t['seconds']:.0f} s / {t['cpu_seconds']:.0f} s |"
        )
    return out


def main() -> None:
    """Run every part (or ``--only`` one) and print JSON or Markdown (or write the docs section)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="claude-sonnet-5-5")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--write", action="store_true", help="update the audit-real section of docs/benchmarks.md"
    )
    parser.add_argument("--only", choices=("claude-code", "mooncake", "azure"), help="Run one part only.")
    args = parser.parse_args()
    if args.write and args.only:
        raise SystemExit("--write needs every part: drop --only")
    parts = [args.only] if args.only else ["claude-code", "mooncake", "azure"]
    results: dict[str, Any] = {}
    if "claude-code" in parts:
        results["claude_code"] = claude_code()
    if "mooncake" in parts:
        results["mooncake"] = [mooncake(name, args.model) for name in ("conversation", "synthetic")]
    if "azure" in parts:
        results["azure"] = [azure(names, args.model) for names in (["code"], ["conv"], ["code", "conv"])]
    if not (args.markdown or args.write):
        print(json.dumps(results, indent=2))
        return
    lines: list[str] = []
    if "claude_code" in results:
        lines += _claude_code_markdown(results["claude_code"])
    if "mooncake" in results:
        lines += [*_mooncake_markdown(results["mooncake"]), ""]
    if "azure" in results:
        lines += _azure_markdown(results["azure"])
    text = "\n".join(lines)
    if args.write:
        header = (
            f"## Audit of real logs: Claude Code transcripts, Mooncake and Azure traces\n\n{date.today()} · "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} · "
            f"`.venv/bin/python benchmarks/audit_real.py --write` · Mooncake and Azure rows served on {args.model}\n\n"
        )
        write_section("audit-real", header + text)
    print(text)


if __name__ == "__main__":
    main()
