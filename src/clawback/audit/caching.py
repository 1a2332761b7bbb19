"""The caching simulation: the calls with request shapes replayed under each caching policy.

The replay itself is :mod:`clawback.cache.replay` (the one cache simulator: the rules engine, the
planner and the keep-alive arithmetic, fed calls in time order per workspace and model with the
real gaps between them). This module feeds it from the audit database and writes each call's
replayed usage into the ``cache_sim`` table, one *variant* per policy — ``none``, ``auto``,
``planner``, ``first-sighting oracle``, ``oracle``, ``clairvoyant`` — plus ``planner@route`` for
calls the rules move to another model, replayed there (that model's minimum and rates, tokens
scaled to its tokenizer). The two oracles and the bound see every call of a model at once (they
know the future), so they hold that model's calls in memory; the others stream.

Each call is replayed with its real prompt size (``input + cache reads + cache writes`` from its
usage): the shape's per-block token estimates only place the breakpoints.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from clawback.audit.queries import micro_to_usd, pick_bucket, window
from clawback.audit.results import (
    LOGGED,
    NO_REQUEST_DATA,
    POLICIES,
    TOP_LEVEL,
    BreakpointAdvice,
    CachingReport,
    PolicyResult,
    money,
)
from clawback.audit.scenarios import CACHE_SIM_DDL, policy_usage
from clawback.audit.store import UNLABELLED
from clawback.audit.tasks import NO_TEMPLATE, template_name
from clawback.cache.keepalive import DEFAULT_SPEND_CAP, KeepAliveSettings
from clawback.cache.planner import CachePlan
from clawback.cache.policies import make_policy
from clawback.cache.replay import TimedShape, replay
from clawback.pricing.catalogue import Catalogue, ModelInfo
from clawback.shapes import RequestShape

if TYPE_CHECKING:
    from clawback.audit.evaluation import Route
    from clawback.audit.store import AuditStore

__all__ = [
    "DEFAULT_KEEPALIVE_CAP",
    "NO_REQUEST_DATA",
    "POLICIES",
    "TOP_LEVEL",
    "BreakpointAdvice",
    "CachingReport",
    "current_marks",
    "field_of",
    "fit_shape",
    "replay_caching",
]

DEFAULT_KEEPALIVE_CAP: Final = DEFAULT_SPEND_CAP
"""The audit's planner pings under the client's default cap, so its row is what the client does."""

_FETCH: Final = 10_000
_ADVICE_SAMPLES: Final = 1_001
_NO_PINGS: Final = [0, 0, 0, 0, 0]
_TEMPLATE: Final = template_name("")
"""How the name of a task the audit found as a prompt template begins."""
_FORESIGHT: Final = ("first-sighting oracle", "oracle", "clairvoyant")
"""Policies that need the whole sequence of calls up front."""
_NOTES: Final = {
    "first-sighting oracle": "foresight, but writes only prefixes an earlier call sent: what an online "
    "planner can fairly aim for",
    "oracle": "places breakpoints knowing every prefix's future uses: a heuristic, not an optimum",
}


# ---------------------------------------------------------------------------------------------
# Feeding the replay from the audit database


@dataclass(frozen=True, slots=True)
class _Call:
    id: int
    task: str
    model_id: str
    call: TimedShape
    current: tuple[tuple[str, str], ...] = ()
    """The breakpoints the logged request carried: (request field, TTL); ``top-level`` for automatic."""


def current_marks(shape: RequestShape) -> tuple[tuple[str, str], ...]:
    """The ``cache_control`` marks a logged request carried, as (request field, TTL) pairs."""
    marks = tuple((field_of(shape, b.position), b.cache_ttl) for b in shape.blocks if b.cache_ttl is not None)
    if shape.auto_cache_ttl is not None:
        marks += ((TOP_LEVEL, shape.auto_cache_ttl),)
    return marks


def fit_shape(shape: RequestShape, prompt_tokens: int, model_id: str) -> RequestShape:
    """``shape`` on ``model_id`` with no breakpoints, its block sizes scaled to total ``prompt_tokens``."""
    estimate = shape.total_tokens
    if estimate == prompt_tokens or estimate == 0:
        blocks = shape.blocks
        overhead = shape.overhead_tokens
    else:
        ratio = prompt_tokens / estimate
        overhead = round(shape.overhead_tokens * ratio)
        running, done, out = shape.overhead_tokens, overhead, []
        for b in shape.blocks:
            running += b.tokens
            target = prompt_tokens if b is shape.blocks[-1] else round(running * ratio)
            out.append(replace(b, tokens=max(0, target - done)))
            done = max(done, target)
        blocks = tuple(out)
    blocks = tuple(replace(b, cache_ttl=None) if b.cache_ttl is not None else b for b in blocks)
    return replace(shape, model=model_id, blocks=blocks, overhead_tokens=overhead, auto_cache_ttl=None)


def _rows(store: AuditStore, pairs: Collection[tuple[str, str]] | None) -> Iterator[tuple[Any, ...]]:
    cursor = store.shaped_calls()
    while True:
        chunk = cursor.fetchmany(_FETCH)
        if not chunk:
            return
        for row in chunk:
            if pairs is None or (row[4], row[3]) in pairs:
                yield row


def _calls(
    store: AuditStore, routes: Mapping[tuple[str, str], Route] | None
) -> Iterator[tuple[str, Iterator[_Call]]]:
    """Shaped calls grouped by the model they are replayed on, each group in time order."""
    rows = _rows(store, set(routes) if routes is not None else None)
    if routes is not None:  # routed calls: regroup by target model, keep time order within each
        by_target: dict[str, list[_Call]] = {}
        for row in rows:
            route = routes[(row[4], row[3])]
            prompt = round(row[6] * route.factor) if route.factor else int(row[6])
            out = round(row[7] * route.factor) if route.factor else int(row[7])
            by_target.setdefault(route.target.id, []).append(_make(row, route.target.id, prompt, out))
        for target, calls in by_target.items():
            calls.sort(key=lambda c: (c.call.at, c.id))
            yield target, iter(calls)
        return
    for model_id, group in itertools.groupby(rows, key=lambda row: str(row[3])):
        yield model_id, (_make(row, model_id, int(row[6]), int(row[7])) for row in group)


def _make(row: tuple[Any, ...], model_id: str, prompt: int, output: int) -> _Call:
    logged = RequestShape.from_json(json.loads(row[5]))
    shape = fit_shape(logged, prompt, model_id)
    at = row[1].replace(tzinfo=UTC).timestamp()
    task = str(row[4])
    timed = TimedShape(at, shape, output, str(row[2]) or "default", task=_label(task))
    return _Call(int(row[0]), task, model_id, timed, current_marks(logged))


def _label(task: str) -> str | None:
    """The task the log labelled a call with, as the client would have known it when the call was
    made; None for the audit's own grouping (a template found in the whole log, or none)."""
    if task in (UNLABELLED, NO_TEMPLATE) or task.startswith(_TEMPLATE):
        return None
    return task


