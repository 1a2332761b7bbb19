"""RouterArena served through the emulator's replay responder (the I/O edge of the offline run).

Every recorded answer is written to a replay file (model, prompt, answer text and the provider's
real output token count); the emulator serves them to the official SDK as ordinary Messages
responses; clawback prices each response's usage with its cost engine. The emulator counts the
*input* tokens itself (its offline estimator, about 4% median error on these very prompts, see
``docs/benchmarks.md``); output tokens are the recorded ones. Scores are RouterArena's recorded
scores for the prompt (its metrics — MCQ accuracy, METEOR, code tests — are not re-implemented).

Gemini 2.0 Flash is not a Claude model, so the emulator is given a catalogue with one extra entry
for it at RouterArena's published rates (``cost.json``); Claude 3 Haiku is priced from clawback's
own catalogue. The emulator's clock starts on 2025-06-01, before Claude 3 Haiku's retirement.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from clawback.errors import UpstreamError
from clawback.pricing.catalogue import Catalogue, Rates
from clawback.pricing.cost import price_usage
from clawback.routing.evaluate import RunRequest
from clawback.routing.offline_data import Benchmark, Outcome, read_routerarena, routerarena_rates

__all__ = ["ARENA_CLOCK_START", "arena_catalogue", "arena_replay_lines", "routerarena_via_emulator"]

ARENA_CLOCK_START = datetime(2025, 6, 1, tzinfo=UTC)
_MAX_TOKENS = 4096


def arena_replay_lines(data_dir: str | Path, models: Sequence[str]) -> list[dict[str, Any]]:
    """Replay records for every recorded answer of ``models``."""
    lines = []
    for model in models:
        for answer in read_routerarena(data_dir, model).values():
            lines.append(
                {
                    "model": model,
                    "prompt": answer.question,
                    "response": answer.answer,
                    "usage": {"output_tokens": answer.output_tokens},
                }
            )
    return lines


def arena_catalogue(base: Catalogue, data_dir: str | Path) -> Catalogue:
    """``base`` plus any RouterArena model it lacks, at RouterArena's published rates."""
    rates = routerarena_rates(data_dir)
    template = base.resolve("claude-3-haiku-20240307")
    extra = []
    for name, (rate_in, rate_out) in sorted(rates.items()):
        if name in base or not name.startswith("gemini-2.0-flash"):
            continue
        period = Rates(
            date(2025, 2, 5), rate_in, rate_out, rate_in, rate_in, rate_in, rate_in / 2, rate_out / 2
        )
        extra.append(
            replace(
                template,
                id=name,
                display_name=f"{name} (RouterArena price, for the offline evaluation only)",
                aliases=(),
                family="gemini",
                version="2.0",
                status="active",
                rates=(period,),
                source="https://github.com/RouteWorks/RouterArena model_cost/cost.json",
                released=date(2025, 2, 5),
                deprecated=None,
                retired=None,
                retires=None,
                notes="not a Claude model; cache and batch rates are placeholders",
                assumed=("cache rates", "batch rates"),
            )
        )
    return Catalogue([*base.models, *extra], sources=(*base.sources, "RouterArena cost.json"))


def _outcomes(
    data_dir: str | Path,
    cheap: str,
    strong: str,
    got: dict[str, Any],
    catalogue: Catalogue,
    ids: Sequence[str],
) -> list[Outcome]:
    recorded = {m: read_routerarena(data_dir, m) for m in (cheap, strong)}
    out = []
    for pid in ids:
        a, b = got.get(f"c-{pid}"), got.get(f"s-{pid}")
        if a is None or b is None or a.error or b.error or a.usage is None or b.usage is None:
            problem = (
                (a.error if a is not None else None) or (b.error if b is not None else None) or "no result"
            )
            raise UpstreamError(f"the emulator did not serve RouterArena prompt {pid}: {problem}")
        out.append(
            Outcome(
                id=pid,
                prompt=recorded[cheap][pid].question,
                cheap=recorded[cheap][pid].score,
                strong=recorded[strong][pid].score,
                cheap_answer=a.text,
                strong_answer=b.text,
                cheap_cost=price_usage(a.usage, catalogue.resolve(cheap)).total,
                strong_cost=price_usage(b.usage, catalogue.resolve(strong)).total,
                group=pid.rsplit("_", 1)[0],
            )
        )
    return out


def routerarena_via_emulator(
    data_dir: str | Path,
    catalogue: Catalogue,
    *,
    cheap: str = "gemini-2.0-flash-001",
    strong: str = "claude-3-haiku-20240307",
    limit: int | None = None,
    workers: int = 4,
) -> Benchmark:
    """RouterArena outcomes whose answers and usage come from the emulator's replay responder."""
    import anthropic

    from clawback.emulator.app import create_app
    from clawback.emulator.config import EmulatorConfig, ResponderConfig
    from clawback.emulator.server import running
    from clawback.routing.runners import MessagesRunner

    cat = arena_catalogue(catalogue, data_dir)
    ids = sorted(read_routerarena(data_dir, cheap))[:limit]
    questions = read_routerarena(data_dir, cheap)
    with tempfile.TemporaryDirectory(prefix="clawback-arena-") as tmp:
        replay = Path(tmp) / "routerarena-replay.jsonl"
        lines = arena_replay_lines(data_dir, (cheap, strong))
        replay.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
        responder = ResponderConfig(kind="replay", replay_file=replay)
        config = EmulatorConfig(responder=responder, clock="manual", start=ARENA_CLOCK_START)
        app = create_app(config, catalogue=cat)
        requests = [
            RunRequest(
                f"{tag}-{pid}",
                model,
                {
                    "model": model,
                    "max_tokens": _MAX_TOKENS,
                    "messages": [{"role": "user", "content": questions[pid].question}],
                },
            )
            for pid in ids
            for tag, model in (("c", cheap), ("s", strong))
        ]
        with running(app) as base_url:
            client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-emulator", max_retries=0)
            try:
                got = dict(MessagesRunner(client, workers=workers).run(requests))
            finally:
                client.close()
    outcomes = _outcomes(data_dir, cheap, strong, got, cat, ids)
    return Benchmark(
        name="routerarena",
        cheap_model=cheap,
        strong_model=strong,
        outcomes=tuple(outcomes),
        source=f"{Path(data_dir) / 'routerarena-cached'} served by the emulator's replay responder",
        notes=("input tokens counted by the emulator's estimator; output tokens as recorded",),
    )
