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

The child's CPU time is measured twice: the audit itself (``time.process_time()`` around
``run_audit``, every thread) and the whole child process from the parent (``getrusage`` of the
child: interpreter start-up and imports included). ``--baseline SRC`` also audits each log with
another checkout's ``src`` folder (say the previous commit's, from ``git archive``), alternating, so
the two are compared on the same machine in the same run.

Run: .venv/bin/python benchmarks/audit_scale.py [--sizes 1000000 10000000] [--workdir DIR]
     [--baseline /tmp/base/src] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _doc_section import write_section

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


def audit_child(log: Path, rules: Path, workdir: str, src: Path | None) -> dict[str, Any]:
    """One audit in a fresh child process (``src``: another checkout's code); its JSON and the child's CPU."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(log), str(rules), workdir],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    """The benchmarks.md section."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Audit at scale: 1 and 10 million usage records",
        "",
        f"{date.today()} · {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} · "
        f"`{command}` · load average {load:.1f} at the end",
        "",
        "A synthetic usage-level JSONL log (timestamp, task, workspace, the response with its usage; six tasks on "
        "six models, one unknown; 30 days; one malformed line per 100,000) audited whole in a fresh child process "
        "with `memory_limit = 1GB`: read, validate, price, group, the usage views, routing, batch and output caps on "
        "every record. *Audit CPU* is `process_time()` around `run_audit` (all threads); *process CPU* is the whole "
        "child (start-up and imports too). Peak RSS is the child's `VmHWM`.",
        "",
        "| code | records | input | wall | audit CPU | process CPU | peak RSS | total | malformed | unpriced |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['code']} | {r['n']:,} | {r['file_mb']:,.0f} MB | {r['seconds']:,.1f} s | {r['cpu_seconds']:,.1f} s | "
            f"{r['process_cpu_seconds']:,.1f} s | {r['peak_rss_mb']:,.0f} MB | ${float(r['total_usd']):,.2f} | "
            f"{r['malformed']:,} | {r['unpriced']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Generate, audit in a child process (alternating with ``--baseline`` code), report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another checkout's src folder to compare with"
    )
    parser.add_argument(
        "--write", action="store_true", help="update the audit-scale section of docs/benchmarks.md"
    )
    parser.add_argument("--child", nargs=3, metavar=("LOG", "RULES", "WORKDIR"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = []
    codes: list[tuple[str, Path | None]] = [("this", None)] + (
        [("baseline", args.baseline)] if args.baseline else []
    )
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="clawback-audit-bench-") as tmp:
        rules = Path(tmp) / "rules.toml"
        rules.write_text(RULES)
        for n in args.sizes:
            log = Path(tmp) / f"log-{n}.jsonl"
            generate(log, n)
            os.sync()  # the log at rest: its writing-back to disk must not share the audit's cores
            size_mb = log.stat().st_size / 1e6
            for code, src in codes:
                result = audit_child(log, rules, tmp, src)
                result.update(n=n, file_mb=size_mb, code=code)
                rows.append(result)
                print(json.dumps(result), file=sys.stderr)
            log.unlink()
    command = " ".join(["benchmarks/audit_scale.py", *sys.argv[1:]])
    text = markdown(rows, f".venv/bin/python {command}")
    if args.write:
        write_section("audit-scale", text)
    print(text)


if __name__ == "__main__":
    main()
