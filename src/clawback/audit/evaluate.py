"""Each technique alone and stacked, per task and model, on the priced calls (DuckDB scenarios).

For every (task, model) pair the baseline is what its calls cost. Each technique is priced alone
and then on top of the techniques before it (route → batch → cache → output cap); a change that
would cost a pair more than it saves is left out for that pair and said so. The caching replay
runs between routing and the rest, because caching must be judged on the model calls end up on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from clawback.audit.duckdb_engine import duckdb
from clawback.audit.evaluation import CapCut, Evaluation, Key, Pair, Route, RouteCaching
from clawback.audit.rules import AuditRules
from clawback.audit.scenarios import TaskPlan, scenarios_costs
from clawback.audit.simulate import OutputStats, cap_for, tokenizer_factor
from clawback.pricing.catalogue import Catalogue

__all__ = ["cap_cuts", "evaluate", "output_stats"]


def _pairs(con: duckdb.DuckDBPyConnection) -> tuple[Pair, ...]:
    rows = con.execute(
        """
        SELECT task, model_id, sum(c_in + c_w5 + c_w1 + c_rd + c_out + c_web), count(*),
               count(*) FILTER (WHERE shaped), count(*) FILTER (WHERE agg), count(*) FILTER (WHERE tolerant)
        FROM priced WHERE unpriced IS NULL AND model_id IS NOT NULL GROUP BY ALL ORDER BY 3 DESC
        """
    ).fetchall()
    return tuple(
        Pair(str(t), str(m), Decimal(c or 0).scaleb(-6), int(n), int(s), int(a), int(tol))
        for t, m, c, n, s, a, tol in rows
    )


def output_stats(con: duckdb.DuckDBPyConnection) -> dict[str, OutputStats]:
    """Per task: the distribution of real output lengths (per-call records only).

    Percentiles are over the answers that finished; calls that stopped at ``max_tokens`` are
    counted apart (see :class:`~clawback.audit.simulate.OutputStats`).
    """
    quantiles = ", ".join(
        f"quantile_disc(outp, {q}) FILTER (WHERE fin)" for q in ("0.5", "0.9", "0.95", "0.99")
    )
    rows = con.execute(
        f"""
        SELECT task, count(*), {quantiles}, max(outp), count(*) FILTER (WHERE NOT fin),
               min(outp) FILTER (WHERE NOT fin)
        FROM (SELECT task, outp, stop IS DISTINCT FROM 'max_tokens' AS fin
              FROM priced WHERE NOT agg AND unpriced IS NULL)
        GROUP BY task
        """
    ).fetchall()
    out = {}
    for task, calls, p50, p90, p95, p99, top, at_limit, limit in rows:
        c, a, b, d, e, m, k = (int(v or 0) for v in (calls, p50, p90, p95, p99, top, at_limit))
        out[str(task)] = OutputStats(c, a, b, d, e, m, k, None if limit is None else int(limit))
    return out


def cap_cuts(con: duckdb.DuckDBPyConnection, caps: Mapping[str, int]) -> dict[str, CapCut]:
    """Per capped task: the calls the cap would stop, runaways and finished answers apart."""
    if not caps:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE caps (task VARCHAR, cap BIGINT)")
    appender = con.appender("caps")
    appender.append_rows(list(caps.items()))
    appender.flush()
    rows = con.execute(
        """
        SELECT p.task, count(*) FILTER (WHERE p.outp > c.cap AND p.stop = 'max_tokens'),
               count(*) FILTER (WHERE p.outp > c.cap AND p.stop IS DISTINCT FROM 'max_tokens'),
               mode(p.max_tokens)
        FROM priced p JOIN caps c ON c.task = p.task
        WHERE NOT p.agg AND p.unpriced IS NULL GROUP BY p.task
        """
    ).fetchall()
    return {
        str(t): CapCut(int(run), int(fin), None if now is None else int(now)) for t, run, fin, now in rows
    }


def _routes(pairs: tuple[Pair, ...], rules: AuditRules, catalogue: Catalogue) -> dict[Key, Route]:
    out: dict[Key, Route] = {}
    for pair in pairs:
        rule = rules.for_task(pair.task)
        if rule.route_to is None:
            continue
        target = catalogue.resolve(rule.route_to)
        if target.id == pair.model_id:
            continue
        source = catalogue.resolve(pair.model_id)
        out[(pair.task, pair.model_id)] = Route(target, tokenizer_factor(source, target), rule.route_source)
    return out


@dataclass(slots=True)
class _Planner:
    pairs: tuple[Pair, ...]
    routes: Mapping[Key, Route]
    caps: Mapping[str, int]
    tolerant: Mapping[Key, bool]

    def plan(self, pair: Pair, *, route: bool, batch: bool, cache: str | None, cap: bool) -> TaskPlan:
        """The scenario's changes for ``pair``."""
        key = (pair.task, pair.model_id)
        r = self.routes.get(key) if route else None
        cap_tokens = self.caps.get(pair.task) if cap else None
        if cap_tokens is not None and r is not None and r.factor is not None:
            cap_tokens = round(cap_tokens * r.factor)
        return TaskPlan(
            task=pair.task,
            model_id=pair.model_id,
            route_to=r.target.id if r else None,
            factor=r.factor if r else None,
            target_min=r.target.min_cacheable_tokens if r else None,
            batch=self.tolerant.get(key, False) if batch else None,
            cap=cap_tokens,
            cache=cache,
        )


