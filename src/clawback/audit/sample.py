"""A realistic 'log everything' sample for the demo: two weeks of calls from five tasks (deterministic).

``python -m clawback.audit.sample DIR`` writes ``DIR/sample-log.jsonl`` and ``DIR/audit-rules.toml``.

The workload, from 2026-11-10 to 2026-11-24 (UTC):

* ``support-classifier`` — Sonnet 5.5, a 2,400-token system prompt, a short ticket, a one-word
  label; business hours. Sends no ``cache_control`` at all. Cleared for Haiku 5.5 by the rules.
* ``rag-qa`` — Sonnet 5.5, instructions, then ``Current time: …`` with the breakpoint on it (so
  every call writes an entry nobody reads), three retrieved chunks and a question.
* ``assistant`` — Opus 5.5, multi-turn conversations with top-level automatic caching.
* ``nightly-summary`` — Sonnet 5.5, a burst at 02:00 every night, one long document per call;
  its 400-token instructions are below the 512-token cache minimum. Labelled latency-tolerant.
* an unlabelled extractor — Sonnet 5.5, a cached system prompt, a document, a short JSON answer
  under a generous ``max_tokens`` of 8,192; about 1 call in 70 runs away (the model repeats itself
  until it hits the limit, ``stop_reason: max_tokens``), which is what an output cap cuts. The
  audit finds the task as a prompt template.
* a few calls on a retired model (Claude 3.5 Sonnet), one on a model nobody prices, and two
  malformed lines.

Usage in each response is what the API would have billed: the requests go, in time order,
through clawback's cache rules engine with offline token estimates.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from clawback.audit.readers._shapes import ShapeMaker
from clawback.cache.rules import CacheEngine
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.loader import load_catalogue

__all__ = ["RULES", "SampleCall", "generate", "write_sample"]

START: Final = datetime(2026, 11, 10, tzinfo=UTC)
DAYS: Final = 14
EXTRACTOR_LIMIT: Final = 8192
RUNAWAY_RATE: Final = 0.015
RULES: Final = """# Audit rules for the demo sample (see docs/audit.md)
version = 1

[defaults]
output_cap_percentile = 99

[tasks."support-classifier"]
route_to = "claude-haiku-5-5"   # cleared after an evaluation on 500 real tickets

