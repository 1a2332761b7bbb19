"""Re-pricing every call under a scenario — routed, batched, re-cached, capped — in one SQL pass.

A scenario is a :class:`TaskPlan` per task and model. For each priced call of a planned pair the SQL:

1. routes it: the target model's rates, and token counts scaled by ``factor`` when the target
   uses the other tokenizer generation; cache reads and writes become uncached input when the
   cached part falls below the target's minimum cacheable length;
2. replaces its cache usage with what the caching replay found for it (``cache_sim`` rows of
   the plan's ``cache`` variant), when the plan names one and the call has a replayed outcome,
   and adds the keep-alive pings the policy sent before it as a real-time request of their own;
3. sends it through the Batch API (``service_tier = 'batch'``; fast mode dropped) when the plan
   says so or the call itself is labelled latency-tolerant (a call labelled not tolerant never is);
4. caps its output tokens at ``cap`` (calls from aggregated reports are never capped).

It is then priced by the same SQL as the baseline (:mod:`clawback.audit.pricing_sql`), once per sum
of the calls that share everything their price depends on (exact: every cost is a product of a
count and a rate). A call the scenario can't price keeps its baseline cost, so an unpriceable
change never shows as a saving.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from clawback.audit.duckdb_engine import duckdb
from clawback.audit.pricing_sql import priced_select, tier_thresholds
from clawback.audit.queries import micro_to_usd

__all__ = ["CACHE_SIM_DDL", "PolicyUsage", "TaskPlan", "policy_usage", "scenario_costs", "scenarios_costs"]

CACHE_SIM_DDL: Final = """
CREATE TABLE IF NOT EXISTS cache_sim (
    variant VARCHAR, id BIGINT, inp BIGINT, rd BIGINT, w5 BIGINT, w1 BIGINT,
    pinp BIGINT, prd BIGINT, pw5 BIGINT, pw1 BIGINT, pout BIGINT
)
"""
_PLAN_DDL: Final = """
CREATE OR REPLACE TEMP TABLE plan (
    pid INTEGER, scenario INTEGER, task VARCHAR, model_id VARCHAR, route_to VARCHAR, factor DOUBLE, target_min BIGINT,
    batch BOOLEAN, cap BIGINT, cache VARCHAR, tier_min BIGINT
)
"""


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """What a scenario changes for one task's calls on one model."""

    task: str
    model_id: str
    route_to: str | None = None
    factor: float | None = None
    target_min: int | None = None
    batch: bool | None = None
    cap: int | None = None
    cache: str | None = None


def _scaled(col: str) -> str:
    return f"(CASE WHEN pl.factor IS NULL THEN p.{col} ELSE CAST(round(p.{col} * pl.factor) AS BIGINT) END)"


def _usage_sql(cached_plans: bool) -> str:
    """The scenario's usage of every planned call; without ``cached_plans`` (no plan names a caching
    variant) the replayed outcomes and pings are left out: no call could have any."""
    cached = f"({_scaled('rd')} + {_scaled('w5')} + {_scaled('w1')})"
    too_short = f"(pl.target_min IS NOT NULL AND {cached} > 0 AND {cached} < pl.target_min)"
    uncached = f"(CASE WHEN {too_short} THEN {_scaled('inp')} + {cached} ELSE {_scaled('inp')} END)"

    def cache_col(col: str) -> str:
        return f"(CASE WHEN {too_short} THEN 0 ELSE {_scaled(col)} END)"

    out = _scaled("outp")
    batch = "(pl.batch IS NOT NULL AND coalesce(p.tolerant, pl.batch))"

    def replayed(col: str, otherwise: str) -> str:
        return (
            f"CASE WHEN cs.id IS NOT NULL THEN cs.{col} ELSE {otherwise} END" if cached_plans else otherwise
        )

    calls = f"""
        SELECT pl.pid, pl.tier_min, p.day,
            (p.c_in + p.c_w5 + p.c_w1 + p.c_rd + p.c_out + p.c_web) AS base,
            {replayed("inp", uncached)} AS inp,
            {replayed("rd", cache_col("rd"))} AS rd,
            {replayed("w5", cache_col("w5"))} AS w5,
            {replayed("w1", cache_col("w1"))} AS w1,
            CASE WHEN pl.cap IS NOT NULL AND NOT p.agg THEN least({out}, pl.cap) ELSE {out} END AS outp,
            p.web,
            CASE WHEN {batch} THEN 'batch' ELSE p.tier END AS tier,
            p.geo,
            CASE WHEN {batch} OR pl.route_to IS NOT NULL THEN NULL ELSE p.speed END AS speed,
            p.rep_usd, p.rep_kind, p.agg
        FROM priced p
        JOIN plan pl ON pl.task = p.task AND pl.model_id = p.model_id
        {"LEFT JOIN cache_sim cs ON cs.variant = pl.cache AND cs.id = p.id" if cached_plans else ""}
        WHERE p.unpriced IS NULL"""
    if not cached_plans:
        return f"({calls})"
    pings = """
        SELECT pl.pid, pl.tier_min, p.day, 0,
            cs.pinp, cs.prd, cs.pw5, cs.pw1, cs.pout, 0, 'standard', p.geo, NULL, NULL, NULL, false
        FROM priced p
        JOIN plan pl ON pl.task = p.task AND pl.model_id = p.model_id
        JOIN cache_sim cs ON cs.variant = pl.cache AND cs.id = p.id
        WHERE p.unpriced IS NULL AND cs.pinp + cs.prd + cs.pw5 + cs.pw1 > 0"""
    return f"({calls}\n        UNION ALL{pings})"


