"""Where the money went: totals by task, model, day and token kind, from the priced table (SQL).

Costs are summed in DuckDB as exact decimals in micro-dollars and turned into dollars with
:meth:`~decimal.Decimal.scaleb` (exact). Unpriced calls are summed apart, with their tokens and the
reason, and never add to a total.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from clawback.audit.duckdb_engine import duckdb
from clawback.audit.results import SeriesPoint, Spend, SpendRow, UnpricedRow

__all__ = ["COST_COLUMNS", "micro_to_usd", "pick_bucket", "spend", "window"]

COST_COLUMNS: Final = {
    "uncached_input": "c_in",
    "cache_write_5m": "c_w5",
    "cache_write_1h": "c_w1",
    "cache_read": "c_rd",
    "output": "c_out",
    "web_search": "c_web",
}
TOTAL_SQL: Final = "(c_in + c_w5 + c_w1 + c_rd + c_out + c_web)"
_BUCKETS: Final = (
    (timedelta(hours=3), "5 minutes"),
    (timedelta(days=3), "1 hour"),
    (timedelta(days=120), "1 day"),
)
_WIDTHS: Final = {
    "5 minutes": timedelta(minutes=5),
    "1 hour": timedelta(hours=1),
    "1 day": timedelta(days=1),
    "7 days": timedelta(days=7),
}


def micro_to_usd(value: Any) -> Decimal:
    """Micro-dollars from SQL (Decimal, int or None) as exact dollars."""
    if value is None:
        return Decimal(0)
    return Decimal(value).scaleb(-6)


def pick_bucket(first: datetime | None, last: datetime | None) -> str:
    """The chart bucket for a window: 5 minutes up to 3 hours, hours up to 3 days, then days or weeks."""
    if first is None or last is None:
        return "1 day"
    span = last - first
    for limit, width in _BUCKETS:
        if span <= limit:
            return width
    return "7 days"


def window(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """The first call's time and the last call's (or the end of the last aggregated bucket)."""
    first, last = con.execute("SELECT min(ts), max(coalesce(ts_end, ts)) FROM priced").fetchall()[0]
    return _utc(first), _utc(last)


def _utc(ts: datetime | None) -> datetime | None:
    return None if ts is None else ts.replace(tzinfo=UTC)


def _kinds_sql() -> str:
    return ", ".join(f"sum({col}) FILTER (WHERE unpriced IS NULL)" for col in COST_COLUMNS.values())


_ROLLUP: Final = "spend_rollup"


def _rollup(con: duckdb.DuckDBPyConnection, bucket: str) -> None:
    """One pass over the calls: their sums by every key a spend view groups by (a small table).

    Every view of :func:`spend` is then a grouping of this table: sums of sums, exact.
    """
    costs = ", ".join(f"sum({col}) AS {col}" for col in COST_COLUMNS.values())
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_ROLLUP} AS
        SELECT coalesce(model_id, model) AS by_model, task AS by_task, CAST(day AS VARCHAR) AS by_day,
               time_bucket(INTERVAL '{bucket}', ts) AS by_bucket, model, unpriced, agg,
               count(*) AS n, {costs}, sum(inp) AS inp, sum(outp) AS outp, sum(rd) AS rd,
               sum(w5 + w1) AS w, sum(inp + rd + w5 + w1) AS prompt
        FROM priced GROUP BY ALL
        """
    )


def _rows(con: duckdb.DuckDBPyConnection, key: str) -> tuple[SpendRow, ...]:
    sql = f"""
        SELECT {key} AS k, sum(n) FILTER (WHERE NOT agg), {_kinds_sql()},
               sum(inp), sum(outp), sum(rd), sum(w), sum(n) FILTER (WHERE unpriced IS NOT NULL),
               sum(n) FILTER (WHERE agg)
        FROM {_ROLLUP} GROUP BY k
    """
    out = []
    for row in con.execute(sql).fetchall():
        kinds = {name: micro_to_usd(v) for name, v in zip(COST_COLUMNS, row[2:8], strict=True)}
        out.append(
            SpendRow(
                key=str(row[0]),
                calls=int(row[1] or 0),
                usd=sum(kinds.values(), Decimal(0)),
                by_kind=kinds,
                input_tokens=int(row[8] or 0),
                output_tokens=int(row[9] or 0),
                cache_read_tokens=int(row[10] or 0),
                cache_write_tokens=int(row[11] or 0),
                unpriced_calls=int(row[12] or 0),
                buckets=int(row[13] or 0),
            )
        )
    return tuple(sorted(out, key=lambda r: (-r.usd, r.key)))