def _changes_nothing(plan: TaskPlan, pair: Pair) -> bool:
    """True when a plan leaves its calls as they are (no route, cache or cap; no call it would batch)."""
    batches = plan.batch or (plan.batch is not None and pair.tolerant > 0)
    return plan.route_to is None and plan.cache is None and plan.cap is None and not batches


def _run(
    con: duckdb.DuckDBPyConnection, planner: _Planner, make: Callable[[Pair], TaskPlan | None]
) -> dict[Key, Decimal]:
    """The cost of each pair under its plan; a plan that changes nothing costs what the pair costs
    today, without pricing its calls again."""
    return _run_many(con, planner, [make])[0]


def _run_many(
    con: duckdb.DuckDBPyConnection, planner: _Planner, makers: Sequence[Callable[[Pair], TaskPlan | None]]
) -> list[dict[Key, Decimal]]:
    """:func:`_run` of several independent scenarios, their calls priced in one pass."""
    same: list[dict[Key, Decimal]] = []
    changed: list[list[TaskPlan]] = []
    for make in makers:
        plans = [
            (pair, plan) for pair, plan in ((pair, make(pair)) for pair in planner.pairs) if plan is not None
        ]
        kept = {(pair.task, pair.model_id): pair.cost for pair, plan in plans if _changes_nothing(plan, pair)}
        same.append(kept)
        changed.append([plan for pair, plan in plans if (pair.task, pair.model_id) not in kept])
    return [{**kept, **costs} for kept, costs in zip(same, scenarios_costs(con, changed), strict=True)]


def _caps(stats: Mapping[str, OutputStats], rules: AuditRules) -> dict[str, int]:
    """The output cap per task that allows one and would cut something."""
    out = {}
    for task, s in stats.items():
        rule = rules.for_task(task)
        cap = cap_for(s, rule.output_cap_percentile) if rule.output_cap else None
        if cap is not None:
            out[task] = cap
    return out


def evaluate(
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    rules: AuditRules,
    caching: RouteCaching,
) -> Evaluation:
    """Price every technique alone and stacked for every (task, model) pair."""
    pairs = _pairs(con)
    base = {(p.task, p.model_id): p.cost for p in pairs}
    stats = output_stats(con)
    caps = _caps(stats, rules)
    tolerant = {(p.task, p.model_id): bool(rules.for_task(p.task).latency_tolerant) for p in pairs}
    planner = _Planner(pairs, _routes(pairs, rules, catalogue), caps, tolerant)
    dropped: dict[str, tuple[Key, ...]] = {}

    route_alone = _run(con, planner, lambda p: planner.plan(p, route=True, batch=False, cache=None, cap=False)
                       if (p.task, p.model_id) in planner.routes else None)  # fmt: skip
    kept = {k for k, cost in route_alone.items() if cost < base[k]}
    dropped["route"] = tuple(sorted(set(route_alone) - kept))
    planner.routes = {k: v for k, v in planner.routes.items() if k in kept}
    report = caching(planner.routes)
    alone: dict[str, Mapping[Key, Decimal]] = {"route": {k: route_alone[k] for k in kept}}
    batch_alone, cache_alone, cap_alone, routed_batched = _run_many(con, planner, [  # independent: one pass
        lambda p: planner.plan(p, route=False, batch=True, cache=None, cap=False),
        lambda p: planner.plan(p, route=False, batch=False, cache="planner", cap=False) if p.shaped else None,
        lambda p: planner.plan(p, route=False, batch=False, cache=None, cap=True) if p.task in caps else None,
        lambda p: planner.plan(p, route=True, batch=True, cache=None, cap=False),
    ])  # fmt: skip
    alone["batch"] = batch_alone
    alone["cache"] = {k: v for k, v in cache_alone.items() if v < base[k]}
    alone["output_cap"] = cap_alone

    s1 = {k: alone["route"].get(k, base[k]) for k in base}
    s2 = {**s1, **routed_batched}

    def cache_variant(p: Pair) -> str:
        return "planner@route" if (p.task, p.model_id) in planner.routes else "planner"

    s3_try = _run(con, planner, lambda p: planner.plan(p, route=True, batch=True, cache=cache_variant(p), cap=False)
                  if p.shaped else None)  # fmt: skip
    cached = {k for k, v in s3_try.items() if v < s2[k]}
    dropped["cache"] = tuple(sorted(set(s3_try) - cached))
    s3 = {**s2, **{k: s3_try[k] for k in cached}}
    s4 = {**s3, **_run(con, planner, lambda p: planner.plan(
        p, route=True, batch=True, cache=cache_variant(p) if (p.task, p.model_id) in cached else None, cap=True))}  # fmt: skip
    return Evaluation(
        pairs=pairs,
        routes=planner.routes,
        caps=caps,
        cap_cuts=cap_cuts(con, caps),
        stats=stats,
        alone=alone,
        stacked={"route": s1, "batch": s2, "cache": s3, "output_cap": s4},
        caching=report,
        batch_pairs=frozenset(k for k, v in tolerant.items() if v),
        dropped=dropped,
    )