def scenario_costs(
    con: duckdb.DuckDBPyConnection, plans: Iterable[TaskPlan]
) -> dict[tuple[str, str], Decimal]:
    """The cost of each planned (task, model) pair's priced calls under the plans (USD, audited window)."""
    return scenarios_costs(con, [plans])[0]


def scenarios_costs(
    con: duckdb.DuckDBPyConnection, scenarios: Sequence[Iterable[TaskPlan]]
) -> list[dict[tuple[str, str], Decimal]]:
    """:func:`scenario_costs` of several scenarios at once, in one pass over the calls."""
    rows = [
        (i, p.task, p.model_id, p.route_to, p.factor, p.target_min, p.batch, p.cap, p.cache)
        for i, plans in enumerate(scenarios)
        for p in plans
    ]
    out: list[dict[tuple[str, str], Decimal]] = [{} for _ in scenarios]
    if not rows:
        return out
    con.execute(CACHE_SIM_DDL)
    con.execute(_PLAN_DDL)
    appender = con.appender("plan")
    appender.append_rows([(pid, *row, None) for pid, row in enumerate(rows)])
    appender.flush()
    con.execute(
        f"UPDATE plan SET tier_min = t.tier_min FROM {tier_thresholds()} t "
        "WHERE t.model_id = coalesce(plan.route_to, plan.model_id)"
    )
    # grouped by the plan's number (a plan is one scenario's task and model: what it routes to
    # follows from it), then named: fewer and narrower keys to group millions of calls by
    summed = f"""(
        SELECT pl.scenario, pl.task, pl.model_id AS source_model, coalesce(pl.route_to, pl.model_id) AS model_id,
               g.* EXCLUDE (pid)
        FROM (
            SELECT u.pid, u.day, u.agg, u.tier, u.speed, u.geo, u.rep_kind, u.rep_usd IS NOT NULL AS rep,
                   (u.inp + u.rd + u.w5 + u.w1) > u.tier_min AS over,
                   sum(u.inp) AS inp, sum(u.w5) AS w5, sum(u.w1) AS w1, sum(u.rd) AS rd, sum(u.outp) AS outp,
                   sum(u.web) AS web, sum(u.rep_usd) AS rep_usd, sum(u.base) AS base
            FROM {_usage_sql(any(row[8] for row in rows))} u
            GROUP BY ALL
        ) g JOIN plan pl ON pl.pid = g.pid
    )"""
    priced = priced_select(summed, keep="u.scenario, u.task, u.source_model, u.base", over="u.over")
    total = "(c_in + c_w5 + c_w1 + c_rd + c_out + c_web)"
    sql = f"""
        SELECT scenario, task, source_model, sum(CASE WHEN unpriced IS NULL THEN {total} ELSE base END)
        FROM ({priced}) GROUP BY ALL
    """
    for i, t, m, cost in con.execute(sql).fetchall():
        out[int(i)][(str(t), str(m))] = micro_to_usd(cost)
    return out


@dataclass(frozen=True, slots=True)
class PolicyUsage:
    """What the calls replayed under one variant cost, keep-alive pings included, and their tokens."""

    cost: Decimal
    ping_cost: Decimal
    calls: int
    read_tokens: int
    write_tokens: int
    prompt_tokens: int


def policy_usage(con: duckdb.DuckDBPyConnection, variant: str) -> PolicyUsage:
    """The calls replayed under ``variant``: their cost (pings included) and call tokens (pings excluded).

    Calls keep their model, date, tier and output; only their input side comes from the replay.
    """
    con.execute(CACHE_SIM_DDL)
    name = variant.replace("'", "''")
    source = f"""(
        SELECT p.id, p.day, p.model_id, cs.inp, cs.rd, cs.w5, cs.w1, p.outp, p.web, p.tier, p.geo,
               p.speed, p.rep_usd, p.rep_kind, p.agg, false AS ping
        FROM cache_sim cs JOIN priced p ON p.id = cs.id
        WHERE cs.variant = '{name}' AND p.unpriced IS NULL
        UNION ALL
        SELECT p.id, p.day, p.model_id, cs.pinp, cs.prd, cs.pw5, cs.pw1, cs.pout, 0, 'standard', p.geo,
               NULL, NULL, NULL, false, true AS ping
        FROM cache_sim cs JOIN priced p ON p.id = cs.id
        WHERE cs.variant = '{name}' AND p.unpriced IS NULL AND cs.pinp + cs.prd + cs.pw5 + cs.pw1 > 0
    )"""
    total = "(c_in + c_w5 + c_w1 + c_rd + c_out + c_web)"
    row = con.execute(
        f"SELECT sum({total}) FILTER (WHERE unpriced IS NULL), sum({total}) FILTER (WHERE ping), "
        "count(*) FILTER (WHERE NOT ping), sum(rd) FILTER (WHERE NOT ping), sum(w5 + w1) FILTER (WHERE NOT ping), "
        f"sum(inp + rd + w5 + w1) FILTER (WHERE NOT ping) FROM ({priced_select(source, keep='u.*')})"
    ).fetchall()[0]
    return PolicyUsage(micro_to_usd(row[0]), micro_to_usd(row[1]), *(int(v or 0) for v in row[2:6]))
