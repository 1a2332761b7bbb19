"""Audit throughput and peak memory at 1 million and 10 million call records.

For each size the benchmark first writes a synthetic JSONL log (not timed): the common usage-level
'log everything' line — timestamp, task label, workspace and the Messages response with its usage —
for six tasks on a realistic mix of current and legacy models over 30 days, some calls labelled
latency-tolerant, a few on an unknown model, and one malformed line in every 100,000. Then it runs
the whole audit (read, validate, load into DuckDB, price, group, simulate every technique,
recommend) in a fresh child process with the demo's rules file, and reports wall time, records per
second and the child's peak resident memory (VmHWM).

These records carry usage but no request bodies, so the caching replay has nothing to replay at
this scale and says so; routing, batch and output caps are simulated on every record. The replay's
own throughput is measured on the Mooncake traces (``benchmarks/audit_real.py``).

Run: .venv/bin/python benchmarks/audit_scale.py [--sizes 1000000 10000000] [--workdir DIR] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS = (
    ("support-classifier", "claude-sonnet-5-5", 900, 6, False),
    ("rag-qa", "claude-sonnet-5-5", 3200, 280, False),
    ("assistant", "claude-opus-5-5", 6000, 420, False),
    ("nightly-summary", "claude-sonnet-4-5-20250929", 2600, 450, True),
    ("extractor", "claude-haiku-5-5", 1800, 150, False),
    ("legacy-report", "claude-haiku-4-5-20251001", 1200, 300, False),
)
RULES = """version = 1
[tasks."support-classifier"]
route_to = "claude-haiku-5-5"
[tasks."nightly-summary"]
latency_tolerant = true
"""


def generate(path: Path, n: int, seed: int = 11) -> None:
    """Write ``n`` usage-level log lines to ``path`` (plus one malformed line per 100,000)."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 20, tzinfo=UTC)
    step = 30 * 86400 / n
    with path.open("w", encoding="utf-8", buffering=1 << 22) as out:
        for i in range(n):
            if i % 100_000 == 99_999:
                out.write('{"timestamp": "2026-11-01T00:00:00Z", "response": {"usage": \n')
            task, model, prompt, output, tolerant = TASKS[i % 7 % 6] if i % 7 else TASKS[rng.randrange(6)]
            if i % 250_000 == 0:
                model = "acme-llm-2"
            ts = (start + timedelta(seconds=i * step)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            size = int(prompt * rng.uniform(0.6, 1.4))
            read = size * 7 // 10 if rng.random() < 0.5 else 0
            write = size - read - 40 if read == 0 and rng.random() < 0.3 else 0
            inp = size - read - write
            outp = max(1, int(rng.expovariate(1 / output)))
            meta = ',"metadata":{"latency_tolerant":true}' if tolerant else ""
            out.write(
                f'{{"timestamp":"{ts}","task":"{task}","workspace":"ws{i % 3}"{meta},"response":{{"id":"msg_{i:010d}",'
                f'"type":"message","model":"{model}","stop_reason":"end_turn","usage":{{"input_tokens":{inp},'
                f'"output_tokens":{outp},"cache_read_input_tokens":{read},"cache_creation_input_tokens":{write},'
                f'"cache_creation":{{"ephemeral_5m_input_tokens":{write},"ephemeral_1h_input_tokens":0}},'
                f'"service_tier":"standard"}}}}}}\n'
            )


def _peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(log: str, rules: str, workdir: str) -> None:
    """Run one audit in this process and print its timing and peak memory as JSON."""
    from clawback.audit.engine import AuditOptions, run_audit
    from clawback.audit.rules import load_rules
    from clawback.pricing import load_catalogue

    started, cpu = time.perf_counter(), time.process_time()
    options = AuditOptions(rules=load_rules(Path(rules)), workdir=Path(workdir), memory_limit="1GB")
    summary = run_audit([log], load_catalogue(), options)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    data = summary.to_json()
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": cpu,
        "records": data["calls"],
        "malformed": data["input_issues"]["malformed"],
        "unpriced": data["unpriced_calls"],
        "total_usd": data["total_usd"],
        "stacked_saving_usd": data["savings"]["stacked"]["saving_usd"],
        "cache_cannot_apply": data["savings"]["cache"]["cannot_apply"],
        "peak_rss_mb": _peak_kb() / 1024,
    }))  # fmt: skip


def main() -> None:
    """Generate, audit in a child process, report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("LOG", "RULES", "WORKDIR"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="clawback-audit-bench-") as tmp:
        rules = Path(tmp) / "rules.toml"
        rules.write_text(RULES)
        for n in args.sizes:
            log = Path(tmp) / f"log-{n}.jsonl"
            t0 = time.perf_counter()
            generate(log, n)
            gen = time.perf_counter() - t0
            size_mb = log.stat().st_size / 1e6
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(log), str(rules), tmp],
                capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            )  # fmt: skip
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result.update(n=n, file_mb=size_mb, generate_seconds=gen)
            rows.append(result)
            print(json.dumps(result), file=sys.stderr)
            log.unlink()
    if args.markdown:
        print(
            f"{datetime.now(UTC):%Y-%m-%d} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores\n"
        )
        print(
            "| records | input | wall time | CPU time | records/s (wall) | records/s (CPU) | peak RSS | total "
            "| malformed counted | unpriced |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['n']:,} | {r['file_mb']:,.0f} MB | {r['seconds']:,.0f} s | {r['cpu_seconds']:,.0f} s | "
                f"{r['n'] / r['seconds']:,.0f} | {r['n'] / r['cpu_seconds']:,.0f} | {r['peak_rss_mb']:,.0f} MB | "
                f"${float(r['total_usd']):,.2f} | "
                f"{r['malformed']:,} | {r['unpriced']:,} |"
            )
    else:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
