"""Where budgets and rate buckets live: in this process (SQLite behind it) or in PostgreSQL.

:class:`LocalState` (one process; the default) checks and reserves in memory — no database round
trip on the request path — and writes each window's spend to SQLite behind the requests, once a
second and at shutdown, so a restart carries on from what was spent. Rate buckets are memory only.

:class:`~clawback.gateway.pg_state.PostgresState` (any number of processes) admits each limited request with one call of
``clawback_gateway_admit2`` (one round trip: rate buckets drawn from, budgets checked and reserved,
atomically under row locks) and settles it with one call of ``clawback_gateway_settle`` sent
behind the response. Reservations of a process that died expire after ``reservation_ttl_s``.

Both refuse with the API's error shape: a budget with 400 ``invalid_request_error`` (as the API
answers a self-set spend limit; ``x-should-retry: false`` so SDKs don't retry), a rate limit with
429 ``rate_limit_error`` and ``retry-after``. A state store that can't be reached refuses limited
requests with 529 ``overloaded_error`` (budgets fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from clawback.gateway.budgets import (
    Budget,
    BudgetBook,
    Period,
    Refusal,
    Reservation,
    WindowKey,
    window_label,
)
from clawback.gateway.metrics import BudgetGauge
from clawback.gateway.ratelimit import RateLimit, RateWindows, minute_of, wait_seconds
from clawback.gateway.schema import GATEWAY_MIGRATIONS
from clawback.gateway.wire import GatewayRefusal
from clawback.storage.location import StoreLocation

if TYPE_CHECKING:
    from clawback.gateway.pg_state import PostgresState

__all__ = [
    "FREE",
    "Admission",
    "AdmitPlan",
    "LocalState",
    "State",
    "budget_refusal",
    "open_state",
    "rate_refusal",
]

log = logging.getLogger("clawback.gateway")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AdmitPlan:
    """What one request must pass: budgets with its worst case, and rate limits per scope."""

    budgets: tuple[Budget, ...] = ()
    rates: tuple[tuple[str, RateLimit], ...] = ()
    worst: Decimal = ZERO

    @property
    def empty(self) -> bool:
        """Nothing to check."""
        return not self.budgets and not self.rates


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted request: what it holds, to be settled when it ends."""

    reservation_id: str | None = None
    amount: Decimal = ZERO
    windows: tuple[WindowKey, ...] = ()
    rate_scopes: tuple[str, ...] = ()
    minute: int = 0
    token_limits: tuple[int | None, ...] = ()
    """``tokens_per_minute`` of each of ``rate_scopes`` (PostgreSQL settles token buckets with them)."""


FREE = Admission()


class State(Protocol):
    """Budgets and rate buckets, wherever they live."""

    salt: str

    async def admit(self, plan: AdmitPlan, now: float) -> Admission:
        """Count and reserve for one request, or raise :class:`GatewayRefusal`."""
        ...

    def settle(self, admission: Admission, actual: Decimal, tokens: int, now: float) -> None:
        """Release the reservation and book the real cost and tokens (never blocks)."""
        ...

    async def book_batch(
        self, batch_id: str, items: Sequence[tuple[str, Decimal]], budgets: Sequence[Budget], now: float
    ) -> set[str]:
        """Book batch results' spend unless booked before; the custom ids that were new."""
        ...

    def gauges(self, budgets: Sequence[Budget], now: float) -> list[BudgetGauge]:
        """Where each budget's current window stands (as this process knows it)."""
        ...

    async def close(self) -> None:
        """Write what is pending and release connections."""
        ...


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def budget_refusal(refusal: Refusal) -> GatewayRefusal:
    """The error a refused budget answers with."""
    return GatewayRefusal(400, refusal.message(), headers={"x-should-retry": "false"})


def rate_refusal(scope: str, reason: str, wait_s: float) -> GatewayRefusal:
    """The error a reached rate limit answers with (``wait_s``: until a request would pass)."""
    kind, _, name = scope.partition(":")
    wait = wait_seconds(wait_s)
    return GatewayRefusal(
        429,
        f"clawback gateway: rate limit of {kind} {name!r} reached ({reason}); retry in {wait} s",
        headers={"retry-after": str(wait)},
    )


