"""The gateway benchmark's pure parts: reading wrk's output, medians, targets, the Markdown section.

No processes, sockets or clocks here (``benchmarks/gateway.py`` runs the servers and the load), so
``tests/test_gateway_bench.py`` checks all of it on plain values.

Definitions used in every table:

- *requests/s*: wrk's figure for one run; the cell shows the median of its runs. Every proxy is pinned
  to one core, so this is requests/s per core.
- *errors*: non-2xx responses plus socket errors (connect, read, write, timeout) over requests plus
  socket errors. A cell with 1% errors or more does not count towards "max requests/s under 1% errors".
- *added p50/p99*: the cell's median p50/p99 minus the direct (upstream alone) cell's at the same mode
  and connections.
- *CPU per request*: the server's CPU time (user + system, every process of it) during a run over the
  requests wrk completed in that run; median of the runs. *Core busy* is that CPU time over the run's
  wall time: well under 100% at many connections means the server did not get its core (other load on
  a shared machine) or waited on something else, and *requests per CPU-second* (1000 / CPU ms per
  request) is then the fairer measure of what one core can do.
- *peak RSS*: the largest ``VmHWM`` of the server's processes, read after the cell's last run (it only
  grows, so the last cell of a proxy holds its peak).
"""

from __future__ import annotations

import operator
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

BEGIN, END = "<!-- BEGIN gateway -->", "<!-- END gateway -->"
PROXIES = ("direct", "reference", "litellm", "gateway")
LABELS = {
    "direct": "upstream alone (direct)",
    "reference": "minimal pass-through (reference)",
    "litellm": "LiteLLM 1.100.5 proxy",
    "gateway": "clawback gateway",
}
MODES = ("json", "stream")
MODE_TITLES = {"json": "JSON (non-streaming)", "stream": "streaming (SSE)"}
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass(frozen=True, slots=True)
class Targets:
    """The issue's targets for the clawback gateway (ledger and budgets on)."""

    ratio_vs_litellm_at_32: float = 25.0
    rps_per_core: float = 2500.0
    added_p50_ms_at_1: float = 0.5
    p99_ms_at_32: float = 20.0
    rss_mb: float = 100.0
    ttfb_added_ms: float = 1.0
    max_error_pct: float = 1.0


@dataclass(frozen=True, slots=True)
class WrkRun:
    """What one ``wrk --latency`` run printed."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0

    @property
    def error_pct(self) -> float:
        """Failed responses and socket errors as a percentage of everything attempted."""
        attempted = self.requests + self.socket_errors
        return 100.0 * (self.non_2xx + self.socket_errors) / attempted if attempted else 100.0


@dataclass(frozen=True, slots=True)
class Cell:
    """One proxy × mode × connection count: medians of its runs."""

    proxy: str
    mode: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    error_pct: float
    cpu_ms_per_request: float | None
    peak_rss_mb: float | None
    runs_rps: tuple[float, ...] = ()
    cpu_busy_pct: float | None = None

    @property
    def rps_per_cpu_second(self) -> float | None:
        """Requests the server would serve with a whole core to itself, from its CPU time per request."""
        return 1000 / self.cpu_ms_per_request if self.cpu_ms_per_request else None


@dataclass(frozen=True, slots=True)
class ProxyResult:
    """Everything measured for one proxy, or why it was skipped."""

    proxy: str
    cells: tuple[Cell, ...] = ()
    peak_rss_mb: float | None = None
    processes: int = 1
    ttfb_ms: float | None = None
    ttlb_ms: float | None = None
    skipped: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """One target checked for one proxy: the figure shown and whether it passes (None: not measured)."""

    target: str
    proxy: str
    shown: str
    ok: bool | None


@dataclass(frozen=True, slots=True)
class Meta:
    """Where and how the run was made, for the section's header."""

    day: str
    machine: str
    command: str
    load_before: str
    load_after: str
    runs: int
    seconds: float
    probe_requests: int
    pinning: str
    extra: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class Samples:
    """The raw figures of one proxy, gathered over the rounds of a run (the only mutable value here)."""

    runs: dict[tuple[str, int], list[tuple[WrkRun, float | None]]] = field(default_factory=dict)
    rss_mb: dict[tuple[str, int], float] = field(default_factory=dict)
    ttfb_ms: list[float] = field(default_factory=list)
    ttlb_ms: list[float] = field(default_factory=list)
    processes: int = 1
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """True once the proxy is skipped or has failed: later rounds leave it out."""
        return self.skipped is not None or any(note.startswith("stopped") for note in self.notes)

    def fail(self, why: str) -> None:
        """A round failed: skip the proxy if nothing was measured yet, else keep its figures with a note."""
        if self.runs:
            self.notes.append(f"stopped after a failure, {why}")
        else:
            self.skipped = why

    def add_run(
        self, mode: str, connections: int, run: WrkRun, cpu_s: float | None, rss_mb: float | None
    ) -> None:
        """One wrk run of a cell, the server's CPU seconds during it and its VmHWM after it."""
        self.runs.setdefault((mode, connections), []).append((run, cpu_s))
        if rss_mb is not None:
            self.rss_mb[mode, connections] = max(rss_mb, self.rss_mb.get((mode, connections), 0.0))

    def result(self, proxy: str) -> ProxyResult:
        """Medians per cell, the peak RSS over everything, the median TTFB over every probe."""
        if self.skipped is not None:
            return ProxyResult(proxy, skipped=self.skipped)
        cells = tuple(
            summarise(proxy, mode, conns, runs, peak_rss_mb=self.rss_mb.get((mode, conns)))
            for (mode, conns), runs in self.runs.items()
        )
        return ProxyResult(
            proxy,
            cells,
            peak_rss_mb=max(self.rss_mb.values(), default=None),
            processes=self.processes,
            ttfb_ms=statistics.median(self.ttfb_ms) if self.ttfb_ms else None,
            ttlb_ms=statistics.median(self.ttlb_ms) if self.ttlb_ms else None,
            notes=tuple(self.notes),
        )