@dataclass(slots=True)
class _Advice:
    fields: Counter[tuple[int, str]] = field(default_factory=Counter)
    ttl_1h: int = 0
    planned: int = 0
    calls: int = 0
    prefix_tokens: list[int] = field(default_factory=list)
    keepalive: bool = False
    skips: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    current: Counter[tuple[tuple[str, str], ...]] = field(default_factory=Counter)


def _below_minimum(acc: _Advice, shape: RequestShape, info: ModelInfo) -> None:
    ends = [b.position for b in shape.blocks if b.level in ("tools", "system")]
    tokens = shape.prefix_tokens(ends[-1]) if ends else shape.total_tokens
    if tokens < info.min_cacheable_tokens:
        acc.skips["below_minimum"] += 1 << 20  # outranks every other reason
        what = "tools and system prompt" if ends else "whole prompt"
        acc.examples.setdefault(
            "below_minimum",
            f"its {tokens:,}-token {what} is below {info.id}'s {info.min_cacheable_tokens:,}-token minimum "
            "cacheable length (such a prefix is processed without caching)",
        )


def field_of(shape: RequestShape, position: int) -> str:
    """The request field a breakpoint at ``position`` goes on (``system[0]``, ``messages[-1].content[-1]``…)."""
    b = shape.blocks[position]
    if b.level == "tools":
        return f"tools[{b.index}]"
    if b.level == "system":
        return f"system[{b.index}]"
    if position == len(shape.blocks) - 1:
        return "messages[-1].content[-1] (the last block)"
    if b.message_index is None:
        return f"block {position} (first {shape.prefix_tokens(position):,} tokens)"
    return f"messages[{b.message_index}].content[{b.index}]"


