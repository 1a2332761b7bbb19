"""The batch runner at 10,000 and 100,000 requests against the emulator: peak memory and overhead per request.

For each size the script starts ``clawback emulate`` in its own process (real clock, batches end
``--batch-seconds`` after creation), writes an input of N requests sharing a long system prompt,
and runs the job in a *child* process through the library API (``BatchRunner`` with the default
10,000-request batches, cache planning on). The child times every API call and every sleep; its
own overhead is the rest of the wall time (validation, shapes, journal writes, building bodies,
recording and pricing results, writing the output). The parent reads the child's peak RSS with
``os.wait4``.

Run: .venv/bin/python benchmarks/batch_runner.py [--sizes 10000 100000] [--markdown] [--write]

``--write-input PATH --count N`` only writes the input (the README's and docs/batch.md's example
uses ``--count 2000``) and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- BEGIN batch -->", "<!-- END batch -->"
SYSTEM = "You are a careful classifier of support tickets. Reply with one word: billing, bug or other. " * 40


def write_input(path: Path, count: int) -> None:
    """``count`` requests sharing a ~1,000-token system prompt, each with its own short question."""
    with path.open("w") as handle:
        for i in range(count):
            body = {
                "id": f"ticket-{i}",
                "model": "claude-haiku-5-5",
                "max_tokens": 8,
                "system": SYSTEM,
                "messages": [
                    {"role": "user", "content": f"Ticket {i}: I was charged twice for order {i * 7919}."}
                ],
            }
            handle.write(json.dumps(body) + "\n")


class TimedUpstream:
    """Wraps an upstream and adds up the time spent inside its calls (the emulator's share)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name == "results":
            return self._results
        if name == "create":
            return self._create

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed

    def _create(self, body: Iterable[bytes], length: int) -> Any:
        """The create call's time, less the time spent building its body (the runner's own work)."""
        building = [0.0]

        def measured() -> Iterator[bytes]:
            parts = iter(body)
            while True:
                t = time.perf_counter()
                part = next(parts, None)
                building[0] += time.perf_counter() - t
                if part is None:
                    return
                yield part

        start = time.perf_counter()
        try:
            return self.inner.create(measured(), length)
        finally:
            self.seconds += time.perf_counter() - start - building[0]
            self.calls += 1

    @contextmanager
    def _results(self, batch_id: str) -> Iterator[Iterator[str]]:
        with self.inner.results(batch_id) as lines:
            yield self._timed_lines(lines)

    def _timed_lines(self, lines: Iterator[str]) -> Iterator[str]:
        while True:
            start = time.perf_counter()
            try:
                line = next(lines)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield line


def child(args: argparse.Namespace) -> None:
    """Run one job through the library and print timings as JSON."""
    import anthropic

    from clawback.batch import BatchRunner, Journal, SdkUpstream
    from clawback.batch.machine import Backoff
    from clawback.pricing.loader import load_catalogue

    slept = [0.0]

    def sleep(seconds: float) -> None:
        slept[0] += seconds
        time.sleep(seconds)

    client = anthropic.Anthropic(base_url=args.base_url, api_key="sk-ant-bench", max_retries=0, timeout=600)
    upstream = TimedUpstream(SdkUpstream(client))
    policy = Backoff(first_poll=0.5, max_poll=2.0)
    with Journal.open(args.journal) as journal:
        runner = BatchRunner(journal, upstream, catalogue=load_catalogue(), sleep=sleep, policy=policy)
        job = runner.new_job(Path(args.input), Path(args.out), name="bench")
        t0 = time.perf_counter()
        report = runner.create(job)
        t1 = time.perf_counter()
        summary = runner.run("bench")
        t2 = time.perf_counter()
    out = {
        "requests": report.valid,
        "ingest_s": t1 - t0,
        "run_s": t2 - t1,
        "upstream_s": upstream.seconds,
        "upstream_calls": upstream.calls,
        "sleep_s": slept[0],
        "batches": summary.batches,
        "outcomes": dict(summary.outcomes),
        "cost_usd": str(summary.totals.total_cost),
        "standard_usd": str(summary.totals.standard_no_cache),
        "cache_read_tokens": summary.totals.cache_read_tokens,
    }
    print(json.dumps(out))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def emulator(batch_seconds: float) -> Iterator[str]:
    """``clawback emulate`` in its own process; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clawback",
            "emulate",
            "--port",
            str(port),
            "--batch-seconds",
            str(batch_seconds),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/_emulator/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(size: int, batch_seconds: float) -> dict[str, Any]:
    """One job of ``size`` requests: the child's timings plus its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="clawback-bench-") as tmp, emulator(batch_seconds) as url:
        folder = Path(tmp)
        write_input(folder / "in.jsonl", size)
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--base-url",
            url,
            "--input",
            str(folder / "in.jsonl"),
            "--out",
            str(folder / "out.jsonl"),
            "--journal",
            str(folder / "journal.sqlite3"),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"child failed for {size} requests (status {status})")
        result: dict[str, Any] = json.loads(output)
        result["peak_rss_mb"] = usage.ru_maxrss / 1024
        result["cpu_s"] = usage.ru_utime + usage.ru_stime  # the child's own CPU, SDK calls included
        with (folder / "out.jsonl").open("rb") as handle:
            result["output_lines"] = sum(1 for _ in handle)
        result["journal_mb"] = (folder / "journal.sqlite3").stat().st_size / 1e6
        result["input_mb"] = (folder / "in.jsonl").stat().st_size / 1e6
    own = result["ingest_s"] + result["run_s"] - result["upstream_s"] - result["sleep_s"]
    result["overhead_s"] = own
    result["overhead_us_per_request"] = own / size * 1e6
    return result


