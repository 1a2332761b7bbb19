"""The price catalogue as a table of dated rates, and the SQL that prices calls with it (exact).

Each row holds the final per-million-token rates of one model, one rate period, one pricing mode
(``standard``, ``batch``, ``fast``) and whether Haiku 5.5's long-prompt tier is on. Every modifier
that :func:`clawback.pricing.cost.price_usage` applies is folded into those rates here, in Python
with Decimal, so the SQL only multiplies token counts by rates:

* batch: input and output at the batch rates, cache writes and reads at 50% of the standard ones;
* fast mode: the fast input/output rates, cache rates at the model's cache multipliers of them;
* long-prompt tier: the tier's rates for the whole request once its prompt passes the threshold
  (per request, on the days the tier is in force: never on an aggregated report's bucket, whose
  totals hide the request sizes);
* US-only inference (``inference_geo: "us"``): 1.1x on every token kind, at query time.

Costs come out in micro-dollars (tokens × USD per million tokens) as ``DECIMAL(38,9)``: every
rate has at most 8 decimals and the geo factor 1, so nothing is rounded. Fast mode combined with
batch, fast mode on a model without it, and US-only inference on a model that doesn't offer it
are not priced (``price_usage`` refuses them too); they are reported with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any, Final

from clawback.pricing.catalogue import Catalogue, ModelInfo, Rates

__all__ = ["PROMPT_OVER_TIER", "RATES_COLUMNS", "RATES_DDL", "priced_select", "rate_rows", "tier_thresholds"]

_FIRST_DAY: Final = date(1, 1, 1)
_LAST_DAY: Final = date(9999, 12, 31)
_HALF: Final = Decimal("0.5")
_PLACES: Final = Decimal("0.00000001")

RATES_COLUMNS: Final = (
    "model_id",
    "valid_from",
    "valid_to",
    "mode",
    "tier_on",
    "tier_min",
    "tier_from",
    "tier_to",
    "geo_ok",
    "k_in",
    "k_out",
    "k_w5",
    "k_w1",
    "k_rd",
)
RATES_DDL: Final = """
CREATE OR REPLACE TABLE rates (
    model_id VARCHAR, valid_from DATE, valid_to DATE, mode VARCHAR, tier_on BOOLEAN,
    tier_min BIGINT, tier_from DATE, tier_to DATE, geo_ok BOOLEAN,
    k_in DECIMAL(20,8), k_out DECIMAL(20,8), k_w5 DECIMAL(20,8), k_w1 DECIMAL(20,8), k_rd DECIMAL(20,8)
)
"""


def _q(value: Decimal) -> Decimal:
    return value.quantize(_PLACES)


def _modes(info: ModelInfo, r: Rates) -> Iterator[tuple[str, tuple[Decimal, ...]]]:
    yield "standard", (r.input, r.output, r.cache_write_5m, r.cache_write_1h, r.cache_read)
    yield (
        "batch",
        (
            r.batch_input,
            r.batch_output,
            r.cache_write_5m * _HALF,
            r.cache_write_1h * _HALF,
            r.cache_read * _HALF,
        ),
    )
    fast = info.fast_mode
    if fast is not None and r.input > 0:
        fin = fast.input
        yield (
            "fast",
            (
                fin,
                fast.output,
                fin * r.cache_write_5m / r.input,
                fin * r.cache_write_1h / r.input,
                fin * r.cache_read / r.input,
            ),
        )


def rate_rows(catalogue: Catalogue) -> Iterator[tuple[Any, ...]]:
    """Rows of the ``rates`` table, in :data:`RATES_COLUMNS` order."""
    for info in catalogue.models:
        tier = info.prompt_tier
        tier_min = tier.threshold_prompt_tokens if tier else None
        tier_from = tier.rates.effective_from if tier else None
        tier_to = tier.ends if tier else None
        for i, period in enumerate(info.rates):
            start = _FIRST_DAY if i == 0 else period.effective_from
            end = info.rates[i + 1].effective_from if i + 1 < len(info.rates) else _LAST_DAY
            variants = [(False, period)] + ([(True, tier.rates)] if tier else [])
            for tier_on, rates in variants:
                for mode, values in _modes(info, rates):
                    yield (
                        info.id,
                        start,
                        end,
                        mode,
                        tier_on,
                        tier_min,
                        tier_from,
                        tier_to,
                        info.inference_geo_us,
                        *(_q(v) for v in values),
                    )


PROMPT_OVER_TIER: Final = "(u.inp + u.rd + u.w5 + u.w1) > r.tier_min"
"""The long-prompt test of one request: its prompt is longer than its model's tier threshold."""