@dataclass(slots=True)
class _Replayer:
    store: AuditStore
    catalogue: Catalogue
    keepalive: KeepAliveSettings
    advice: dict[str, _Advice] = field(default_factory=dict)

    def run(self, variant: str, policy_name: str, groups: Iterator[tuple[str, Iterator[_Call]]]) -> None:
        """Replay every group under one policy and append each call's usage to ``cache_sim``."""
        appender = self.store.con.appender("cache_sim")
        for model_id, calls in groups:
            info = self.catalogue.resolve(model_id)
            if policy_name in _FORESIGHT:
                listed = list(calls)
                calls = iter(listed)
                policy = make_policy(policy_name, info, calls=[c.call for c in listed])
            else:
                policy = make_policy(
                    policy_name, info, keepalive=self.keepalive if policy_name == "planner" else None
                )
            self._one(variant, policy, info, calls, appender)
        appender.flush()

    def _one(self, variant: str, policy: Any, info: ModelInfo, calls: Iterator[_Call], appender: Any) -> None:
        fed: dict[int, _Call] = {}

        def feed() -> Iterator[TimedShape]:
            for index, c in enumerate(calls):
                fed[index] = c
                yield c.call

        pings: dict[int, list[int]] = {}
        for result in replay(feed(), policy, info):
            u = result.usage
            if result.ping:
                acc = pings.setdefault(result.index, [0, 0, 0, 0, 0])
                for i, v in enumerate((u.input_tokens, u.cache_read_input_tokens, u.cache_write_5m_input_tokens,
                                       u.cache_write_1h_input_tokens, u.output_tokens)):  # fmt: skip
                    acc[i] += v
                continue
            c = fed.pop(result.index)
            extra = pings.pop(result.index, _NO_PINGS)
            appender.append_row(variant, c.id, u.input_tokens, u.cache_read_input_tokens,
                                u.cache_write_5m_input_tokens, u.cache_write_1h_input_tokens, *extra)  # fmt: skip
            if variant == "planner":
                self._note(c, getattr(policy, "last_plan", None), extra is not _NO_PINGS, info)

    def _note(self, c: _Call, plan: CachePlan | None, pinged: bool, info: ModelInfo) -> None:
        acc = self.advice.setdefault(c.task, _Advice())
        acc.calls += 1
        acc.current[c.current] += 1
        acc.keepalive = acc.keepalive or pinged or bool(plan and plan.keepalive)
        if plan is None:
            return
        if not plan.marks:
            _below_minimum(acc, c.call.shape, info)
            for d in plan.decisions:
                if d.action == "skip":
                    acc.skips[d.code] += 1
                    acc.examples.setdefault(d.code, d.detail)
            return
        shape = c.call.shape
        acc.planned += 1
        acc.ttl_1h += "1h" in plan.marks.values()
        last = len(shape.blocks) - 1
        for p in plan.marks:
            acc.fields[(p if p != last else 1 << 30, field_of(shape, p))] += 1
        if len(acc.prefix_tokens) < _ADVICE_SAMPLES:
            acc.prefix_tokens.append(shape.prefix_tokens(max(plan.marks)))


