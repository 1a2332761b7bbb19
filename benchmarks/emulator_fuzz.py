"""A fuzz campaign against ``clawback emulate``: thousands of valid and malformed requests, every route.

Requests are drawn by hypothesis from the strategies in ``tests/emulator/fuzzing.py`` (bodies
derived from the emulator's request schema, plus one certain-to-fail mutation for the malformed
ones) over messages, count_tokens, batch creation, poll, list, results, cancel, delete and models.
After each created batch the clock is advanced and the batch is retrieved and its results read.
Counted: 5xx answers, answers slower than 5 s (or none), malformed bodies not refused with a 4xx,
and error answers without the API's shape or ``request-id``; the server must answer a normal
request at the end.

    .venv/bin/python benchmarks/emulator_fuzz.py [--count 3000] [--seed 15] [--write]

``--write`` replaces the ``<!-- BEGIN emulator-fuzz -->`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx2  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from tests.emulator.fuzzing import HEADERS, Probe, check, request_strategy  # noqa: E402

from emulator_throughput import _free_port, _machine, _start_server, write_section  # noqa: E402

BEGIN, END = "<!-- BEGIN emulator-fuzz -->", "<!-- END emulator-fuzz -->"
HANG_SECONDS = 5.0


def _route(probe: Probe) -> str:
    path = probe.path.split("?")[0]
    if path.startswith("/v1/messages/batches/"):
        tail = next((t for t in ("/results", "/cancel") if path.endswith(t)), "")
        return f"{probe.method} batches/{{id}}{tail}"
    if path.startswith("/v1/models/"):
        return "GET models/{id}"
    return f"{probe.method} {path.removeprefix('/v1/')}"


def campaign(count: int, seed_value: int) -> dict[str, object]:
    """Run the campaign; returns the counts."""
    port = _free_port()
    server = _start_server(port, extra=("--clock", "manual"), pin=False)
    base = f"http://127.0.0.1:{port}"
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    hangs = 0
    slowest = 0.0
    malformed = 0
    try:
        with httpx2.Client(base_url=base, timeout=HANG_SECONDS) as http:

            def send(probe: Probe) -> httpx2.Response | None:
                nonlocal hangs, slowest
                sent[_route(probe)] += 1
                t0 = time.perf_counter()
                try:
                    response = http.request(probe.method, probe.path, content=probe.body, headers=HEADERS)
                except httpx2.TimeoutException:
                    hangs += 1
                    problems.append(
                        f"no answer within {HANG_SECONDS:g} s: {probe.method} {probe.path} ({probe.note})"
                    )
                    return None
                elapsed = time.perf_counter() - t0
                slowest = max(slowest, elapsed)
                if elapsed > HANG_SECONDS:
                    hangs += 1
                statuses[response.status_code] += 1
                problem = check(probe, response.status_code, response.headers, response.content)
                if problem is not None:
                    problems.append(problem)
                return response

            @seed(seed_value)
            @settings(
                max_examples=count,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(request_strategy())
            def one(probe: Probe) -> None:
                nonlocal malformed
                malformed += probe.invalid
                response = send(probe)
                if (
                    response is not None
                    and probe.path == "/v1/messages/batches"
                    and response.status_code == 200
                ):
                    batch_id = response.json()["id"]
                    http.post("/_emulator/clock/advance", json={"seconds": 10})
                    send(Probe("GET", f"/v1/messages/batches/{batch_id}"))
                    send(Probe("GET", "/v1/messages/batches?limit=5"))
                    send(Probe("GET", f"/v1/messages/batches/{batch_id}/results"))

            one()
            final = http.post(
                "/v1/messages",
                headers=HEADERS,
                json={
                    "model": "claude-haiku-5-5",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
            stats = http.get("/_emulator/stats").json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "requests": sum(sent.values()),
        "malformed": malformed,
        "routes": dict(sorted(sent.items())),
        "statuses": dict(sorted(statuses.items())),
        "server_5xx": sum(n for s, n in stats["statuses"].items() if int(s) >= 500),
        "hangs": hangs,
        "slowest_seconds": round(slowest, 3),
        "problems": problems,
        "final_status": final.status_code,
    }


def render(result: dict[str, object], machine: str, *, count: int, seed_value: int) -> str:
    """The Markdown section for docs/benchmarks.md."""
    statuses = ", ".join(f"{k}: {v:,}" for k, v in result["statuses"].items())  # type: ignore[attr-defined]
    routes = ", ".join(f"{k} {v:,}" for k, v in result["routes"].items())  # type: ignore[attr-defined]
    problems = result["problems"]
    return "\n".join(
        [
            BEGIN,
            "## Emulator fuzz campaign",
            "",
            f"Run {date.today().isoformat()} on {machine}.",
            f"`clawback emulate --clock manual`; {count:,} hypothesis examples (seed {seed_value}) drawn from the request"
            " schema's JSON Schema and from certain-to-fail mutations, over every route; each created batch is"
            " then retrieved, listed and its results read.",
            "",
            "| requests | of which malformed | 5xx (client / server stats) | no answer or slower than 5 s"
            " | malformed not refused with a 4xx, or without the error shape | slowest | normal request after |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {result['requests']:,} | {result['malformed']:,} |"
            f" {sum(v for k, v in result['statuses'].items() if k >= 500)} / {result['server_5xx']} |"  # type: ignore[attr-defined]
            f" {result['hangs']} | {len(problems)} | {result['slowest_seconds']} s | {result['final_status']} |",  # type: ignore[arg-type]
            "",
            f"Statuses: {statuses}. Routes: {routes}.",
            "",
            "Reproduce: `.venv/bin/python benchmarks/emulator_fuzz.py --count 3000 --write`."
            " The bounded version in `make test` is `tests/emulator/test_fuzz.py` (250 derandomized examples).",
            END,
        ]
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    machine = _machine()
    result = campaign(args.count, args.seed)
    for problem in result["problems"][:20]:  # type: ignore[index]
        print("PROBLEM", problem)
    section = render(result, machine, count=args.count, seed_value=args.seed)
    print(section)
    print(json.dumps({k: v for k, v in result.items() if k != "problems"}, indent=1))
    if args.write:
        write_section(section, begin=BEGIN, end=END)
        print("\nwrote docs/benchmarks.md")
    failed = result["hangs"] or result["problems"] or result["server_5xx"] or result["final_status"] != 200
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