def priced_select(source: str, keep: str = "u.id", over: str = PROMPT_OVER_TIER) -> str:
    """SQL pricing every row of ``source`` (a table or a parenthesised query).

    ``source`` needs: ``day, model_id, inp, outp, rd, w5, w1, web, tier, geo, speed, rep_usd,
    rep_kind, agg``. The long-prompt tier is a per-request rule, so it never applies to ``agg``
    rows (an aggregated report's bucket sums many requests). The result has the ``keep`` columns of ``source`` (``u.*`` for all), the cost of
    each token kind in micro-dollars (``c_in, c_w5, c_w1, c_rd, c_out, c_web``; NULL when
    unpriced) and ``unpriced`` (the reason, or NULL).

    A row may also stand for many requests that share everything the price depends on, with their
    token counts summed (:func:`tier_thresholds`): every cost is an exact product, so the cost of
    the sums is the sum of the costs. ``over`` then names the row's long-prompt test, made per
    request before summing.
    """
    mode = (
        "CASE WHEN u.speed = 'fast' AND u.tier = 'batch' THEN 'fast+batch' WHEN u.speed = 'fast' THEN 'fast' "
        "WHEN u.tier = 'batch' THEN 'batch' ELSE 'standard' END"
    )
    geo = "CASE WHEN u.geo = 'us' THEN 1.1 ELSE 1.0 END"
    reported = "CASE WHEN u.rep_kind = '{kind}' THEN u.rep_usd * 1000000 ELSE 0 END"
    cost = "CAST({tokens} * r.{rate} * {geo} AS DECIMAL(38,9))"

    def line(tokens: str, rate: str, kind: str) -> str:
        priced = cost.format(tokens=tokens, rate=rate, geo=geo)
        return (
            f"CAST(CASE WHEN u.rep_usd IS NOT NULL THEN {reported.format(kind=kind)} "
            f"WHEN r.model_id IS NULL OR (u.geo = 'us' AND NOT r.geo_ok) THEN NULL ELSE {priced} END "
            "AS DECIMAL(38,9))"
        )

    unpriced = (
        "CASE WHEN u.rep_usd IS NOT NULL THEN NULL "
        "WHEN u.model_id IS NULL THEN 'unknown model' "
        "WHEN u.speed = 'fast' AND u.tier = 'batch' THEN 'fast mode cannot be combined with the Batch API' "
        "WHEN r.model_id IS NULL AND u.speed = 'fast' THEN 'fast mode is not offered on this model' "
        "WHEN r.model_id IS NULL THEN 'no rates for this model and date' "
        "WHEN u.geo = 'us' AND NOT r.geo_ok THEN 'US-only inference is not offered on this model' "
        "ELSE NULL END"
    )
    web = (
        "CAST(CASE WHEN u.rep_usd IS NOT NULL THEN "
        "(CASE WHEN u.rep_kind = 'other' THEN u.rep_usd * 1000000 ELSE 0 END) "
        "WHEN r.model_id IS NULL THEN NULL ELSE CAST(u.web AS HUGEINT) * 10000 END AS DECIMAL(38,9))"
    )
    return f"""
        SELECT {keep},
            {line("u.inp", "k_in", "uncached_input")} AS c_in,
            {line("u.w5", "k_w5", "cache_write_5m")} AS c_w5,
            {line("u.w1", "k_w1", "cache_write_1h")} AS c_w1,
            {line("u.rd", "k_rd", "cache_read")} AS c_rd,
            {line("u.outp", "k_out", "output")} AS c_out,
            {web} AS c_web,
            {unpriced} AS unpriced
        FROM {source} u
        LEFT JOIN rates r
          ON r.model_id = u.model_id AND u.day >= r.valid_from AND u.day < r.valid_to
         AND r.mode = {mode}
         AND r.tier_on = coalesce(r.tier_min IS NOT NULL AND u.day >= r.tier_from AND NOT u.agg
                                  AND (r.tier_to IS NULL OR u.day < r.tier_to)
                                  AND {over}, false)
    """


def tier_thresholds() -> str:
    """The long-prompt threshold of each model that has one (``model_id, tier_min``), from ``rates``.

    With it a request's long-prompt test can be made before requests are summed by what their
    price depends on (model, day, mode, region, whether the test passed) and priced once per sum.
    """
    return "(SELECT DISTINCT model_id, tier_min FROM rates WHERE tier_min IS NOT NULL)"
