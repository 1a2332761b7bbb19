"""Budgets, reservations and rate buckets in PostgreSQL, shared by any number of gateway processes.

Each limited request is admitted with one call of ``clawback_gateway_admit2`` (one round trip: rate
buckets drawn from (GCRA), budgets checked and reserved, atomically under row locks taken in a fixed order)
and settled with one call of ``clawback_gateway_settle2`` sent behind the response. Reservations of
a process that died expire after ``reservation_ttl_s`` (the sweeper runs every minute). An
unreachable database refuses limited requests with 529 ``overloaded_error``: budgets fail closed.
See :mod:`clawback.gateway.schema` for the tables and functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clawback.errors import ClawbackError, StoreError
from clawback.gateway.budgets import Budget, Refusal, Reservation, WindowKey, resets_at, window_label
from clawback.gateway.metrics import BudgetGauge
from clawback.gateway.ratelimit import minute_of
from clawback.gateway.schema import GATEWAY_MIGRATIONS
from clawback.gateway.state import Admission, AdmitPlan, budget_refusal, rate_refusal
from clawback.gateway.wire import GatewayRefusal
from clawback.storage.location import StoreLocation

__all__ = ["PostgresState"]

log = logging.getLogger("clawback.gateway")
ZERO = Decimal(0)


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


@dataclass(slots=True)
class _Pool:
    conns: list[Any] = field(default_factory=list)
    next: int = 0

    def pick(self) -> Any:
        conn = self.conns[self.next % len(self.conns)]
        self.next += 1
        return conn


class PostgresState:
    """Budgets, reservations and rate buckets in PostgreSQL, shared by every gateway process."""

    def __init__(
        self,
        location: StoreLocation,
        *,
        salt: str | None = None,
        connections: int = 4,
        reservation_ttl_s: float = 900.0,
    ) -> None:
        self.location = location
        self.salt = salt or ""
        self._size = connections
        self._pool = _Pool()
        self._ttl = reservation_ttl_s
        self._pending: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._known: dict[WindowKey, tuple[Decimal, Decimal]] = {}

    async def start(self) -> None:
        """Connect, migrate (under an advisory lock) and read or create the shared salt."""
        import psycopg

        from clawback.storage.postgres import connect_postgres, migrate_postgres

        conn = await asyncio.to_thread(connect_postgres, self.location, application_name="clawback-gateway")
        try:
            await asyncio.to_thread(migrate_postgres, conn, GATEWAY_MIGRATIONS, self.location)
            if not self.salt:
                conn.execute(
                    "INSERT INTO clawback_gateway_meta (name, value) VALUES ('salt', %s) ON CONFLICT DO NOTHING",
                    (secrets.token_hex(16),),
                )
                row = conn.execute("SELECT value FROM clawback_gateway_meta WHERE name = 'salt'").fetchone()
                self.salt = str(row[0]) if row is not None else secrets.token_hex(16)
        finally:
            conn.close()
        try:
            for _ in range(self._size):
                self._pool.conns.append(
                    await psycopg.AsyncConnection.connect(
                        self.location.target,
                        autocommit=True,
                        connect_timeout=5,
                        application_name="clawback-gateway",
                    )
                )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to {self.location.display}: {self.location.scrub(str(exc))}"
            ) from None
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _call(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        import psycopg

        conn = self._pool.pick()
        try:
            cur = await conn.execute(sql, params)
            return list(await cur.fetchall()) if cur.description else []
        except psycopg.Error as exc:
            log.warning("gateway: state store error: %s", self.location.scrub(str(exc).strip()))
            if conn.broken or conn.closed:
                await self._replace(conn)
            raise GatewayRefusal(
                529, "clawback gateway: the budget store is unavailable; retry shortly"
            ) from None

    async def _replace(self, conn: Any) -> None:
        import psycopg

        with contextlib.suppress(Exception):
            await conn.close()
        try:
            fresh = await psycopg.AsyncConnection.connect(
                self.location.target, autocommit=True, connect_timeout=5
            )
        except psycopg.Error:
            return
        self._pool.conns[self._pool.conns.index(conn)] = fresh

    async def admit(self, plan: AdmitPlan, now: float) -> Admission:
        """One round trip: ``clawback_gateway_admit2`` counts, checks and reserves atomically."""
        when = _utc(now)
        budgets = sorted(plan.budgets, key=lambda b: (b.scope, b.period))
        rates = sorted(plan.rates, key=lambda r: r[0])
        wins = [window_label(b.period, when) for b in budgets]
        rid = Reservation.new(plan.worst, ()).id if budgets else None
        minute = minute_of(now)
        rows = await self._call(
            "SELECT o_index, o_kind, o_spent, o_reserved, o_wait "
            "FROM clawback_gateway_admit2(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                rid or "",
                plan.worst,
                [b.scope for b in budgets],
                [b.period for b in budgets],
                wins,
                [b.limit_usd for b in budgets],
                [s for s, _ in rates],
                now,
                [r.requests_per_minute for _, r in rates],
                [r.tokens_per_minute for _, r in rates],
                when + timedelta(seconds=self._ttl),
            ),
        )
        if rows:
            index, kind, spent, reserved, wait = rows[0]
            if kind == "budget":
                b = budgets[index - 1]
                raise budget_refusal(
                    Refusal(b, Decimal(spent), Decimal(reserved), plan.worst, resets_at(b.period, when))
                )
            scope, limit = rates[index - 1]
            reason = (
                f"{limit.requests_per_minute} requests per minute"
                if kind == "requests"
                else (f"{limit.tokens_per_minute} tokens per minute")
            )
            raise rate_refusal(scope, reason, float(wait))
        windows = tuple((b.scope, b.period, w) for b, w in zip(budgets, wins, strict=True))
        return Admission(
            rid,
            plan.worst,
            windows,
            tuple(s for s, _ in rates),
            minute,
            tuple(r.tokens_per_minute for _, r in rates),
        )

    def settle(self, admission: Admission, actual: Decimal, tokens: int, now: float) -> None:
        """Send the settlement behind the response (a task; awaited at close)."""
        if not admission.windows and not admission.rate_scopes:
            return
        task = asyncio.get_running_loop().create_task(self._settle(admission, actual, tokens, now))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _settle(self, a: Admission, actual: Decimal, tokens: int, now: float) -> None:
        try:
            await self._call(
                "SELECT clawback_gateway_settle2(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    a.reservation_id,
                    actual,
                    [w[0] for w in a.windows],
                    [w[1] for w in a.windows],
                    [w[2] for w in a.windows],
                    list(a.rate_scopes),
                    now,
                    tokens,
                    list(a.token_limits) or [None] * len(a.rate_scopes),
                ),
            )
        except (ClawbackError, OSError) as exc:  # the reservation expires; the ledger still has the row
            log.warning("gateway: could not settle a request's budget: %s", exc)

    async def book_batch(
        self, batch_id: str, items: Sequence[tuple[str, Decimal]], budgets: Sequence[Budget], now: float
    ) -> set[str]:
        """Book batch results once across every process (one statement marks them seen)."""
        if not items:
            return set()
        rows = await self._call(
            "INSERT INTO clawback_gateway_batch_seen (batch_id, custom_id) SELECT %s, unnest(%s::text[]) "
            "ON CONFLICT DO NOTHING RETURNING custom_id",
            (batch_id, [c for c, _ in items]),
        )
        new = {str(r[0]) for r in rows}
        amount = sum((a for c, a in items if c in new), ZERO)
        if budgets and amount:
            when = _utc(now)
            await self._call(
                "SELECT clawback_gateway_settle(NULL, %s, %s, %s, %s, %s, %s, %s)",
                (
                    amount,
                    [b.scope for b in budgets],
                    [b.period for b in budgets],
                    [window_label(b.period, when) for b in budgets],
                    [],
                    0,
                    0,
                ),
            )
        return new

    async def refresh(self, budgets: Sequence[Budget], now: float) -> None:
        """Read the current windows of ``budgets`` for /metrics and the dashboard."""
        when = _utc(now)
        for b in budgets:
            key = (b.scope, b.period, window_label(b.period, when))
            rows = await self._call(
                "SELECT spent, reserved FROM clawback_gateway_budget WHERE scope = %s AND period = %s AND win = %s",
                key,
            )
            self._known[key] = (Decimal(rows[0][0]), Decimal(rows[0][1])) if rows else (ZERO, ZERO)

    def gauges(self, budgets: Sequence[Budget], now: float) -> list[BudgetGauge]:
        """Each budget's window as last read by :meth:`refresh`."""
        when = _utc(now)
        out = []
        for b in budgets:
            spent, reserved = self._known.get((b.scope, b.period, window_label(b.period, when)), (ZERO, ZERO))
            out.append(BudgetGauge(b.scope, b.period, b.limit_usd, spent, reserved))
        return out

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(60)
            with contextlib.suppress(GatewayRefusal):
                await self._call("SELECT clawback_gateway_expire(%s)", (datetime.now(UTC),))

    async def close(self) -> None:
        """Wait for settlements in flight, then close the connections."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=10)
        for conn in self._pool.conns:
            with contextlib.suppress(Exception):
                await conn.close()
        self._pool.conns.clear()