[tasks."nightly-summary"]
latency_tolerant = true
"""
_WORDS: Final = [
    "account",
    "billing",
    "card",
    "refund",
    "order",
    "shipping",
    "delivery",
    "invoice",
    "policy",
    "customer",
    "agent",
    "escalate",
    "priority",
    "answer",
    "context",
    "document",
    "section",
    "summary",
    "report",
    "revenue",
    "quarter",
    "growth",
    "churn",
    "metric",
    "product",
    "feature",
    "release",
    "contract",
    "renewal",
    "region",
    "support",
    "ticket",
    "status",
    "pending",
    "resolved",
    "category",
    "label",
    "confidence",
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
    "is",
    "are",
    "was",
    "be",
    "this",
    "that",
    "it",
    "not",
    "or",
    "can",
    "will",
    "should",
    "must",
]


@dataclass(frozen=True, slots=True)
class SampleCall:
    """One generated call: when, its label, the request body and the output length."""

    at: datetime
    task: str | None
    body: dict[str, Any]
    output_tokens: int
    workspace: str = "prod"
    tolerant: bool | None = None


def _text(rng: random.Random, words: int) -> str:
    out = rng.choices(_WORDS, k=words)
    for i in range(12, words, 13):
        out[i] += "."
    return " ".join(out)


def _busy(rng: random.Random, day: int, per_day: int, start_h: float, end_h: float) -> list[datetime]:
    base = START + timedelta(days=day)
    weekend = base.weekday() >= 5
    n = per_day // 4 if weekend else per_day
    return sorted(base + timedelta(hours=rng.uniform(start_h, end_h)) for _ in range(n))


@dataclass(slots=True)
class _Gen:
    rng: random.Random
    scale: float = 1.0
    prompts: dict[str, str] = field(default_factory=dict)

    def n(self, per_day: int) -> int:
        return max(1, round(per_day * self.scale))

    def prompt(self, name: str, words: int) -> str:
        if name not in self.prompts:
            self.prompts[name] = f"[{name}] " + _text(self.rng, words)
        return self.prompts[name]

    def classifier(self) -> Iterator[SampleCall]:
        system = self.prompt("classifier", 1250)
        for day in range(DAYS):
            for at in _busy(self.rng, day, self.n(130), 8, 18):
                ticket = _text(self.rng, self.rng.randint(40, 160))
                body = {"model": "claude-sonnet-5-5", "max_tokens": 64, "system": system,
                        "messages": [{"role": "user", "content": f"Ticket: {ticket}"}]}  # fmt: skip
                yield SampleCall(at, "support-classifier", body, self.rng.choice((2, 3, 3, 4, 5, 8)))

    def rag(self) -> Iterator[SampleCall]:
        instructions = self.prompt("rag", 700)
        chunks = [_text(self.rng, 320) for _ in range(60)]
        for day in range(DAYS):
            for at in _busy(self.rng, day, self.n(80), 7, 20):
                picked = self.rng.sample(chunks, 3)
                system = [
                    {"type": "text", "text": instructions},
                    {
                        "type": "text",
                        "text": f"Current time: {at.isoformat()}",
                        "cache_control": {"type": "ephemeral"},
                    },
                ]
                content = [{"type": "text", "text": c} for c in picked]
                content.append({"type": "text", "text": "Question: " + _text(self.rng, 25)})
                body = {"model": "claude-sonnet-5-5", "max_tokens": 1024, "system": system,
                        "messages": [{"role": "user", "content": content}]}  # fmt: skip
                yield SampleCall(at, "rag-qa", body, int(self.rng.triangular(120, 480, 260)))

    def assistant(self) -> Iterator[SampleCall]:
        system = self.prompt("assistant", 1200)
        for day in range(DAYS):
            for start in _busy(self.rng, day, self.n(9), 9, 19):
                at, messages = start, []
                for _turn in range(self.rng.randint(2, 6)):
                    messages.append({"role": "user", "content": _text(self.rng, self.rng.randint(20, 90))})
                    body = {"model": "claude-opus-5-5", "max_tokens": 4096, "system": system,
                            "cache_control": {"type": "ephemeral"}, "messages": list(messages)}  # fmt: skip
                    out = int(self.rng.triangular(120, 700, 300))
                    yield SampleCall(at, "assistant", body, out)
                    messages.append({"role": "assistant", "content": _text(self.rng, out)})
                    at += timedelta(seconds=self.rng.expovariate(1 / 150))

    def nightly(self) -> Iterator[SampleCall]:
        instructions = self.prompt("summary", 330)
        for day in range(DAYS):
            base = START + timedelta(days=day, hours=2)
            for i in range(self.n(30)):
                doc = _text(self.rng, self.rng.randint(1500, 2800))
                body = {"model": "claude-sonnet-5-5", "max_tokens": 1500, "system": instructions,
                        "messages": [{"role": "user", "content": f"Summarise:\n{doc}"}]}  # fmt: skip
                at = base + timedelta(seconds=i * 20 + self.rng.uniform(0, 10))
                yield SampleCall(
                    at, "nightly-summary", body, int(self.rng.triangular(250, 700, 420)), tolerant=True
                )

    def extractor(self) -> Iterator[SampleCall]:
        system = [
            {"type": "text", "text": self.prompt("extractor", 950), "cache_control": {"type": "ephemeral"}}
        ]
        for day in range(DAYS):
            for at in _busy(self.rng, day, self.n(60), 0, 24):
                doc = _text(self.rng, self.rng.randint(500, 1300))
                body = {"model": "claude-sonnet-5-5", "max_tokens": EXTRACTOR_LIMIT, "system": system,
                        "messages": [{"role": "user", "content": doc}]}  # fmt: skip
                runaway = self.rng.random() < RUNAWAY_RATE
                out = EXTRACTOR_LIMIT if runaway else int(self.rng.triangular(90, 260, 140))
                yield SampleCall(at, None, body, out)

    def oddities(self) -> Iterator[SampleCall]:
        system = self.prompt("legacy", 500)
        for i in range(24):
            at = START + timedelta(days=i // 2, hours=6, minutes=i)
            body = {"model": "claude-3-5-sonnet-20241022", "max_tokens": 800, "system": system,
                    "messages": [{"role": "user", "content": _text(self.rng, 300)}]}  # fmt: skip
            yield SampleCall(at, "legacy-report", body, 500)
        body = {"model": "acme-llm-2", "max_tokens": 200, "messages": [{"role": "user", "content": "ping"}]}
        yield SampleCall(START + timedelta(days=3, hours=11), "internal-eval", body, 40)


def generate(seed: int = 7, scale: float = 1.0) -> list[SampleCall]:
    """Every sample call, in time order (``scale`` multiplies the daily volumes)."""
    g = _Gen(random.Random(seed), scale)
    calls = [*g.classifier(), *g.rag(), *g.assistant(), *g.nightly(), *g.extractor(), *g.oddities()]
    return sorted(calls, key=lambda c: c.at)


def _line(
    call: SampleCall, engine: CacheEngine, index: int, catalogue: Catalogue, shapes: ShapeMaker
) -> dict[str, Any]:
    info = catalogue.get(call.body["model"])
    shape = shapes.shape(call.body, info.tokenizer if info else "pre-4.7")
    outcome = engine.process(
        shape, workspace=call.workspace, min_tokens=info.min_cacheable_tokens if info else 1 << 40,
        start=call.at.timestamp(),
    )  # fmt: skip
    usage = {
        "input_tokens": outcome.input_tokens,
        "cache_creation_input_tokens": outcome.cache_creation_input_tokens,
        "cache_read_input_tokens": outcome.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": outcome.cache_write_5m_input_tokens,
            "ephemeral_1h_input_tokens": outcome.cache_write_1h_input_tokens,
        },
        "output_tokens": call.output_tokens,
        "service_tier": "standard",
    }
    stop = "max_tokens" if call.output_tokens >= call.body["max_tokens"] else "end_turn"
    response = {"id": f"msg_{index:08d}", "type": "message", "role": "assistant", "model": call.body["model"],
                "content": [{"type": "text", "text": "…"}], "stop_reason": stop, "usage": usage}  # fmt: skip
    line: dict[str, Any] = {
        "timestamp": call.at.isoformat().replace("+00:00", "Z"),
        "workspace": call.workspace,
    }
    if call.task is not None:
        line["task"] = call.task
    if call.tolerant is not None:
        line["metadata"] = {"latency_tolerant": call.tolerant}
    line["request"] = call.body
    line["response"] = response
    return line


def write_sample(directory: Path, seed: int = 7, scale: float = 1.0) -> tuple[Path, Path]:
    """Write the sample log and its rules file into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    log, rules = directory / "sample-log.jsonl", directory / "audit-rules.toml"
    engine, catalogue, shapes = CacheEngine(), load_catalogue(), ShapeMaker()
    with log.open("w", encoding="utf-8") as out:
        for index, call in enumerate(generate(seed, scale)):
            out.write(json.dumps(_line(call, engine, index, catalogue, shapes), separators=(",", ":")) + "\n")
            if index == 120:
                out.write('{"timestamp": "2026-11-12T10:00:00Z", "request": {"model": "claude-sonnet-5-5"\n')
            if index == 340:
                bad = {"timestamp": "2026-11-15T10:00:00Z", "response": {"model": "claude-haiku-5-5",
                       "usage": {"input_tokens": -5, "output_tokens": 3}}}  # fmt: skip
                out.write(json.dumps(bad) + "\n")
    rules.write_text(RULES, "utf-8")
    return log, rules


def main(argv: list[str] | None = None) -> None:
    """``python -m clawback.audit.sample DIR [SCALE]``."""
    args = sys.argv[1:] if argv is None else argv
    log, rules = write_sample(Path(args[0] if args else "."), scale=float(args[1]) if len(args) > 1 else 1.0)
    print(f"{log}\n{rules}")


if __name__ == "__main__":
    main()
