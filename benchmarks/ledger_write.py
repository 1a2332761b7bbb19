"""Time the ledger's write path: ``record()`` per call, sync and async, SQLite and PostgreSQL.

Each configuration writes realistic records (a 12-block request shape, usage, a full cost
breakdown) in interleaved rounds, so every configuration sees the same machine noise. PostgreSQL
runs on a throwaway loopback server started with tests/pg.sh (skipped when no server binaries
are found), or on ``--pg-url``.

Run: .venv/bin/python benchmarks/ledger_write.py [--rounds 5] [--per-round 2000] [--markdown] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from clawback.ledger import CallRecord, WriterOptions, open_ledger, open_writer, price_call
from clawback.pricing import load_catalogue
from clawback.settings import Settings
from clawback.shapes import request_shape

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- BEGIN ledger -->", "<!-- END ledger -->"
USAGE = {
    "input_tokens": 1200,
    "output_tokens": 300,
    "cache_read_input_tokens": 24000,
    "cache_creation_input_tokens": 800,
    "cache_creation": {"ephemeral_5m_input_tokens": 800, "ephemeral_1h_input_tokens": 0},
}


def _shape() -> dict[str, object]:
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " * 40} for i in range(9)
    ]
    body = {
        "model": "claude-sonnet-5-5",
        "system": [{"type": "text", "text": "You are terse. " * 300, "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "lookup", "description": "d", "input_schema": {"type": "object"}}],
        "messages": messages,
    }
    return request_shape(body).to_json()


def _records(n: int) -> list[CallRecord]:
    breakdown, _ = price_call(load_catalogue(), "claude-sonnet-5-5", USAGE)
    shape = _shape()
    return [
        CallRecord.create(
            "claude-sonnet-5-5",
            breakdown=breakdown,
            served_model="claude-sonnet-5-5",
            task="bench",
            usage=USAGE,
            shape=shape,
            latency_ms=812.0,
            stop_reason="end_turn",
            request_id="req_bench",
        )
        for _ in range(n)
    ]


@contextmanager
def _postgres(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    script = REPO / "tests" / "pg.sh"
    if subprocess.run(["bash", str(script), "check"], capture_output=True, check=False).returncode:
        yield None
        return
    directory = tempfile.mkdtemp(prefix="clawback-pg-bench-")
    started = subprocess.run(
        ["bash", str(script), "start", directory], capture_output=True, text=True, check=False
    )
    try:
        yield started.stdout.strip().splitlines()[-1] if started.returncode == 0 else None
    finally:
        subprocess.run(["bash", str(script), "stop", directory], capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)


def _round(
    location: str, mode: str, records: list[CallRecord], settings: Settings
) -> tuple[list[float], float]:
    """Per-record latencies (µs) of ``record()`` and the wall time to have all of them stored (s)."""
    writer = open_writer(location, settings=settings, options=WriterOptions(mode=mode))  # type: ignore[arg-type]
    for rec in _records(50):  # warm-up: prepared statements, first connection
        writer.record(rec)
    writer.flush()
    times: list[float] = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for rec in records:
        t0 = clock()
        writer.record(rec)
        times.append((clock() - t0) / 1000)
    writer.flush(timeout=60)
    wall = time.perf_counter() - start
    assert writer.stats.pending == 0 and writer.stats.failed_attempts == 0, writer.stats
    writer.close()
    return times, wall


def measure(rounds: int, per_round: int, pg_url: str | None) -> list[dict[str, object]]:
    """Median and p99 µs per ``record()`` and records/s, per store and mode."""
    work = Path(tempfile.mkdtemp(prefix="clawback-ledger-bench-"))
    settings = Settings.from_env({"CLAWBACK_HOME": str(work / "home")})
    try:
        with _postgres(pg_url) as pg:
            stores = {"SQLite (WAL)": str(work / "ledger.sqlite3")}
            if pg:
                stores["PostgreSQL 127.0.0.1"] = pg
            configs = [(name, loc, mode) for name, loc in stores.items() for mode in ("sync", "async")]
            samples: dict[tuple[str, str], list[float]] = {(n, m): [] for n, _, m in configs}
            walls: dict[tuple[str, str], float] = {(n, m): 0.0 for n, _, m in configs}
            for _ in range(rounds):
                for name, loc, mode in configs:
                    times, wall = _round(loc, mode, _records(per_round), settings)
                    samples[(name, mode)] += times
                    walls[(name, mode)] += wall
            for loc in stores.values():
                with open_ledger(loc, settings=settings) as ledger:
                    expected = rounds * (per_round + 50) * 2
                    assert ledger.count() == expected, (ledger.count(), expected)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for name, _, mode in configs:
        times = sorted(samples[(name, mode)])
        rows.append(
            {
                "store": name,
                "mode": mode,
                "n": len(times),
                "median_us": statistics.median(times),
                "p99_us": times[int(0.99 * (len(times) - 1))],
                "per_second": len(times) / walls[(name, mode)],
            }
        )
    return rows


def markdown(rows: list[dict[str, object]], command: str) -> str:
    """The docs section."""
    lines = [
        "## Ledger write path",
        "",
        f"{date.today().isoformat()} · `{command}` · {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version} · load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end of the run",
        "",
        "| store | mode | records | median `record()` | p99 `record()` | stored per second |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['store']} | {r['mode']} | {r['n']:,} | {r['median_us']:.0f} µs | {r['p99_us']:.0f} µs "
            f"| {r['per_second']:,.0f} |"
        )
    lines += [
        "",
        "Each record carries a 12-block request shape, usage and a full cost breakdown. `record()` in",
        "sync mode returns after the row is committed (SQLite: WAL, synchronous=NORMAL, no fsync per",
        "commit; PostgreSQL: one autocommit round trip on loopback). In async mode it only queues the",
        "record; the caller still pays for the background thread's share of the GIL while it writes a",
        'batch (about 1 µs when it is idle). "Stored per second" is records over the wall time until',
        "every one is in the store (flush included). The p99 column moves most with the machine's load:",
        "other processes pre-empting the writer show up there first.",
    ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    """Replace (or add) this benchmark's section of docs/benchmarks.md, leaving the others alone."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--pg-url", help="an existing PostgreSQL server (default: start a throwaway one)")
    parser.add_argument("--markdown", action="store_true", help="print the docs section")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    rows = measure(args.rounds, args.per_round, args.pg_url)
    for r in rows:
        print(
            f"{r['store']:<22} {r['mode']:<6} n={r['n']:<7,} median {r['median_us']:7.1f} µs  "
            f"p99 {r['p99_us']:7.1f} µs  {r['per_second']:9,.0f} stored/s",
            file=sys.stderr,
        )
    command = ".venv/bin/python benchmarks/ledger_write.py " + " ".join(sys.argv[1:])
    section = markdown(rows, command.strip())
    if args.markdown:
        print(section)
    if args.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