def _advice(acc: Mapping[str, _Advice]) -> dict[str, BreakpointAdvice]:
    """Per task: the breakpoint fields the planner used on at least half of its planned calls."""
    out = {}
    for task, a in acc.items():
        if not a.planned:
            continue
        common = sorted((key for key, n in a.fields.items() if n * 2 >= a.planned), key=lambda k: k[0])
        if not common:
            common = [max(a.fields.items(), key=lambda kv: kv[1])[0]]
        tokens = sorted(a.prefix_tokens)[len(a.prefix_tokens) // 2]
        notes = []
        if a.planned < 0.95 * a.calls:
            notes.append(f"the planner cached {a.planned / a.calls:.0%} of the task's calls")
        ttl = "1h" if a.ttl_1h * 2 >= a.planned else "5m"
        current = a.current.most_common(1)[0][0] if a.current else ()
        out[task] = BreakpointAdvice(
            task, tuple(f for _, f in common), ttl, tokens, a.calls, a.keepalive, tuple(notes), current
        )
    return out


def _not_cached(acc: Mapping[str, _Advice]) -> dict[str, str]:
    """Per task the planner cached on under 5% of calls: its most frequent reason for skipping."""
    out = {}
    for task, a in acc.items():
        if a.calls and a.planned < 0.05 * a.calls:
            if a.skips:
                code = a.skips.most_common(1)[0][0]
                out[task] = a.examples[code]
            else:
                out[task] = "no prefix of its calls recurs often enough for a write to pay"
    return out


def _hit_series(store: AuditStore, variants: Sequence[str]) -> dict[str, tuple[tuple[datetime, float], ...]]:
    first, last = window(store.con)
    bucket = pick_bucket(first, last)
    rows = store.con.execute(
        f"""
        SELECT cs.variant, time_bucket(INTERVAL '{bucket}', p.ts) AS b,
               sum(cs.rd) / nullif(sum(cs.inp + cs.rd + cs.w5 + cs.w1), 0)
        FROM cache_sim cs JOIN priced p ON p.id = cs.id
        WHERE cs.variant IN ({", ".join("'" + v + "'" for v in variants)})
        GROUP BY ALL ORDER BY 1, 2
        """
    ).fetchall()
    out: dict[str, list[tuple[datetime, float]]] = {}
    for variant, start, rate in rows:
        if rate is not None:
            out.setdefault(str(variant), []).append((start.replace(tzinfo=UTC), float(rate)))
    return {k: tuple(v) for k, v in out.items()}


def _assumptions(cap: Decimal) -> tuple[str, ...]:
    return (
        "each call with request data replayed in time order under the real cache rules "
        "(4 breakpoints, per-model minimum, 20-block lookback, 5-minute and 1-hour TTLs)",
        "each call keeps its real prompt size; per-block sizes are offline token estimates",
        "caches are isolated per workspace (the log's workspace or API key) and per model",
        f"the planner may keep entries warm with max_tokens=0 pings (spend cap ${cap} per model); "
        "their cost is charged to the call they keep warm",
        "oracle and first-sighting oracle know every prefix's future uses (the second may write only "
        "prefixes sent before): references, not policies you can run",
        "clairvoyant is a bound no caching policy can beat on these calls, not a policy you can run: "
        "every prefix an earlier call sent is read, nothing is ever written or expires",
    )


def _logged(con: Any) -> PolicyResult:
    """The replayed calls as the log has them: their real cost and cache hit rate."""
    row = con.execute(
        """
        SELECT sum(c_in + c_w5 + c_w1 + c_rd + c_out + c_web), count(*), sum(rd), sum(w5 + w1),
               sum(inp + rd + w5 + w1)
        FROM priced WHERE shaped AND model_id IS NOT NULL AND unpriced IS NULL
        """
    ).fetchall()[0]
    prompt = int(row[4] or 0)
    hit = int(row[2] or 0) / prompt if prompt else 0.0
    return PolicyResult(
        LOGGED, micro_to_usd(row[0]), hit, int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)
    )


def replay_caching(
    store: AuditStore,
    catalogue: Catalogue,
    routes: Mapping[tuple[str, str], Route],
    progress: Any,
    *,
    keepalive_cap: Decimal = DEFAULT_KEEPALIVE_CAP,
) -> CachingReport:
    """Replay the shaped calls under every policy (and the planner on routed models) into ``cache_sim``."""
    con = store.con
    con.execute(CACHE_SIM_DDL)
    shaped = int(
        con.execute("SELECT count(*) FROM priced WHERE shaped AND model_id IS NOT NULL").fetchall()[0][0]
    )
    if shaped == 0:
        return CachingReport(available=False, reasons=(NO_REQUEST_DATA,))
    replayer = _Replayer(store, catalogue, KeepAliveSettings(spend_cap=keepalive_cap))
    for policy in POLICIES:
        progress.stage(f"replaying caching ({policy})")
        replayer.run(policy, policy, _calls(store, None))
    routed = dict(routes)
    if routed:
        progress.stage("replaying caching on routed models")
        replayer.run("planner@route", "planner", _calls(store, routed))
    results = {}
    for policy in POLICIES:
        u = policy_usage(con, policy)
        notes: tuple[str, ...] = (
            (f"includes {money(u.ping_cost)} of keep-alive pings",) if u.ping_cost else ()
        )
        notes += (_NOTES[policy],) if policy in _NOTES else ()
        hit = u.read_tokens / u.prompt_tokens if u.prompt_tokens else 0.0
        results[policy] = PolicyResult(policy, u.cost, hit, u.calls, u.read_tokens, u.write_tokens, notes)
    return CachingReport(
        available=True,
        shaped_calls=shaped,
        policies=dict(results),
        logged=_logged(con),
        assumptions=_assumptions(keepalive_cap),
        advice=_advice(replayer.advice),
        not_cached=_not_cached(replayer.advice),
        hit_series=_hit_series(store, POLICIES),
    )
