"""ccusage against ``clawback audit`` on the same Claude Code logs: CPU time side by side, and the totals.

The shared transcripts (``../shared/data/claude-code-transcripts-*``) are copied ``--copies`` times
(default 50) into a temporary ``CLAUDE_CONFIG_DIR`` laid out as Claude Code lays it out
(``projects/<project>/<session>.jsonl`` and ``<session>/subagents/``), each copy in its own project
folder with its own message and request ids (so no copy is a repeat of another), synced to disk.
Then, in one run,
alternating, ``--rounds`` times each: ``ccusage claude session --json --offline`` (and
``ccusage daily --json --offline`` for its total with relayed subagent calls), ``clawback audit
--json`` and ``clawback usage daily --json``, all with no paths. CPU time is the child's user +
system time (``getrusage(RUSAGE_CHILDREN)``), so other processes on the machine don't count; the
median of the rounds is reported.

Totals: ccusage's session view leaves out a subagent's calls that only its parent's progress lines
relay (5 Haiku calls per copy of the shared data); clawback counts them once, like ccusage's daily
view. So clawback's total equals ccusage daily's, and equals ccusage session's plus the relayed calls.

Run: .venv/bin/python benchmarks/audit_ccusage.py [--copies 50] [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from _doc_section import write_section

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLAWBACK_SHARED_DIR", REPO.parent / "shared")) / "data"
CCUSAGE = REPO / "tests" / "node" / "node_modules" / ".bin" / "ccusage"
CLAWBACK = [sys.executable, "-m", "clawback"]
FASTHOOKS_SESSION = "c45af7b1-cb7c-4e51-93db-8cbb250a877a"


def layout(copy: int) -> list[tuple[Path, Path]]:
    """(source, path under projects/) of every transcript of one copy."""
    spotter = SHARED / "claude-code-transcripts-spotter"
    fasthooks = SHARED / "claude-code-transcripts-fasthooks"
    out = [
        (p, Path(f"-home-dev-spotter-{copy:03d}") / p.relative_to(spotter))
        for p in sorted(spotter.rglob("*.jsonl"))
    ]
    project = Path(f"-home-dev-fasthooks-{copy:03d}")
    out.append((fasthooks / "sample_main_transcript.jsonl", project / f"{FASTHOOKS_SESSION}.jsonl"))
    out.append(
        (
            fasthooks / "sample_agent_sidechain.jsonl",
            project / FASTHOOKS_SESSION / "subagents" / "agent-af1ff21.jsonl",
        )
    )
    return out


def generate(config: Path, copies: int) -> int:
    """Write ``copies`` copies of the transcripts under ``config/projects``; returns the bytes written."""
    size = 0
    for copy in range(copies):
        for source, rel in layout(copy):
            target = config / "projects" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = (
                source.read_bytes()
                .replace(b'"msg_', b'"msg_c%03d' % copy)
                .replace(b'"req_', b'"req_c%03d' % copy)
            )
            target.write_bytes(data)
            size += len(data)
    return size


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """(CPU seconds, peak RSS MB, parsed JSON output) of one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, after.ru_maxrss / 1024, json.loads(proc.stdout)


def run(copies: int, rounds: int) -> dict[str, Any]:
    """The whole comparison; a dict of medians and totals."""
    if not CCUSAGE.exists():
        raise SystemExit(f"{CCUSAGE} is missing: run `make node-clients`")
    # clawback's modules compiled once, as an installed package has them (pip compiles at install);
    # otherwise a checkout run with PYTHONDONTWRITEBYTECODE compiles them again in every child
    compileall.compile_dir(REPO / "src" / "clawback", quiet=1)
    with tempfile.TemporaryDirectory(prefix="clawback-ccusage-bench-") as tmp:
        config = Path(tmp) / "claude"
        size = generate(config, copies)
        os.sync()  # the copies written back to disk first, not while a command runs (as audit_scale does)
        env = {**os.environ, "CLAUDE_CONFIG_DIR": str(config), "HOME": tmp}
        commands = {
            "ccusage session": [str(CCUSAGE), "claude", "session", "--json", "--offline"],
            "ccusage daily": [str(CCUSAGE), "daily", "--json", "--offline"],
            "clawback audit": [*CLAWBACK, "audit", "--json"],
            "clawback usage daily": [*CLAWBACK, "usage", "daily", "--json"],
        }
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        outputs: dict[str, dict[str, Any]] = {}
        for _ in range(rounds):
            for name, cmd in commands.items():
                seconds, _rss, outputs[name] = timed(cmd, env)
                cpu[name].append(seconds)
    audit = outputs["clawback audit"]
    relayed = sum(
        int(n.split()[0].replace(",", ""))
        for n in audit["input_issues"]["notes"]
        if "subagent calls counted from progress lines" in n
    )
    return {
        "copies": copies,
        "rounds": rounds,
        "files": len(audit["inputs"]),
        "megabytes": size / 1e6,
        "cpu": {name: statistics.median(values) for name, values in cpu.items()},
        "rounds_cpu": {name: [round(v, 3) for v in values] for name, values in cpu.items()},
        "ccusage_session_usd": outputs["ccusage session"]["totals"]["totalCost"],
        "ccusage_daily_usd": outputs["ccusage daily"]["totals"]["totalCost"],
        "clawback_usd": audit["total_usd"],
        "clawback_usage_usd": outputs["clawback usage daily"]["totals"]["cost_usd"],
        "clawback_calls": audit["calls"],
        "relayed_calls": relayed,
    }


def markdown(r: dict[str, Any]) -> str:
    """The benchmarks.md section."""
    cpu = r["cpu"]
    base = cpu["ccusage session"]
    rows = "\n".join(f"| {name} | {seconds:.2f} s | {seconds / base:.2f} |" for name, seconds in cpu.items())
    session = Decimal(str(r["ccusage_session_usd"])).quantize(Decimal("0.00000001"))
    daily = Decimal(str(r["ccusage_daily_usd"])).quantize(Decimal("0.00000001"))
    return f"""## Claude Code logs: clawback against ccusage

{date.today()} · {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} ·
`.venv/bin/python benchmarks/audit_ccusage.py --copies {r["copies"]} --rounds {r["rounds"]} --write` ·
ccusage 20.0.24 (`tests/node`) · data: the shared Claude Code transcripts ×{r["copies"]} with distinct
ids ({r["files"]:,} files, {r["megabytes"]:,.0f} MB) in a fresh `CLAUDE_CONFIG_DIR`, every command run
with no paths. CPU time is each child's user + system time, the median of {r["rounds"]} alternating rounds.

| command | CPU time | vs `ccusage claude session` |
|---|---:|---:|
{rows}

Totals: clawback ${r["clawback_usd"]} for {r["clawback_calls"]:,} calls (`usage daily`: ${r["clawback_usage_usd"]});
ccusage daily ${daily}; ccusage session ${session}, which leaves out the {r["relayed_calls"]:,} subagent
calls only relayed in parent transcripts (clawback and ccusage daily count them once)."""


def main() -> None:
    """Run and print (or write) the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--write", action="store_true", help="update the audit-ccusage section of docs/benchmarks.md"
    )
    args = parser.parse_args()
    result = run(args.copies, args.rounds)
    print(json.dumps(result, indent=2), file=sys.stderr)
    text = markdown(result)
    if args.write:
        write_section("audit-ccusage", text)
    print(text)


if __name__ == "__main__":
    main()