def _series(con: duckdb.DuckDBPyConnection, bucket: str) -> tuple[SeriesPoint, ...]:
    by_model: dict[datetime, dict[str, Decimal]] = {}
    for start, model, cost in con.execute(
        f"SELECT by_bucket, by_model, sum({TOTAL_SQL}) FILTER (WHERE unpriced IS NULL) "
        f"FROM {_ROLLUP} GROUP BY ALL"
    ).fetchall():
        by_model.setdefault(start.replace(tzinfo=UTC), {})[str(model)] = micro_to_usd(cost)
    points: dict[datetime, SeriesPoint] = {}
    for row in con.execute(
        f"SELECT by_bucket AS s, {_kinds_sql()}, sum(rd), sum(prompt) FROM {_ROLLUP} GROUP BY s ORDER BY s"
    ).fetchall():
        kinds = {name: micro_to_usd(v) for name, v in zip(COST_COLUMNS, row[1:7], strict=True)}
        prompt = int(row[8] or 0)
        start = row[0].replace(tzinfo=UTC)
        points[start] = SeriesPoint(
            start=start,
            by_model=by_model.get(start, {}),
            by_kind=kinds,
            hit_rate=(int(row[7] or 0) / prompt) if prompt else None,
        )
    return _fill(points, _WIDTHS[bucket])


def _fill(points: dict[datetime, SeriesPoint], width: timedelta) -> tuple[SeriesPoint, ...]:
    """The points in time order with an empty point for every bucket without calls (a continuous axis)."""
    if not points:
        return ()
    out, at, last = [], min(points), max(points)
    while at <= last:
        out.append(points.get(at) or SeriesPoint(at, {}, {k: Decimal(0) for k in COST_COLUMNS}, None))
        at += width
    return tuple(out)


def spend(con: duckdb.DuckDBPyConnection) -> Spend:
    """Totals by task, model, day and token kind, the unpriced bucket and the chart series."""
    first, last = window(con)
    bucket = pick_bucket(first, last)
    _rollup(con, bucket)
    by_model = _rows(con, "by_model")
    totals = con.execute(
        f"SELECT sum(n) FILTER (WHERE NOT agg), sum(n) FILTER (WHERE agg), {_kinds_sql()}, "
        f"sum(rd), sum(prompt) FROM {_ROLLUP}"
    ).fetchall()[0]
    assert totals is not None
    by_kind = {name: micro_to_usd(v) for name, v in zip(COST_COLUMNS, totals[2:8], strict=True)}
    unpriced = tuple(
        UnpricedRow(str(m), str(reason), int(n), int(tin or 0), int(tout or 0))
        for m, reason, n, tin, tout in con.execute(
            f"SELECT model, unpriced, sum(n), sum(prompt), sum(outp) FROM {_ROLLUP} "
            "WHERE unpriced IS NOT NULL GROUP BY ALL ORDER BY 3 DESC, 1"
        ).fetchall()
    )
    prompt = int(totals[9] or 0)
    return Spend(
        calls=int(totals[0] or 0),
        buckets=int(totals[1] or 0),
        total=sum(by_kind.values(), Decimal(0)),
        by_kind=by_kind,
        by_model=by_model,
        by_task=_rows(con, "by_task"),
        by_day=tuple(sorted(_rows(con, "by_day"), key=lambda r: r.key)),
        unpriced=unpriced,
        first=first,
        last=last,
        bucket=bucket,
        series=_series(con, bucket),
        hit_rate=(int(totals[8] or 0) / prompt) if prompt else None,
    )