def markdown(results: Mapping[int, Mapping[str, Any]], command: str) -> str:
    """The benchmarks.md section."""
    today = datetime.now(UTC).date().isoformat()
    rows = [
        "| requests | batches | peak RSS | runner overhead | per request | of which ingest | waiting on emulator | journal |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results.items():
        rows.append(
            f"| {size:,} | {r['batches']} | {r['peak_rss_mb']:.0f} MB | {r['overhead_s']:.1f} s | "
            f"{r['overhead_us_per_request']:.0f} µs | {r['ingest_s']:.1f} s | "
            f"{r['upstream_s'] + r['sleep_s']:.1f} s | {r['journal_mb']:.0f} MB |"
        )
    return "\n".join(
        [
            BEGIN,
            "## Batch runner: memory and overhead at 10k and 100k requests",
            "",
            f"{today} · `{command}` · {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            "emulator in its own process (`clawback emulate --batch-seconds 2`), SQLite journal, default "
            "10,000-request batches, cache planning on (all requests share a ~1,000-token system prompt).",
            "",
            *rows,
            "",
            "*Peak RSS* is the runner process's maximum resident set (`os.wait4`). *Runner overhead* is wall "
            "time minus time inside API calls and sleeps: reading and validating every line, shapes and token "
            "estimates, the journal's writes, streaming each create body from the journal, recording and "
            "pricing every result and writing the output. Memory does not grow with the job: the input is "
            "streamed into the journal, create bodies are streamed from it, results are streamed into it in "
            "pages of 1,000, and the output is appended from it.",
            END,
        ]
    )


def write_section(text: str) -> None:
    """Replace (or append) the batch section of docs/benchmarks.md, leaving the others alone."""
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc = head + text + tail
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    DOC.write_text(doc)


def main() -> None:
    """Parse arguments; run the child or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-seconds", type=float, default=2.0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--write", action="store_true", help="update the batch section of docs/benchmarks.md")
    parser.add_argument(
        "--write-input", type=Path, metavar="PATH", help="only write an input of --count requests"
    )
    parser.add_argument("--count", type=int, default=2_000, help="requests for --write-input")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--journal", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_input is not None:
        args.write_input.parent.mkdir(parents=True, exist_ok=True)
        write_input(args.write_input, args.count)
        return
    if args.child:
        child(args)
        return
    results = {}
    for size in args.sizes:
        results[size] = measure(size, args.batch_seconds)
        print(json.dumps({"size": size, **results[size]}), file=sys.stderr)
    command = "python benchmarks/batch_runner.py " + " ".join(sys.argv[1:])
    text = markdown(results, command.strip())
    if args.markdown or not args.write:
        print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