class LocalState:
    """Budgets in memory with SQLite write-behind; rate buckets in memory. One process only."""

    def __init__(self, path: Path | None, *, salt: str | None = None, flush_interval_s: float = 1.0) -> None:
        self.book = BudgetBook()
        self.rates = RateWindows()
        self._path = path
        self._conn: Any = None
        self._lock = threading.Lock()
        self._interval = flush_interval_s
        self._task: asyncio.Task[None] | None = None
        self._loaded: set[WindowKey] = set()
        self._labels: dict[tuple[str, int], str] = {}
        self.salt = salt or ""
        if path is not None:
            from clawback.storage.sqlite import connect_sqlite, migrate_sqlite

            self._conn = connect_sqlite(path, busy_timeout_ms=2000)
            migrate_sqlite(self._conn, GATEWAY_MIGRATIONS)
            if not self.salt:
                self.salt = _sqlite_salt(self._conn)
        if not self.salt:
            self.salt = secrets.token_hex(16)

    def start(self) -> None:
        """Start the write-behind task (inside the server's event loop)."""
        if self._conn is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_loop())

    def _load(self, key: WindowKey) -> None:
        """Read a window's spend back from SQLite the first time it is used (at most once)."""
        self._loaded.add(key)
        if self._conn is None:
            return
        with self._lock:
            row = self._conn.execute(
                "SELECT spent FROM clawback_gateway_budget WHERE scope = ? AND period = ? AND win = ?", key
            ).fetchone()
        if row is not None:
            self.book.load(key, Decimal(str(row[0])))

    async def admit(self, plan: AdmitPlan, now: float) -> Admission:
        """Check rate buckets, then budgets, in memory; raise :class:`GatewayRefusal` when one refuses."""
        for scope, limit in plan.rates:
            refused = self.rates.refusal(scope, limit, now)
            if refused is not None:
                raise rate_refusal(scope, *refused)
        result: Reservation | None = None
        if plan.budgets:
            when = _utc(now)
            day = int(now // 86400)
            keys = [(b.scope, b.period, self._label(b.period, day, when)) for b in plan.budgets]
            for key in keys:
                if key not in self._loaded:
                    self._load(key)
            reserved = self.book.reserve(plan.budgets, plan.worst, when, keys, named=False)
            if isinstance(reserved, Refusal):
                raise budget_refusal(reserved)
            result = reserved
        scopes = tuple(scope for scope, _ in plan.rates)
        for scope, limit in plan.rates:
            self.rates.count(scope, now, limit)
        if result is None:
            return Admission(rate_scopes=scopes, minute=minute_of(now))
        return Admission(None, result.amount, result.windows, scopes, minute_of(now))

    def _label(self, period: Period, day: int, when: datetime) -> str:
        """:func:`window_label`, remembered per UTC day number."""
        label = self._labels.get((period, day))
        if label is None:
            if len(self._labels) > 64:
                self._labels.clear()
            label = self._labels[(period, day)] = window_label(period, when)
        return label

    def settle(self, admission: Admission, actual: Decimal, tokens: int, now: float) -> None:
        """Book the real cost in memory (written to SQLite by the next flush)."""
        if admission.windows:
            self.book.settle(
                Reservation(admission.reservation_id or "", admission.amount, admission.windows), actual
            )
        for scope in admission.rate_scopes:
            self.rates.add_tokens(scope, tokens, now)

    async def book_batch(
        self, batch_id: str, items: Sequence[tuple[str, Decimal]], budgets: Sequence[Budget], now: float
    ) -> set[str]:
        """Book batch results once (the SQLite table remembers which were booked)."""
        if self._conn is not None:
            new = await asyncio.to_thread(self._mark_seen, batch_id, [c for c, _ in items])
        else:
            new = {c for c, _ in items}
        amount = sum((a for c, a in items if c in new), ZERO)
        when = _utc(now)
        keys = [(b.scope, b.period, window_label(b.period, when)) for b in budgets]
        for key in keys:
            if key not in self._loaded:
                self._load(key)
        if amount:
            self.book.add_spend(keys, amount)
        return new

    def _mark_seen(self, batch_id: str, custom_ids: Sequence[str]) -> set[str]:
        new: set[str] = set()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for custom_id in custom_ids:
                    cur = self._conn.execute(
                        "INSERT OR IGNORE INTO clawback_gateway_batch_seen (batch_id, custom_id) VALUES (?, ?)",
                        (batch_id, custom_id),
                    )
                    if cur.rowcount:
                        new.add(custom_id)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return new

    def gauges(self, budgets: Sequence[Budget], now: float) -> list[BudgetGauge]:
        """Each budget's current window, from memory."""
        when = _utc(now)
        out = []
        for b in budgets:
            spent, reserved = self.book.state((b.scope, b.period, window_label(b.period, when)))
            out.append(BudgetGauge(b.scope, b.period, b.limit_usd, spent, reserved))
        return out

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        """Write every changed window's spend to SQLite (off the event loop)."""
        dirty = self.book.take_dirty()
        if dirty and self._conn is not None:
            try:
                await asyncio.to_thread(self._write, dirty)
            except Exception as exc:  # the spend stays in memory; the next flush writes it
                log.warning("gateway: cannot write budget state: %s", exc)
                self.book.dirty.update(dirty)

    def _write(self, dirty: dict[WindowKey, Decimal]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO clawback_gateway_budget (scope, period, win, spent) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (scope, period, win) DO UPDATE SET spent = excluded.spent",
                    [(*key, str(spent)) for key, spent in dirty.items()],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        """Stop the write-behind task, write the last changes, close SQLite."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._conn is not None:
            with self._lock:
                self._conn.close()
            self._conn = None


def _sqlite_salt(conn: Any) -> str:
    conn.execute(
        "INSERT OR IGNORE INTO clawback_gateway_meta (name, value) VALUES ('salt', ?)",
        (secrets.token_hex(16),),
    )
    row = conn.execute("SELECT value FROM clawback_gateway_meta WHERE name = 'salt'").fetchone()
    return str(row[0])


def open_state(location: StoreLocation | None, *, salt: str | None) -> LocalState | PostgresState:
    """The state store for ``location``: PostgreSQL for a URL, else a local state over SQLite."""
    if location is not None and location.kind == "postgres":
        from clawback.gateway.pg_state import PostgresState

        return PostgresState(location, salt=salt)
    return LocalState(location.path if location is not None else None, salt=salt)
