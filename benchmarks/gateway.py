"""Gateway benchmark: the clawback gateway beside the LiteLLM proxy, a minimal pass-through and the upstream alone.

    .venv/bin/python benchmarks/gateway.py            # full run: 3 rounds of 5-second runs (about 10 minutes)
    .venv/bin/python benchmarks/gateway.py --quick    # smoke run: one round of 2-second runs (about 1 minute)
    .venv/bin/python benchmarks/gateway.py --write    # ... and replace the gateway section of docs/benchmarks.md
    .venv/bin/python benchmarks/gateway.py --proxies direct,reference,litellm --connections 1 32
    .venv/bin/python benchmarks/gateway.py --render .bench/runs/TIME/results.json --note "..." --write

Side by side in one run: a fast mock of the Claude API (``benchmarks/gateway_upstream.py``) and ``wrk``
pinned to CPU 1; each proxy in turn pinned to CPU 0, started, checked with one JSON and one streamed
call, warmed up, measured in JSON and streaming mode at 1, 8, 32 and 64 keep-alive connections, probed
for the streaming time to first byte, and stopped. The proxies:

- ``direct``: the mock upstream alone, the baseline every "added" latency is measured over;
- ``reference``: ``benchmarks/gateway_reference.py``, uvicorn + uvloop + httptools, raw ASGI, an aiohttp
  pool upstream, usage read from JSON/SSE (issue 10's yardstick), run from ``.bench/reference-venv``;
- ``litellm``: the LiteLLM 1.100.5 proxy (``/v1/messages`` to an ``anthropic/`` model whose ``api_base``
  is the mock), installed by this script into ``.bench/litellm-venv`` (newer releases need a certifi the
  registry doesn't have), run with ``LITELLM_LOCAL_MODEL_COST_MAP=True`` and ``LITELLM_TELEMETRY=False``;
- ``gateway``: ``.venv/bin/clawback gateway --port P --config FILE`` with a managed key, the ledger and a
  budget on (see :func:`gateway_launch`, the one place its command line and config are written);
  skipped with a message while ``clawback gateway --help`` fails.

Needs ``wrk`` (Debian: ``apt-get install -y wrk``) and ``taskset`` (util-linux). Logs, configs and
``results.json`` of each run stay in ``.bench/runs/<time>/``. The pure parts (wrk output, medians,
targets, the Markdown) are in ``gateway_report.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import gateway_report as report
from gateway_load import (
    CLIENT_KEY,
    LOAD_CPU,
    MODEL,
    PROXY_CPU,
    Launch,
    Server,
    check_proxy,
    free_port,
    pinning,
    probe_ttfb,
    request_body,
    run_wrk,
    running,
    write_lua,
    wrk_missing,
)

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
DOC = ROOT / "docs" / "benchmarks.md"
BENCH = ROOT / ".bench"
LITELLM_VERSION = "1.100.5"
LITELLM_VENV = BENCH / "litellm-venv"
TOOLS_VENV = BENCH / "reference-venv"
# the mock upstream and the reference pass-through run on these (pinned: the yardstick must not move)
TOOLS = ("aiohttp==3.14.5", "uvicorn==0.55.0", "uvloop==0.23.0", "httptools==0.9.0")
UPSTREAM_KEY = "sk-ant-bench-upstream-000000000000"  # what the proxies send upstream (the mock ignores it)
GATEWAY_KEY = "sk-clawback-bench-00000000000000000"  # the managed gateway key wrk sends to the gateway


@dataclass(frozen=True, slots=True)
class Options:
    """What to measure and how long."""

    proxies: tuple[str, ...]
    modes: tuple[str, ...]
    connections: tuple[int, ...]
    runs: int
    seconds: float
    warmup: float
    probe_requests: int
    install: bool
    clawback: Path
    gateway_config: Path | None
    gateway_key: str | None


def gateway_launch(
    port: int,
    workdir: Path,
    upstream_url: str,
    *,
    clawback: Path,
    config: Path | None = None,
    key: str | None = None,
) -> Launch:
    """The clawback gateway's command line and config: the one place to align with the gateway's format.

    Managed mode: the client sends ``GATEWAY_KEY``; the config holds only its SHA-256 and the name of the
    environment variable holding the upstream key; the ledger is a SQLite file in the run's folder; the
    budgets are on but far from being reached. ``--gateway-config FILE`` (with ``--gateway-key``) replaces
    the written config with the caller's.
    """
    if config is None:
        config = workdir / "gateway.toml"
        config.write_text(
            "# written by benchmarks/gateway.py: one managed key, ledger and budgets on\n"
            f'ledger = "{workdir / "gateway-ledger.sqlite3"}"\n'
            "\n"
            "[[keys]]\n"
            'name = "bench"\n'
            f'key_sha256 = "{hashlib.sha256(GATEWAY_KEY.encode()).hexdigest()}"\n'
            'upstream_key_env = "CLAWBACK_BENCH_UPSTREAM_KEY"\n'
            'daily_usd = "1000000"\n'
            'monthly_usd = "10000000"\n'
            "requests_per_minute = 1000000000\n"
        )
        key = GATEWAY_KEY
    return Launch(
        argv=[str(clawback), "gateway", "--port", str(port), "--config", str(config)],
        env={
            "ANTHROPIC_BASE_URL": upstream_url,
            "CLAWBACK_BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
            "CLAWBACK_HOME": str(workdir / "clawback-home"),
        },
        client_key=key or GATEWAY_KEY,
    )


def reference_launch(port: int, upstream_url: str) -> Launch:
    """The minimal pass-through (issue 10's yardstick)."""
    python = TOOLS_VENV / "bin" / "python"
    return Launch(
        [str(python), str(HERE / "gateway_reference.py"), "--port", str(port)],
        {"ANTHROPIC_BASE_URL": upstream_url},
    )


def litellm_launch(port: int, workdir: Path, upstream_url: str) -> Launch:
    """The LiteLLM proxy, forwarding ``/v1/messages`` for ``MODEL`` to the mock upstream."""
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: anthropic/{MODEL}\n"
        f"      api_base: {upstream_url}\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
    )
    argv = [
        str(LITELLM_VENV / "bin" / "litellm"),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR"}
    return Launch(argv, env)


# ---------------------------------------------------------------- venvs and tools


def _venv(path: Path, requirements: Sequence[str], check: str, *, install: bool) -> None:
    """Create ``path`` with ``requirements`` unless ``check`` already runs there."""
    python = path / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0:
        return
    if not install:
        raise RuntimeError(f"{path} is missing or incomplete (run without --no-install to create it)")
    print(f"installing {' '.join(requirements)} into {path.relative_to(ROOT)} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *requirements], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(requirements)} failed: {done.stderr.strip()[-800:]}")


def ensure_tools(install: bool) -> None:
    """The venv of the mock upstream and the reference pass-through."""
    _venv(TOOLS_VENV, TOOLS, "import aiohttp, uvicorn, uvloop, httptools", install=install)


def ensure_litellm(install: bool) -> None:
    """The LiteLLM proxy's own venv, at exactly ``LITELLM_VERSION``."""
    check = (
        f"import importlib.metadata as m; assert m.version('litellm') == '{LITELLM_VERSION}'; import fastapi"
    )
    _venv(LITELLM_VENV, [f"litellm[proxy]=={LITELLM_VERSION}"], check, install=install)


def gateway_available(clawback: Path) -> str | None:
    """None when ``clawback gateway --help`` works, else why the gateway is skipped."""
    if not clawback.exists():
        return f"{clawback} not found (make dev)"
    done = subprocess.run([str(clawback), "gateway", "--help"], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        return f"`clawback gateway --help` failed ({why[-1] if why else done.returncode}): not on this checkout yet"
    return None


# ---------------------------------------------------------------- measuring


def one_round(
    name: str, server: Server, key: str, opts: Options, workdir: Path, samples: report.Samples
) -> None:
    """One run of every cell of a running proxy, then the streaming probe; figures go to ``samples``."""
    port = server.port
    problem = check_proxy(port, key)
    if problem is not None:
        samples.fail(f"check failed: {problem}")
        print(f"  {name}: check failed: {problem}", flush=True)
        return
    for mode in opts.modes:
        lua = write_lua(workdir / f"{name}-{mode}.lua", stream=mode == "stream", key=key)
        run_wrk(port, lua, opts.warmup, 32)
        for conns in opts.connections:
            before = server.cpu_seconds()
            run = run_wrk(port, lua, opts.seconds, conns)
            cpu = server.cpu_seconds() - before
            samples.add_run(mode, conns, run, cpu, server.peak_rss_mb())
            print(
                f"  {name:9} {mode:6} c={conns:<3} {run.rps:9,.0f} req/s  p50 {run.p50_ms:8.2f} ms"
                f"  p99 {run.p99_ms:8.2f} ms  CPU {cpu * 1000 / max(run.requests, 1):6.3f} ms/req"
                f"  errors {run.error_pct:5.2f}%",
                flush=True,
            )
    ttfb, ttlb = probe_ttfb(port, key, opts.probe_requests)
    samples.ttfb_ms += ttfb
    samples.ttlb_ms += ttlb
    samples.processes = max(samples.processes, len(server.pids()))
    print(
        f"  {name:9} stream probe: first byte {statistics.median(ttfb):.3f} ms,"
        f" last byte {statistics.median(ttlb):.3f} ms (median of {len(ttfb)})",
        flush=True,
    )


def _launch(name: str, port: int, workdir: Path, upstream_url: str, opts: Options) -> Launch:
    if name == "reference":
        return reference_launch(port, upstream_url)
    if name == "litellm":
        return litellm_launch(port, workdir, upstream_url)
    return gateway_launch(
        port, workdir, upstream_url, clawback=opts.clawback, config=opts.gateway_config, key=opts.gateway_key
    )


def _prepare(name: str, opts: Options) -> str | None:
    """None when ``name`` can run, else why it is skipped."""
    try:
        if name == "reference":
            ensure_tools(opts.install)
        elif name == "litellm":
            ensure_litellm(opts.install)
        elif name == "gateway":
            return gateway_available(opts.clawback)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        return str(exc)
    return None


def measure_all(opts: Options, workdir: Path) -> list[report.ProxyResult]:
    """The mock upstream for the whole run; each round starts, measures and stops every proxy in turn.

    Rounds rather than one proxy after the other: on a shared machine, load that comes and goes then
    falls on every proxy alike, and each cell's median is over rounds.
    """
    ensure_tools(opts.install)
    samples = {name: report.Samples() for name in opts.proxies}
    for name in opts.proxies:
        samples[name].skipped = _prepare(name, opts) if name != "direct" else None
        if samples[name].skipped:
            print(f"{report.LABELS[name]}: skipped: {samples[name].skipped}", flush=True)
    up_port = free_port()
    upstream_launch = Launch(
        [str(TOOLS_VENV / "bin" / "python"), str(HERE / "gateway_upstream.py"), "--port", str(up_port)]
    )
    with running(
        "upstream", upstream_launch, up_port, LOAD_CPU, workdir / "upstream.log", timeout=30
    ) as upstream:
        upstream_url = f"http://127.0.0.1:{up_port}"
        for round_no in range(1, opts.runs + 1):
            for name in opts.proxies:
                if samples[name].stopped:
                    continue
                print(f"round {round_no}/{opts.runs}, {report.LABELS[name]}:", flush=True)
                if name == "direct":
                    one_round(name, upstream, CLIENT_KEY, opts, workdir, samples[name])
                    continue
                port = free_port()
                launch = _launch(name, port, workdir, upstream_url, opts)
                log = workdir / f"{name}-{round_no}.log"
                try:
                    with running(name, launch, port, PROXY_CPU, log, timeout=180) as server:
                        one_round(name, server, launch.client_key, opts, workdir, samples[name])
                except (RuntimeError, OSError, ValueError) as exc:
                    samples[name].fail(f"round {round_no}: {str(exc).splitlines()[0]} (log: {log.name})")
                    print(f"  failed: {exc}", flush=True)
    return [samples[name].result(name) for name in opts.proxies]


# ---------------------------------------------------------------- the report


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    """CPU model, cores, memory, OS and Python, from /proc."""
    model, mem = "unknown CPU", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024**2:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores (nproc), {model}{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _pinning_text() -> str:
    if not pinning():
        return "No CPU pinning (one core or no taskset): the figures mix the proxy's work with the load's."
    return (
        f"The mock upstream and `wrk` share CPU {LOAD_CPU}; the proxy under test has CPU {PROXY_CPU} to itself"
        " (`taskset`), so requests/s is per core."
    )


def setup_notes(opts: Options) -> tuple[str, ...]:
    """How each proxy was configured, for the section."""
    gateway = (
        f"`--gateway-config {opts.gateway_config.name}`"
        if opts.gateway_config
        else "one managed key (stored as its SHA-256; the upstream key from the environment), a SQLite"
        " ledger, daily and monthly budgets on and far from reached (`gateway_launch` in the benchmark)"
    )
    size = len(request_body(stream=False))
    return (
        f"Request: `{MODEL}`, `max_tokens` 256, a system prompt and one user message ({size:,} bytes of JSON);"
        " the answer is a 497-byte Message or 12 SSE events, each with a usage object carrying cache reads.",
        "Set-up: *reference* is `benchmarks/gateway_reference.py` on " + ", ".join(TOOLS) + " (no ledger, no"
        f" budgets); *litellm* is `litellm[proxy]=={LITELLM_VERSION}` in its own venv, `litellm --config`"
        f" with one `anthropic/{MODEL}` model whose `api_base` is the mock, `drop_params: true`, no master"
        " key and no database, its default single uvicorn worker, `LITELLM_LOCAL_MODEL_COST_MAP=True"
        " LITELLM_TELEMETRY=False LITELLM_LOG=ERROR`; *gateway* is `.venv/bin/clawback gateway --port P"
        f" --config FILE` with {gateway}.",
    )


def _options(args: argparse.Namespace) -> Options:
    quick = args.quick
    return Options(
        proxies=tuple(p for p in report.PROXIES if p in args.proxies.split(",")),
        modes=tuple(args.modes),
        connections=tuple(args.connections),
        runs=args.runs or (1 if quick else 3),
        seconds=args.seconds or (2 if quick else 5),
        warmup=1 if quick else 2,
        probe_requests=args.probe_requests or (30 if quick else 200),
        install=not args.no_install,
        clawback=args.clawback,
        gateway_config=args.gateway_config,
        gateway_key=args.gateway_key,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run of 2 s per cell, 30 probes")
    parser.add_argument(
        "--proxies", default=",".join(report.PROXIES), help="comma-separated, of: %(default)s"
    )
    parser.add_argument("--modes", nargs="+", choices=report.MODES, default=list(report.MODES))
    parser.add_argument("--connections", nargs="+", type=int, default=[1, 8, 32, 64])
    parser.add_argument("--runs", type=int, help="wrk runs per cell (default 3; 1 with --quick)")
    parser.add_argument("--seconds", type=float, help="seconds per run (default 5; 2 with --quick)")
    parser.add_argument("--probe-requests", type=int, help="streamed calls in the TTFB probe (default 200)")
    parser.add_argument(
        "--write", action="store_true", help="replace the gateway section of docs/benchmarks.md"
    )
    parser.add_argument(
        "--no-install", action="store_true", help="never create .bench venvs; skip what is missing"
    )
    parser.add_argument("--clawback", type=Path, default=ROOT / ".venv" / "bin" / "clawback")
    parser.add_argument(
        "--gateway-config", type=Path, help="use this gateway config instead of the written one"
    )
    parser.add_argument("--gateway-key", help="the API key clients send with --gateway-config")
    parser.add_argument("--note", action="append", default=[], help="a paragraph to add to the section")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="render a saved run (with --write, --note) instead",
    )
    return parser


def _rendered(path: Path, notes: Sequence[str]) -> str:
    results, meta = report.load_results(json.loads(path.read_text()))
    return report.render(results, replace(meta, extra=(*meta.extra, *notes)))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    if args.render is not None:
        section = _rendered(args.render, args.note)
    else:
        section = _measured(args, argv)
    print("\n" + section)
    if args.write:
        DOC.write_text(report.replace_section(DOC.read_text(), section))
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


def _measured(args: argparse.Namespace, argv: Sequence[str] | None) -> str:
    unknown = set(args.proxies.split(",")) - set(report.PROXIES)
    if unknown:
        raise SystemExit(f"unknown proxies {sorted(unknown)}; choose from {','.join(report.PROXIES)}")
    if wrk_missing():
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian package wrk), then run again")
    opts = _options(args)
    if pinning():  # this script's own work (probes, checks) stays off the proxy's core
        os.sched_setaffinity(0, {LOAD_CPU})
    workdir = BENCH / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(
        [".venv/bin/python", "benchmarks/gateway.py", *(argv if argv is not None else sys.argv[1:])]
    )
    load_before = _load()
    results = measure_all(opts, workdir)
    meta = report.Meta(
        day=datetime.now().date().isoformat(),
        machine=machine(),
        command=command,
        load_before=load_before,
        load_after=_load(),
        runs=opts.runs,
        seconds=opts.seconds,
        probe_requests=opts.probe_requests,
        pinning=_pinning_text(),
        extra=(*setup_notes(opts), *args.note),
    )
    saved = workdir / "results.json"
    saved.write_text(json.dumps({"meta": asdict(meta), "results": [asdict(r) for r in results]}, indent=1))
    print(f"logs, configs and results.json: {workdir.relative_to(ROOT)}")
    return report.render(results, meta)


if __name__ == "__main__":
    raise SystemExit(main())
