"""Run every benchmark one after another and let each update its section of docs/benchmarks.md.

Benchmarks run alone, in sequence (never in parallel: these machines are noisy and every figure is a
median measured side by side in one run). A benchmark whose data is absent says so and is skipped;
one that fails does not stop the others, and the exit status is non-zero when any failed.

    .venv/bin/python benchmarks/run_all.py            # everything (about an hour)
    .venv/bin/python benchmarks/run_all.py --list     # names only
    .venv/bin/python benchmarks/run_all.py --only emulator_throughput gateway
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = "docs/benchmarks.md"

# name -> arguments after the script (each writes its own marked section of docs/benchmarks.md)
BENCHMARKS: dict[str, list[str]] = {
    "token_estimator": ["--markdown"],  # prints only: its table is edited by hand into the docs
    "routing": ["--write"],
    "mooncake_replay": ["--write", DOC],
    "audit_real": ["--write"],
    "audit_ccusage": ["--write"],
    "audit_scale": ["--write"],
    "ledger_write": ["--write-docs"],
    "emulator_throughput": ["--write"],
    "emulator_fuzz": ["--write"],
    "emulator_large_request": ["--write"],
    "batch_runner": ["--write"],
    "client_workload": ["--write", DOC],
    "client_overhead": ["--write", DOC],
    "gateway": ["--write"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run these only")
    parser.add_argument("--list", action="store_true", help="print the benchmarks' names and stop")
    args = parser.parse_args()
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    names = args.only or list(BENCHMARKS)
    failed: list[str] = []
    for name in names:
        command = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *BENCHMARKS[name]]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(command, cwd=ROOT)
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