def parse_ms(text: str) -> float:
    """A wrk duration (``112.00us``, ``1.50ms``, ``2.00s``, ``1.00m``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise ValueError(f"cannot read wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(out: str) -> WrkRun:
    """Read ``wrk --latency`` output; raises ValueError when it holds no result."""
    done = re.search(r"(\d+) requests in ([\d.]+\w+),", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done is None or rate is None:
        raise ValueError(f"not wrk --latency output: {out[:200]!r}")
    pct = {p: re.search(rf"^\s+{p}%\s+(\S+)", out, re.MULTILINE) for p in ("50", "90", "99")}
    missing = [p for p, m in pct.items() if m is None]
    if missing:
        raise ValueError(f"wrk output has no latency distribution (run it with --latency): missing {missing}")
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkRun(
        requests=int(done.group(1)),
        seconds=parse_ms(done.group(2)) / 1000,
        rps=float(rate.group(1)),
        p50_ms=parse_ms(pct["50"].group(1)),  # type: ignore[union-attr]
        p90_ms=parse_ms(pct["90"].group(1)),  # type: ignore[union-attr]
        p99_ms=parse_ms(pct["99"].group(1)),  # type: ignore[union-attr]
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in socket.groups()) if socket else 0,
    )


def summarise(
    proxy: str,
    mode: str,
    connections: int,
    runs: Sequence[tuple[WrkRun, float | None]],
    *,
    peak_rss_mb: float | None = None,
) -> Cell:
    """The cell for ``runs`` (each a wrk run and the server's CPU seconds during it, None if unknown)."""
    if not runs:
        raise ValueError("a cell needs at least one run")
    cpu = [seconds * 1000 / run.requests for run, seconds in runs if seconds is not None and run.requests]
    busy = [100 * seconds / run.seconds for run, seconds in runs if seconds is not None and run.seconds]
    return Cell(
        proxy=proxy,
        mode=mode,
        connections=connections,
        rps=statistics.median(run.rps for run, _ in runs),
        p50_ms=statistics.median(run.p50_ms for run, _ in runs),
        p99_ms=statistics.median(run.p99_ms for run, _ in runs),
        error_pct=statistics.median(run.error_pct for run, _ in runs),
        cpu_ms_per_request=statistics.median(cpu) if cpu else None,
        peak_rss_mb=peak_rss_mb,
        runs_rps=tuple(run.rps for run, _ in runs),
        cpu_busy_pct=statistics.median(busy) if busy else None,
    )


def find(results: Iterable[ProxyResult], proxy: str, mode: str, connections: int) -> Cell | None:
    """The cell of ``proxy`` at ``mode`` and ``connections``, if it was measured."""
    for result in results:
        if result.proxy == proxy:
            for cell in result.cells:
                if cell.mode == mode and cell.connections == connections:
                    return cell
    return None


def added(cell: Cell, direct: Cell | None) -> tuple[float | None, float | None]:
    """Added p50 and p99 of ``cell`` over the upstream alone (None without a direct cell)."""
    if direct is None:
        return None, None
    return cell.p50_ms - direct.p50_ms, cell.p99_ms - direct.p99_ms


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, None when either is missing or the denominator is zero."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def max_rps(result: ProxyResult, mode: str, max_error_pct: float = 1.0) -> float | None:
    """The highest median requests/s of ``mode``'s cells with fewer than ``max_error_pct`` errors."""
    ok = [c.rps for c in result.cells if c.mode == mode and c.error_pct < max_error_pct]
    return max(ok) if ok else None


def _get(results: Sequence[ProxyResult], proxy: str) -> ProxyResult | None:
    return next((r for r in results if r.proxy == proxy and r.skipped is None), None)


def verdicts(results: Sequence[ProxyResult], proxy: str, targets: Targets = Targets()) -> list[Verdict]:
    """Every target checked for ``proxy`` (normally the gateway; the reference for context)."""
    me, direct = _get(results, proxy), _get(results, "direct")
    t = targets
    checks: list[tuple[str, float | None, Callable[[float, float], bool], float, str]] = []
    for mode in MODES:
        word = "JSON" if mode == "json" else "streaming"
        at32, litellm32 = find(results, proxy, mode, 32), find(results, "litellm", mode, 32)
        one, base = find(results, proxy, mode, 1), find(results, "direct", mode, 1)
        checks += [
            (
                f"{word}: requests/s at 32 connections ≥ {t.ratio_vs_litellm_at_32:g}× LiteLLM's",
                ratio(at32.rps if at32 else None, litellm32.rps if litellm32 else None),
                operator.ge,
                t.ratio_vs_litellm_at_32,
                "{:.1f}×",
            ),
            (
                f"{word}: max requests/s per core under {t.max_error_pct:g}% errors ≥ {t.rps_per_core:,.0f}",
                max_rps(me, mode, t.max_error_pct) if me else None,
                operator.ge,
                t.rps_per_core,
                "{:,.0f}/s",
            ),
            (
                f"{word}: added p50 at 1 connection ≤ {t.added_p50_ms_at_1:g} ms",
                added(one, base)[0] if one else None,
                operator.le,
                t.added_p50_ms_at_1,
                "{:+.2f} ms",
            ),
            (
                f"{word}: p99 at 32 connections ≤ {t.p99_ms_at_32:g} ms",
                at32.p99_ms if at32 else None,
                operator.le,
                t.p99_ms_at_32,
                "{:.1f} ms",
            ),
        ]
    ttfb = me.ttfb_ms if me else None
    base_ttfb = direct.ttfb_ms if direct else None
    checks += [
        (
            f"peak RSS per process < {t.rss_mb:g} MB",
            me.peak_rss_mb if me else None,
            operator.lt,
            t.rss_mb,
            "{:.0f} MB",
        ),
        (
            f"streaming time to first byte within {t.ttfb_added_ms:g} ms of direct",
            ttfb - base_ttfb if ttfb is not None and base_ttfb is not None else None,
            operator.le,
            t.ttfb_added_ms,
            "{:+.2f} ms",
        ),
    ]
    return [
        Verdict(label, proxy, "not measured", None)
        if value is None
        else Verdict(label, proxy, fmt.format(value), bool(compare(value, limit)))
        for label, value, compare, limit, fmt in checks
    ]


def _ms(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f} ms" if signed else f"{value:.2f} ms"


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "—" if value is None else fmt.format(value)


def cell_rows(results: Sequence[ProxyResult], mode: str) -> list[str]:
    """The Markdown table of one mode: every connection count × proxy."""
    rows = [
        "| connections | proxy | requests/s | p50 | p99 | added p50 | added p99 | CPU per request | core busy"
        " | peak RSS | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    connections = sorted({c.connections for r in results for c in r.cells if c.mode == mode})
    for conns in connections:
        direct = find(results, "direct", mode, conns)
        for result in results:
            cell = find([result], result.proxy, mode, conns)
            if cell is None:
                continue
            add50, add99 = added(cell, direct) if result.proxy != "direct" else (None, None)
            cpu = _num(cell.cpu_ms_per_request, "{:.2f} ms")
            rss = _num(cell.peak_rss_mb, "{:.0f} MB")
            busy = _num(cell.cpu_busy_pct, "{:.0f}%")
            rows.append(
                f"| {conns} | {result.proxy} | {cell.rps:,.0f} | {_ms(cell.p50_ms)} | {_ms(cell.p99_ms)} |"
                f" {_ms(add50, True)} | {_ms(add99, True)} | {cpu} | {busy} | {rss} | {cell.error_pct:.2f}% |"
            )
    return rows


def proxy_rows(results: Sequence[ProxyResult], probe_requests: int) -> list[str]:
    """One row per proxy: best throughput, the ratio to LiteLLM at 32 connections, memory, stream TTFB."""
    rows = [
        "| proxy | max requests/s under 1% errors, JSON / streaming | ÷ LiteLLM at 32 connections, JSON / streaming"
        " | requests per CPU-second at 32 connections, JSON / streaming"
        f" | peak RSS (processes) | streaming TTFB, median of {probe_requests} | TTFB vs direct |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    direct = _get(results, "direct")
    for result in results:
        if result.skipped is not None:
            rows.append(f"| {result.proxy} | skipped: {result.skipped} | | | | | |")
            continue
        best = " / ".join(_num(max_rps(result, mode)) for mode in MODES)
        ratios, per_cpu = [], []
        for mode in MODES:
            mine, theirs = find(results, result.proxy, mode, 32), find(results, "litellm", mode, 32)
            ratios.append(_num(ratio(mine.rps if mine else None, theirs.rps if theirs else None), "{:.1f}×"))
            per_cpu.append(_num(mine.rps_per_cpu_second if mine else None))
        ttfb_vs = (
            result.ttfb_ms - direct.ttfb_ms
            if direct is not None and direct.ttfb_ms is not None and result.ttfb_ms is not None
            else None
        )
        rss = f"{_num(result.peak_rss_mb, '{:.0f} MB')} ({result.processes})"
        rows.append(
            f"| {result.proxy} | {best} | {' / '.join(ratios)} | {' / '.join(per_cpu)} | {rss} | {_ms(result.ttfb_ms)} |"
            f" {_ms(ttfb_vs, True) if result.proxy != 'direct' else '—'} |"
        )
    return rows


def _mark(verdict: Verdict) -> str:
    return {True: " pass", False: " **FAIL**", None: ""}[verdict.ok]


def target_rows(results: Sequence[ProxyResult], targets: Targets = Targets()) -> list[str]:
    """Pass/fail of every target for the gateway, with the reference pass-through beside it."""
    gateway, reference = verdicts(results, "gateway", targets), verdicts(results, "reference", targets)
    rows = ["| target | clawback gateway | reference pass-through (context) |", "|---|---|---|"]
    for mine, ref in zip(gateway, reference, strict=True):
        rows.append(f"| {mine.target} | {mine.shown}{_mark(mine)} | {ref.shown}{_mark(ref)} |")
    return rows


def render(results: Sequence[ProxyResult], meta: Meta, targets: Targets = Targets()) -> str:
    """The whole ``docs/benchmarks.md`` section, markers included."""
    lines = [
        BEGIN,
        "## Gateway: the clawback gateway beside the LiteLLM proxy and a minimal pass-through",
        "",
        f"{meta.day} · `{meta.command}` · {meta.machine} · load average {meta.load_before} at the start,"
        f" {meta.load_after} at the end",
        "",
        "Every proxy forwards `POST /v1/messages` (Anthropic format) to a fast mock of the Claude API"
        " (`benchmarks/gateway_upstream.py`: uvloop and httptools, a realistic usage object, the API's SSE"
        f" events). {meta.pinning} The run is made of {meta.runs} round(s); in each, every proxy in turn is"
        " started, checked (one JSON and one streamed call), warmed up, given one wrk run of"
        f" {meta.seconds:g} s per cell (`wrk -t1 -cN --latency`, keep-alive connections), probed and stopped,"
        " so load that comes and goes on a shared machine falls on all of them alike; a cell is the median"
        " over the rounds. *Added* latency is over the upstream alone (the direct rows) at the same"
        " connections. CPU per request is the server's CPU time (all its processes, from /proc) over the"
        " requests served, *core busy* that CPU time over the wall time; peak RSS is the largest `VmHWM` of"
        " its processes; errors are non-2xx responses plus socket errors. The streaming time to first byte"
        f" (TTFB) is the median of {meta.probe_requests} sequential streamed calls per round on one keep-alive"
        " connection (a raw socket: request sent to first body byte); the mock sends the first three events"
        " at once and the rest 20 ms later, so a proxy that holds the stream back shows up there.",
        "",
    ]
    for extra in meta.extra:
        lines += [extra, ""]
    for mode in MODES:
        rows = cell_rows(results, mode)
        if len(rows) > 2:
            lines += [f"### {MODE_TITLES[mode]}", "", *rows, ""]
    lines += ["### Per proxy", "", *proxy_rows(results, meta.probe_requests), ""]
    lines += [
        "### Targets (clawback gateway with the ledger and budgets on)",
        "",
        *target_rows(results, targets),
        "",
    ]
    for result in results:
        lines += [f"- {result.proxy}: {note}" for note in result.notes]
    lines.append(END)
    return "\n".join(line for line in lines)


def load_results(data: dict[str, Any]) -> tuple[list[ProxyResult], Meta]:
    """The results and meta of a saved run (``results.json``: ``asdict`` of each), for ``--render``."""
    results = []
    for raw in data["results"]:
        cells = tuple(Cell(**{**cell, "runs_rps": tuple(cell["runs_rps"])}) for cell in raw["cells"])
        results.append(ProxyResult(**{**raw, "cells": cells, "notes": tuple(raw["notes"])}))
    meta = Meta(**{**data["meta"], "extra": tuple(data["meta"]["extra"])})
    return results, meta


def replace_section(text: str, section: str) -> str:
    """``text`` with its gateway section replaced by ``section`` (appended when it has none)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + section + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + section + "\n"
