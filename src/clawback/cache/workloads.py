"""Workloads for the cache benchmark and tests: generated from a seed, or from logged requests (pure).

:func:`agent_loop` is a workload of a different shape from the Mooncake traces: coding agents
that loop over tool calls. Each session sends the same tools and one of a few system prompts, a
task, then turn after turn the model's tool call and the tools' results, which grow the prompt by
many blocks a turn (a file read, a search, a test run: 1 to 40 blocks of 150 to 2,500 tokens), so
that a turn often adds more than the 20 blocks the cache looks back over. Turns follow each other
after the model's latency (4 to 90 seconds); now and then a session waits for a person (2 to 40
minutes) before it goes on; sessions end after a geometric number of turns. Sessions start at
random over ``hours`` hours, busier in the middle.

Everything comes from ``random.Random(seed)``: the same seed gives the same calls, prefix hashes
and token counts on every machine. The benchmark uses seed 2026 (:data:`AGENT_LOOP_SEED`).

:func:`calls_from_requests` serves logged request bodies (e.g. the ``make demo`` sample,
:mod:`clawback.audit.sample`) on one model, with the breakpoints they carried removed so that each
policy places its own; :func:`midpoint` splits a workload into halves by time.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from clawback.cache.plan import with_marks
from clawback.cache.replay import TimedShape
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import BlockShape, Level, RequestShape, request_shape

__all__ = ["AGENT_LOOP_SEED", "agent_loop", "calls_from_requests", "midpoint"]

AGENT_LOOP_SEED: Final = 2026
_TOOLSETS: Final = 3
_SYSTEMS: Final = 4


def _h(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()


@dataclass(slots=True)
class _Builder:
    """Blocks of one request, each with its prefix hash."""

    model: str
    blocks: list[BlockShape]

    def add(
        self,
        level: Level,
        content: str,
        tokens: int,
        *,
        message: int | None = None,
        role: str | None = None,
        index: int = 0,
    ) -> None:
        parent = self.blocks[-1].prefix_hash if self.blocks else self.model
        self.blocks.append(
            BlockShape(
                level=level,
                position=len(self.blocks),
                kind="text" if level != "tools" else "tool",
                content_hash=content,
                prefix_hash=_h(parent, content),
                tokens=tokens,
                message_index=message,
                role=role,
                index=index,
            )
        )

    def shape(self) -> RequestShape:
        return RequestShape(self.model, tuple(self.blocks))


def agent_loop(
    *, seed: int = AGENT_LOOP_SEED, sessions: int = 400, hours: float = 3.0, model: str = "claude-sonnet-5-5"
) -> list[TimedShape]:
    """The calls of ``sessions`` agent sessions over ``hours`` hours, in start-time order."""
    rng = random.Random(seed)
    toolsets = [
        [(f"tool{t}.{i}", rng.randint(150, 600)) for i in range(rng.randint(4, 9))] for t in range(_TOOLSETS)
    ]
    systems = [(f"system{s}", rng.randint(800, 3000)) for s in range(_SYSTEMS)]
    calls: list[TimedShape] = []
    for session in range(sessions):
        start = hours * 3600.0 * rng.betavariate(2.0, 2.0)
        tools = toolsets[rng.randrange(_TOOLSETS)]
        system = systems[rng.randrange(_SYSTEMS)]
        turns = 1 + min(40, int(math.log(1.0 - rng.random()) / math.log(0.88)))
        calls.extend(_session(rng, session, start, (tools, system), turns, model))
    calls.sort(key=lambda c: c.at)
    return calls


def _session(
    rng: random.Random,
    session: int,
    start: float,
    prompt: tuple[list[tuple[str, int]], tuple[str, int]],
    turns: int,
    model: str,
) -> list[TimedShape]:
    tools, system = prompt
    at = start
    history: list[tuple[int, str, str, int]] = []  # (message index, role, content, tokens)
    history.append((0, "user", f"task{session}", rng.randint(60, 1500)))
    out: list[TimedShape] = []
    for turn in range(turns):
        b = _Builder(model, [])
        for i, (name, tokens) in enumerate(tools):
            b.add("tools", name, tokens, index=i)
        b.add("system", system[0], system[1])
        index_in_message = 0
        last_message = -1
        for message, role, content, tokens in history:
            index_in_message = index_in_message + 1 if message == last_message else 0
            last_message = message
            b.add("messages", content, tokens, message=message, role=role, index=index_in_message)
        output = rng.randint(40, 600)
        out.append(TimedShape(at, b.shape(), output, f"agents{session % 3}"))
        # the model's tool call, then the tools' results (a new user message of many blocks)
        message = history[-1][0] + 1
        history.append((message, "assistant", f"s{session}t{turn}call", output))
        for r in range(1 + min(39, int(rng.expovariate(1 / 6.0)))):
            history.append((message + 1, "user", f"s{session}t{turn}r{r}", rng.randint(150, 2500)))
        at += rng.uniform(4.0, 90.0)
        if rng.random() < 0.08:
            at += rng.uniform(120.0, 2400.0)  # waits for a person
    return out


def calls_from_requests(
    requests: Iterable[tuple[float, Mapping[str, Any], int, str, str | None]], info: ModelInfo
) -> list[TimedShape]:
    """``(start, request body, output tokens, workspace, task)`` served on ``info``, with no breakpoints."""
    out = []
    for at, body, output, workspace, task in requests:
        shape = request_shape({**body, "model": info.id}, tokenizer=info.tokenizer)
        out.append(TimedShape(at, with_marks(shape, {}), output, workspace, task=task))
    out.sort(key=lambda c: c.at)
    return out


def midpoint(calls: Sequence[TimedShape]) -> float:
    """The time halfway between a workload's first and last call: its halves are before and from it."""
    return (calls[0].at + calls[-1].at) / 2 if calls else 0.0
