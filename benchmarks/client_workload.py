"""The drop-in client against the emulator: three ways to run the same workload, and its overhead.

Workload (deterministic, two simulated hours on the emulator's manual clock):

* a support-ticket classifier — a ~3,000-token system prompt, three retrieved knowledge-base chunks
  (out of twelve) and the ticket, one call every 10-50 s, answering a category;
* a multi-turn assistant — a ~1,500-token system prompt, conversations of 4-10 turns 20-120 s apart,
  a new conversation every few minutes.

It runs three ways, each on a fresh emulator with the same schedule: the plain SDK (no caching),
the seed article's single manual breakpoint on the system prompt, and ``clawback.Anthropic`` with
no breakpoints of its own (the planner places them). Costs come from each response's usage through
the cost engine, and for clawback also from its ledger: spent, baseline (what the same calls would
have cost as written) and saved, which must add up exactly — spent equal to the usage's cost, saved
equal to baseline minus spent — and the baseline is compared with what the plain SDK really paid.

The client's own CPU per call is measured by ``client_overhead.py``.

Run: .venv/bin/python benchmarks/client_workload.py [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import clawback
from clawback.client import ClientOptions
from clawback.emulator import EmulatorConfig
from clawback.emulator.config import ResponderConfig
from clawback.emulator.testing import TEST_KEY, emulator_client
from clawback.pricing import load_catalogue, parse_usage, price_usage

MODEL = "claude-sonnet-5-5"
ASSISTANT_MODEL = "claude-opus-5-5"
RESPONDER = ResponderConfig(
    kind="template",
    templates={MODEL: "shipping", ASSISTANT_MODEL: "Here is what I found about your question: {prompt}"},
)
WORDS = [
    "order",
    "shipping",
    "refund",
    "invoice",
    "account",
    "password",
    "delivery",
    "courier",
    "warehouse",
    "address",
    "payment",
    "card",
    "subscription",
    "plan",
    "upgrade",
    "downgrade",
    "warranty",
    "repair",
    "replacement",
    "damaged",
    "missing",
    "late",
    "tracking",
    "label",
    "customs",
    "duty",
    "return",
    "policy",
    "exchange",
    "size",
    "colour",
    "stock",
    "preorder",
    "discount",
    "voucher",
    "loyalty",
    "points",
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


@dataclass(frozen=True, slots=True)
class Call:
    at: float
    task: str
    model: str
    system: str
    messages: tuple[dict[str, Any], ...]
    max_tokens: int


def workload(seed: int = 7, hours: float = 2.0) -> list[Call]:
    """The call schedule: classifier and assistant calls, merged in time order."""
    rng = random.Random(seed)
    classifier_system = "You classify support tickets for an online shop. Policies:\n" + "\n".join(
        _text(rng, 40) for _ in range(60)
    )
    chunks = [f"Knowledge base article {i}: " + _text(rng, 170) for i in range(12)]
    assistant_system = "You are the shop's helpful assistant. Guidelines:\n" + "\n".join(
        _text(rng, 40) for _ in range(30)
    )
    end = hours * 3600
    calls: list[Call] = []
    t = 0.0
    while t < end:
        picked = sorted(rng.sample(range(len(chunks)), 3))
        context = "\n\n".join(chunks[i] for i in picked)
        ticket = f"Ticket #{rng.randint(10000, 99999)}: " + _text(rng, 30)
        content = [{"type": "text", "text": context}, {"type": "text", "text": ticket}]
        calls.append(
            Call(t, "classify", MODEL, classifier_system, ({"role": "user", "content": content},), 16)
        )
        t += rng.uniform(10, 50)
    t = 0.0
    while t < end:
        turns = rng.randint(4, 10)
        history: list[dict[str, Any]] = []
        at = t
        for turn in range(turns):
            history = [*history, {"role": "user", "content": f"Question {turn}: " + _text(rng, 25)}]
            calls.append(Call(at, "assistant", ASSISTANT_MODEL, assistant_system, tuple(history), 300))
            history = [*history, {"role": "assistant", "content": "Answer: " + _text(rng, 60)}]
            at += rng.uniform(20, 120)
        t += rng.uniform(120, 400)
    return sorted(calls, key=lambda c: c.at)


def _body(call: Call, *, manual_breakpoint: bool) -> dict[str, Any]:
    system: Any = call.system
    if manual_breakpoint:  # the seed article: one breakpoint, on the system prompt
        system = [{"type": "text", "text": call.system, "cache_control": {"type": "ephemeral"}}]
    return {
        "model": call.model,
        "max_tokens": call.max_tokens,
        "system": system,
        "messages": list(call.messages),
    }


@dataclass(frozen=True, slots=True)
class RunResult:
    name: str
    calls: int
    usage_usd: Decimal
    ledger_usd: Decimal | None
    read_share: float
    written: int
    baseline_usd: Decimal | None = None
    saved_usd: Decimal | None = None


def _run(name: str, calls: list[Call], ledger_dir: Path) -> RunResult:
    catalogue = load_catalogue()
    total = Decimal(0)
    read = prompt = written = 0
    ledger_path = ledger_dir / f"{name}.sqlite3"
    with emulator_client(EmulatorConfig(responder=RESPONDER)) as emu:
        clock = emu.state.clock
        start = clock.now()
        client: Any = emu.client
        if name == "clawback":
            client = clawback.Anthropic(
                base_url=emu.base_url, api_key=TEST_KEY, max_retries=0, ledger=ledger_path,
                options=ClientOptions(clock=clock.now, seed_from_ledger=0),
            )  # fmt: skip
        for call in calls:
            clock.advance(max(0.0, start + call.at - clock.now()))
            kwargs = _body(call, manual_breakpoint=name == "seed-article")
            message = (
                client.messages.create(**kwargs, task=call.task)
                if name == "clawback"
                else client.messages.create(**kwargs)
            )
            usage = parse_usage(message.usage)
            total += price_usage(
                usage, catalogue.resolve(message.model), at=date.fromtimestamp(clock.now())
            ).total
            read += usage.cache_read_input_tokens
            written += usage.cache_creation_input_tokens
            prompt += usage.prompt_tokens
        ledger_total = baseline = saved = None
        if name == "clawback":
            client.close()
            with clawback.open_ledger(ledger_path) as ledger:
                overall = ledger.summary().overall
            ledger_total, baseline, saved = overall.total_usd, overall.baseline_usd, overall.saved_usd
    share = read / prompt if prompt else 0.0
    return RunResult(name, len(calls), total, ledger_total, share, written, baseline, saved)


def machine() -> str:
    """Cores, CPU model and Python version of this host."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def markdown(results: list[RunResult], n_calls: int) -> str:
    base = results[0].usage_usd
    lines = [
        "## Drop-in client: the same workload three ways",
        "",
        f"{date.today()} · {machine()} · `.venv/bin/python benchmarks/client_workload.py --write docs/benchmarks.md`"
        f" · load average {os.getloadavg()[0]:.1f} at the end of the run",
        "",
        f"Two simulated hours on the emulator ({n_calls:,} calls): a support-ticket classifier on {MODEL} with a",
        "~3,000-token system prompt plus three of twelve retrieved chunks, and a multi-turn assistant on",
        f"{ASSISTANT_MODEL}. Costs from each response's usage through the cost engine; for clawback also from its",
        "ledger. The plain SDK sends no `cache_control`; the seed article's way puts one breakpoint on the",
        "system prompt; clawback's client is given the plain requests and places breakpoints itself.",
        "",
        "| way | cost | vs plain SDK | share of input read from cache | tokens written | ledger total |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        delta = (r.usage_usd - base) / base * 100
        ledger = f"${r.ledger_usd:.6f}" if r.ledger_usd is not None else "—"
        lines.append(
            f"| {r.name} | ${r.usage_usd:.6f} | {delta:+.1f}% | {r.read_share:.1%} | {r.written:,} | {ledger} |"
        )
    ours = results[-1]
    assert ours.baseline_usd is not None and ours.saved_usd is not None and ours.ledger_usd is not None
    lines += [
        "",
        "clawback's ledger after the run (`clawback ledger summary`): spent, the baseline — what the same calls",
        'would have cost sent as written, no breakpoints added (docs/ledger.md, "Savings") — and saved:',
        "",
        "| spent | baseline | saved | plain SDK's real cost | baseline − plain SDK |",
        "|---:|---:|---:|---:|---:|",
        f"| ${ours.ledger_usd} | ${ours.baseline_usd} | ${ours.saved_usd} | ${base} | "
        f"${ours.baseline_usd - base} |",
        "",
        "Spent equals the usage's cost and saved equals baseline minus spent, exactly (the run asserts both); the",
        "baseline computed from clawback's own usage equals what the plain SDK was billed for the same requests"
        + (" exactly." if ours.baseline_usd == base else f", within ${abs(ours.baseline_usd - base)}."),
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str, name: str = "client") -> None:
    """Replace (or append) the ``<!-- BEGIN name -->`` section of a Markdown file."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{section}\n{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--write", type=Path, help="replace the client section of this Markdown file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calls = workload(hours=args.hours)
    with tempfile.TemporaryDirectory() as tmp:
        results = [_run(name, calls, Path(tmp)) for name in ("plain-sdk", "seed-article", "clawback")]
    ours = results[-1]
    assert ours.ledger_usd == ours.usage_usd, "ledger and usage disagree"
    assert ours.baseline_usd is not None and ours.saved_usd == ours.baseline_usd - ours.ledger_usd
    text = markdown(results, len(calls))
    if args.json:
        print(json.dumps({"runs": [r.__dict__ for r in results]}, default=str, indent=2))
    else:
        print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
