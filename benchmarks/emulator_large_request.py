"""How long a 30 MB request in flight delays a concurrent small one (target: at most 50 ms).

Starts ``clawback emulate`` (default config) in its own process, measures small non-streaming
``POST /v1/messages`` calls on their own, then again while large requests (about 30 MB of prompt
text each, on ``/v1/messages`` and ``/v1/messages/count_tokens``) are being sent and processed one
after another. The delay is a small call's latency minus the median latency of the calls alone.

    .venv/bin/python benchmarks/emulator_large_request.py [--mb 30] [--rounds 3] [--write]

``--write`` replaces the ``<!-- BEGIN emulator-large -->`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator_throughput import _free_port, _machine, _start_server, write_section

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN emulator-large -->", "<!-- END emulator-large -->"
HEADERS = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "x-api-key": "sk-ant-benchmark-0000",
}
SMALL = json.dumps(
    {"model": "claude-haiku-5-5", "max_tokens": 16, "messages": [{"role": "user", "content": "2 + 2?"}]}
).encode()
_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dogs",
    "while",
    "reading",
    "notes",
    "about",
    "prompt",
    "caching",
]


def large_body(megabytes: float, *, path: str) -> bytes:
    """A Messages body holding about ``megabytes`` MB of prose in one user message."""
    size = int(megabytes * 1_000_000)
    text = " ".join(_WORDS * (size // 60 + 1))[:size]
    body = {"model": "claude-haiku-5-5", "messages": [{"role": "user", "content": text}]}
    if path == "/v1/messages":
        body["max_tokens"] = 16
    return json.dumps(body).encode()


def _post(port: int, path: str, body: bytes, timeout: float = 120.0) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - t0
    finally:
        conn.close()


def _smalls(port: int, stop: threading.Event, out: list[float], gap: float = 0.01) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            conn.request("POST", "/v1/messages", body=SMALL, headers=HEADERS)
            conn.getresponse().read()
            out.append(time.perf_counter() - t0)
            time.sleep(gap)
    finally:
        conn.close()


def measure(megabytes: float, rounds: int) -> dict[str, float]:
    """Baseline and under-load small-call latencies (ms) and the large calls' statuses and times."""
    paths = ["/v1/messages" if i % 2 == 0 else "/v1/messages/count_tokens" for i in range(rounds)]
    bodies = {path: large_body(megabytes, path=path) for path in set(paths)}  # built before measuring
    port = _free_port()
    server = _start_server(port)
    try:
        t0 = time.perf_counter()
        _post(port, paths[-1], bodies[paths[-1]])  # the first big body starts the worker process
        first = time.perf_counter() - t0
        baseline: list[float] = []
        stop = threading.Event()
        worker = threading.Thread(target=_smalls, args=(port, stop, baseline))
        worker.start()
        time.sleep(2.0)
        stop.set()
        worker.join()
        loaded: list[float] = []
        stop = threading.Event()
        worker = threading.Thread(target=_smalls, args=(port, stop, loaded))
        worker.start()
        large_times: list[float] = []
        statuses: list[int] = []
        for path in paths:
            status, seconds = _post(port, path, bodies[path])
            statuses.append(status)
            large_times.append(seconds)
        stop.set()
        worker.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    base = statistics.median(baseline[5:])
    delays = sorted(x - base for x in loaded)
    return {
        "baseline_ms": base * 1e3,
        "calls_alone": len(baseline),
        "calls_under_load": len(loaded),
        "max_delay_ms": delays[-1] * 1e3,
        "p99_delay_ms": delays[int(len(delays) * 0.99)] * 1e3,
        "p50_delay_ms": statistics.median(delays) * 1e3,
        "large_seconds": statistics.median(large_times),
        "first_seconds": first,
        "large_statuses": float(len(set(statuses))),
        "statuses": statuses,  # type: ignore[dict-item]
    }


def render(result: dict[str, float], machine: str, *, megabytes: float, rounds: int) -> str:
    """The Markdown section for docs/benchmarks.md."""
    return "\n".join(
        [
            BEGIN,
            "## Emulator: a 30 MB request beside small ones",
            "",
            f"Measured {date.today().isoformat()} on {machine}.",
            f"`clawback emulate` (default config) in its own process; one thread sends small Messages calls"
            f" every 10 ms on a keep-alive connection while {rounds} requests of {megabytes:g} MB of prompt"
            " text (alternately `/v1/messages` and `/v1/messages/count_tokens`) are sent one after another."
            " Delay = a small call's latency minus the median latency of small calls alone.",
            "",
            "| small call alone (median) | calls during large requests | delay p50 | delay p99 | delay max"
            " | large request (median) | large statuses |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {result['baseline_ms']:.2f} ms | {result['calls_under_load']:.0f} | {result['p50_delay_ms']:.2f} ms"
            f" | {result['p99_delay_ms']:.2f} ms | {result['max_delay_ms']:.2f} ms"
            f" | {result['large_seconds']:.2f} s | {', '.join(map(str, result['statuses']))} |",  # type: ignore[call-overload]
            "",
            f"Before measuring, one large request started the worker process ({result['first_seconds']:.2f} s"
            " including its start); small calls alone: median above, measured for 2 s first.",
            "",
            "Reproduce: `.venv/bin/python benchmarks/emulator_large_request.py --write`. Target: a large request"
            " delays a concurrent small one by at most 50 ms (bodies of 256 KiB or more are decoded, validated,"
            " tokenised and hashed in a worker process; a 30 MB prompt is then refused as longer than the"
            " model's context window, before any billing).",
            END,
        ]
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    machine = _machine()
    result = measure(args.mb, args.rounds)
    section = render(result, machine, megabytes=args.mb, rounds=args.rounds)
    print(section)
    if args.write:
        write_section(section, begin=BEGIN, end=END)
        print("\nwrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
