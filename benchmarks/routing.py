"""Routing benchmarks: per-call decision latency, and the offline evaluation on real outcomes.

1. Latency of ``route()`` per call with a learned router (16,384 hashed features, trained on the
   RouteLLM MMLU training split), measured side by side with the seed article's rules table and a
   per-task verdict, on real prompts (MMLU, GSM8K, BANKING77), the cases interleaved per prompt.
   Each call is timed on its own with ``perf_counter_ns`` (wall); the table gives the median and
   99th percentile over every call of every round (no best-of filtering), and beside it the thread
   CPU time per call (``thread_time_ns`` over one pass of all prompts, median of the rounds) — the
   honest figure on a shared, loaded machine.
2. The offline evaluation (``clawback eval offline``) on RouteLLM MMLU and GSM8K and on RouterArena
   served through the emulator's replay responder.

Run: .venv/bin/python benchmarks/routing.py [--data ../shared/data] [--rounds 5] [--write]
``--write`` replaces the ``<!-- BEGIN routing -->`` … ``<!-- END routing -->`` section of
``docs/benchmarks.md`` (creating the file if needed) and leaves everything else alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from clawback.pricing.loader import load_catalogue
from clawback.routing.arena_replay import routerarena_via_emulator
from clawback.routing.datasets import load_classification, system_prompt
from clawback.routing.features import request_features
from clawback.routing.learned import train_linear
from clawback.routing.offline import OfflineResult, evaluate_benchmark, is_held_out, seed_rules
from clawback.routing.offline_data import load_routellm
from clawback.routing.paper import PAPER_CAVEAT, PUBLISHED_SAVING_SOURCE
from clawback.routing.policies import LearnedRouter
from clawback.routing.report import offline_html, percent
from clawback.routing.route import RoutingConfig, TaskPolicy, route

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- BEGIN routing -->", "<!-- END routing -->"
HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"


def _bodies(data: Path) -> list[tuple[str, dict[str, Any]]]:
    mmlu = load_routellm(data, "mmlu").outcomes[::14][:1000]
    gsm = load_routellm(data, "gsm8k").outcomes[::2][:500]
    out = [
        ("mmlu", {"model": SONNET, "max_tokens": 64, "messages": [{"role": "user", "content": o.prompt}]})
        for o in mmlu
    ]
    out += [
        ("gsm8k", {"model": SONNET, "max_tokens": 512, "messages": [{"role": "user", "content": o.prompt}]})
        for o in gsm
    ]
    task = load_classification(data, "banking77")
    system = system_prompt(task.labels)
    for text, _ in task.examples[::6][:500]:
        body = {
            "model": SONNET,
            "max_tokens": 32,
            "system": system,
            "messages": [{"role": "user", "content": text}],
        }
        out.append(("banking77", body))
    return out


def _learned(data: Path) -> LearnedRouter:
    train = [o for o in load_routellm(data, "mmlu").outcomes if not is_held_out(o.prompt)]
    model = train_linear([o.prompt for o in train], [o.cheap >= o.strong for o in train])
    return LearnedRouter(model, HAIKU, SONNET, 0.85)


def _time(fn: Callable[[], object]) -> int:
    start = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - start


def _cpu_per_call(fn: Callable[[dict[str, Any]], object], bodies: Sequence[dict[str, Any]]) -> float:
    start = time.thread_time_ns()
    for body in bodies:
        fn(body)
    return (time.thread_time_ns() - start) / len(bodies)


def latency(data: Path, rounds: int) -> list[dict[str, Any]]:
    """Per-call microseconds of each policy, on the same prompts, interleaved."""
    bodies = _bodies(data)
    learned = RoutingConfig(learned={"*": _learned(data)})
    rules = RoutingConfig(rules=seed_rules(HAIKU, SONNET))
    verdict = RoutingConfig(tasks={"intents": TaskPolicy("switch", model=HAIKU)})
    cases: dict[str, Callable[[dict[str, Any]], object]] = {
        "request_features() alone": lambda b: request_features(b),
        "route(): rules table": lambda b: route(b, None, rules),
        "route(): per-task verdict": lambda b: route(b, "intents", verdict),
        "route(): learned router": lambda b: route(b, None, learned),
    }
    walls: dict[str, list[int]] = {name: [] for name in cases}
    best: dict[str, list[int]] = {name: [1 << 62] * len(bodies) for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    plain = [body for _, body in bodies]
    for _ in range(rounds):
        for i, body in enumerate(plain):
            for name, fn in cases.items():
                took = _time(lambda fn=fn, body=body: fn(body))
                walls[name].append(took)
                best[name][i] = min(best[name][i], took)
        for name, fn in cases.items():
            cpus[name].append(_cpu_per_call(fn, plain))
    rows = []
    for name, times in walls.items():
        ordered = sorted(times)
        rows.append(
            {
                "case": name,
                "n": len(plain),
                "calls": len(ordered),
                "median_us": statistics.median(ordered) / 1000,
                "p99_us": ordered[int(0.99 * (len(ordered) - 1))] / 1000,
                "max_us": ordered[-1] / 1000,
                "cpu_us": statistics.median(cpus[name]) / 1000,
                "best_us": statistics.median(best[name]) / 1000,
            }
        )
    return rows


def _offline_rows(results: Sequence[OfflineResult]) -> list[str]:
    lines = [
        "| benchmark | policy | strong calls (calibrated threshold) | quality | CPT(50%) | CPT(80%) | APGR | strong calls at 95% | cost saved at 95% |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for p in r.policies:
            if not p.points:
                lines.append(f"| {r.benchmark} | {p.name} | — | — | — | — | — | — | {p.note} |")
                continue
            shown = p.operating or (p.points[0] if not p.is_curve else None)
            at = p.at_target
            lines.append(
                "| "
                + " | ".join(
                    [
                        r.benchmark,
                        p.name,
                        percent(shown.strong_share) if shown else "curve",
                        f"{shown.quality:.3f}" if shown else "",
                        percent(p.cpt50) if p.is_curve and p.cpt50 is not None else "",
                        percent(p.cpt80) if p.is_curve and p.cpt80 is not None else "",
                        f"{p.apgr:.3f}" if p.apgr is not None else "",
                        percent(at.strong_share) if at else "not reached",
                        percent(r.saving(at)) if at else "",
                    ]
                )
                + " |"
            )
    return lines


def _paper_rows(results: Sequence[OfflineResult]) -> list[str]:
    lines = [
        "| benchmark | | CPT(50%) | CPT(80%) | APGR | random CPT(50%) ÷ CPT(50%) | cost saved at 95% of GPT-4's quality |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        paper, learned, rnd = r.paper, r.policy("learned"), r.policy("random")
        if paper is None or learned is None or rnd is None or not learned.cpt50 or not rnd.cpt50:
            continue
        lines.append(
            f"| {r.benchmark} | RouteLLM paper, best router ({paper.table}) | {paper.best_cpt50:.2f}% | "
            f"{paper.best_cpt80:.2f}% | {paper.best_apgr:.3f} | {paper.saving_ratio_cpt50:.2f}x | "
            f"{percent(paper.published_saving_at_95, 0)} (authors' announcement) |"
        )
        for name in ("learned", "cascade"):
            p = r.policy(name)
            if p is None or not p.points or not p.cpt50 or p.cpt80 is None or p.apgr is None:
                continue
            lines.append(
                f"| {r.benchmark} | clawback {name}, held-out | {percent(p.cpt50, 2)} | {percent(p.cpt80, 2)} | "
                f"{p.apgr:.3f} | {rnd.cpt50 / p.cpt50:.2f}x | "
                f"{percent(r.saving(p.at_target)) if p.at_target else 'not reached'} |"
            )
    return lines


def _section(rows: list[dict[str, Any]], results: Sequence[OfflineResult], rounds: int) -> str:
    load = os.getloadavg()[0]
    machine = (
        f"{platform.machine()}, Python {platform.python_version()}, load average {load:.1f} during the run"
    )
    out = [
        "## Routing: decision latency and the offline evaluation",
        "",
        f"{date.today().isoformat()} · `.venv/bin/python benchmarks/routing.py --write` · {machine} · "
        f"{rounds} rounds",
        "",
        "Per-call time of the routing decision the drop-in client makes (pure Python; no numpy on this path), on "
        f"{rows[0]['n']:,} real prompts (MMLU, GSM8K, BANKING77 with its 77-label system prompt), the four cases "
        f"interleaved per prompt; wall time over all {rows[0]['calls']:,} timed calls per case (every round, no "
        "best-of), thread CPU time per call (one pass over all prompts, median of the rounds), and — as a proxy "
        "for an idle machine — the median over prompts of each prompt's fastest round:",
        "",
        "| case | thread CPU per call | wall median | wall p99 | wall max | fastest round, median |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r['case']} | {r['cpu_us']:.1f} µs | {r['median_us']:.1f} µs | {r['p99_us']:.1f} µs | "
        f"{r['max_us']:.1f} µs | {r['best_us']:.1f} µs |"
        for r in rows
    ]
    out += [
        "",
        "Offline evaluation on held-out prompts (`clawback eval offline routellm` and "
        "`clawback eval offline routerarena`; split: 30% held out by a hash of the prompt text). Cost for RouteLLM "
        "is relative to always-strong at the paper's price ratio (Mixtral $0.24 vs GPT-4 $24.7 per MTok); "
        "RouterArena's is USD from the emulator-served usage.",
        "",
        *_offline_rows(results),
        "",
        "Next to the figures the RouteLLM authors publish for the same outcomes (Ong et al., arXiv:2406.18665v4, "
        "Tables 2, 3 and 6 for CPT, APGR and the ratio; the saving at 95% of GPT-4's quality from "
        f"{PUBLISHED_SAVING_SOURCE}). {PAPER_CAVEAT}",
        "",
        *_paper_rows(results),
        "",
    ]
    for r in results:
        deltas = r.beats_random.get("learned")
        if deltas:
            cells = ", ".join(f"{d:+.3f}" for d in deltas)
            out.append(f"- {r.benchmark}: learned minus random at 10%…90% strong calls: {cells}.")
        for note in r.notes:
            out.append(f"- {r.benchmark}: {note}.")
    return "\n".join(out)


def _write(section: str) -> None:
    block = f"{BEGIN}\n{section}\n{END}"
    text = DOC.read_text("utf-8") if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text, "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--report", type=Path, help="also write the offline HTML report here")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    if not (args.data / "routellm-evals").exists():
        print(f"data folder {args.data} is absent", file=sys.stderr)
        return 2
    rows = latency(args.data, args.rounds)
    for row in rows:
        print(
            f"{row['case']:<28} cpu {row['cpu_us']:7.1f} µs   wall median {row['median_us']:7.1f} µs   "
            f"p99 {row['p99_us']:7.1f} µs   fastest-round median {row['best_us']:7.1f} µs"
        )
    results = [evaluate_benchmark(load_routellm(args.data, name)) for name in ("mmlu", "gsm8k")]
    results.append(evaluate_benchmark(routerarena_via_emulator(args.data, load_catalogue())))
    section = _section(rows, results, args.rounds)
    print(section)
    if args.report:
        args.report.write_text(offline_html(results), "utf-8")
    if args.write:
        _write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
