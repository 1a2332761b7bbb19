"""Emulator throughput: small non-streaming ``POST /v1/messages`` calls per second on one core.

The emulator runs as ``clawback emulate`` (one uvicorn worker) pinned to CPU 0; ``wrk`` runs pinned
to CPU 1 with keep-alive connections, POSTing a small Messages body, so the load generator is not
the bottleneck. Each run's requests/s and latency percentiles are collected, with the server
process's CPU time (``/proc/PID/stat``), so requests per server CPU-second (and server CPU per call)
stays honest when other work shares the machine; the table reports the median of the runs and the
load average at the start.

Side by side: with ``--baseline REV`` (repeatable; default: where this branch left ``main``) the
code of each revision is exported with ``git archive`` to a temporary directory and served the same
way, the servers alternating run by run, so all meet the same machine load. The code before the
strict request validation (issue 15) is ``484ad2b``, the first parent of its merge.

    .venv/bin/python benchmarks/emulator_throughput.py [--runs 5] [--seconds 10] [--connections 64]
        [--baseline REV ... | --no-baseline] [--write]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``) and ``taskset``. ``--write`` replaces the
``<!-- BEGIN emulator -->`` … ``<!-- END emulator -->`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- BEGIN emulator -->", "<!-- END emulator -->"
BODY = '{"model":"claude-haiku-5-5","max_tokens":16,"messages":[{"role":"user","content":"What is 2 + 2? Answer briefly."}]}'
LUA = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["content-type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["x-api-key"] = "sk-ant-benchmark-0000"
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
NOTES = [
    "uvicorn uses `httptools` and `uvloop` (project dependencies). The request schema (pydantic v2,",
    "`clawback.emulator.schema`) costs about 6 µs of a small call; bodies of 256 KiB or more are prepared in",
    "a worker process and do not show here (see the large-request section). When the machine is shared",
    "(load average well above the core count), requests/s follows the load; compare the CPU columns.",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def _start_server(
    port: int, src: Path | None = None, *, extra: tuple[str, ...] = (), pin: bool = True
) -> subprocess.Popen[bytes]:
    """``clawback emulate`` on ``port`` (pinned to CPU 0); from the package under ``src`` when given."""
    cmd = [
        *(_pin(0) if pin else []),
        *(sys.executable, "-m", "clawback", "emulate", "--port", str(port), "--log-level", "error", *extra),
    ]
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the emulator did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if match is None:
        raise ValueError(f"cannot read latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (0 where /proc is missing)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, lua: Path, seconds: int, connections: int, server_pid: int = 0) -> dict[str, float]:
    cmd = [*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    cpu_before = _cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    cpu = (_cpu_seconds(server_pid) - cpu_before) if server_pid else 0.0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    result = {"rps": rps, "cpu_rps": total / cpu if cpu > 0 else 0.0}
    for pct in ("50", "90", "99"):
        result[f"p{pct}"] = _ms(re.search(rf"\s{pct}%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return result


def _machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1).strip() if found else model
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{os.cpu_count()} CPUs (nproc), {model}, Python {platform.python_version()}, {platform.system()};"
        f" load average at the start {load} (1/5/15 min)"
    )


def export(rev: str, into: Path) -> Path:
    """The ``src`` tree of git revision ``rev``, exported under ``into``; returns its ``src``."""
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _one_run(src: Path | None, lua: Path, seconds: int, connections: int) -> dict[str, float]:
    port = _free_port()
    server = _start_server(port, src)
    try:
        url = f"http://127.0.0.1:{port}/v1/messages"
        _wrk(url, lua, 2, connections)  # warm-up
        return _wrk(url, lua, seconds, connections, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(
    runs: int, seconds: int, connections: int, baseline: str | list[str] | None = None
) -> tuple[dict[str, list[dict[str, float]]], str]:
    """Run the benchmark, alternating the baselines' servers and this one; figures per variant."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    machine = _machine()
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "post.lua"
        lua.write_text(LUA)
        variants: dict[str, Path | None] = {}
        baselines = [baseline] if isinstance(baseline, str) else (baseline or [])
        for rev in baselines:
            short = subprocess.run(
                ["git", "rev-parse", "--short", rev],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            into = Path(tmp) / short
            into.mkdir(exist_ok=True)
            variants[f"before ({short})"] = export(rev, into)
        variants["this code"] = None
        results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for _ in range(runs):
            for name, src in variants.items():
                results[name].append(_one_run(src, lua, seconds, connections))
    return results, machine


def _row(name: str, results: list[dict[str, float]]) -> str:
    med = {key: statistics.median(r[key] for r in results) for key in results[0]}
    runs = ", ".join(f"{r['rps']:,.0f}" for r in results)
    cpu_us = 1e6 / med["cpu_rps"] if med["cpu_rps"] else 0.0
    return (
        f"| {name} | {med['rps']:,.0f} | {med['cpu_rps']:,.0f} | {cpu_us:,.0f} µs | {med['p50']:.2f} ms |"
        f" {med['p99']:.2f} ms | {med['non_2xx']:.0f} | {runs} |"
    )


def render(
    results: dict[str, list[dict[str, float]]], machine: str, *, seconds: int, connections: int
) -> str:
    """The Markdown section for docs/benchmarks.md."""
    runs = len(next(iter(results.values())))
    return "\n".join(
        [
            BEGIN,
            "## Emulator throughput",
            "",
            f"Measured {date.today().isoformat()} on {machine}.",
            f"`clawback emulate` (one uvicorn worker, default config: echo responder, no latency, request"
            f" validation, cache rules and request log on) pinned to CPU 0; `wrk -t1 -c{connections} -d{seconds}s`"
            " pinned to CPU 1, POSTing a small non-streaming Messages body over keep-alive connections. Median"
            f" of {runs} runs, each after a 2-second warm-up; the variants alternate run by run.",
            "",
            "| code | requests/s (median) | requests per server CPU-second | server CPU per call | p50 latency"
            " | p99 latency | non-2xx | runs (requests/s) |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
            *(_row(name, rows) for name, rows in results.items()),
            "",
            "Reproduce: `.venv/bin/python benchmarks/emulator_throughput.py --write --baseline 484ad2b`"
            " (484ad2b: the code before issue 15's validation; needs `wrk` and `taskset`).",
            "Target: at least 2,000 requests/s on one core, so the emulator is not the bottleneck when the gateway"
            " is measured.",
            *NOTES,
            END,
        ]
    )


def write_section(section: str, doc: Path = DOC, *, begin: str = BEGIN, end: str = END) -> None:
    """Replace (or append) the section between ``begin`` and ``end`` of ``doc``, leaving others alone."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text)


def _merge_base() -> str | None:
    found = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() or None


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--baseline",
        action="append",
        default=None,
        help="git revision to compare with, repeatable (default: merge-base with main)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="measure this code only")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    merge_base = _merge_base()
    baseline = None if args.no_baseline else (args.baseline or ([merge_base] if merge_base else None))
    results, machine = measure(args.runs, args.seconds, args.connections, baseline)
    section = render(results, machine, seconds=args.seconds, connections=args.connections)
    print(section)
    if args.write:
        write_section(section)
        print(f"\nwrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
