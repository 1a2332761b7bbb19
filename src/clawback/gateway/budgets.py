"""Budgets in USD per day or month: windows, reservations and settlement (pure).

Admission rule: a request is admitted only when, for every budget over it (its key's and its
project's, daily and monthly), ``spent + reserved + worst <= limit``, where ``worst`` is the
request's worst-case cost (:func:`worst_case_cost`). Its ``worst`` is then *reserved* in each
window; when the request ends, the reservation is released and the real cost added to ``spent``.

Overshoot bound: while ``worst`` really bounds a request's cost, spend never passes a limit. It can
only when a request costs more than its worst case (see :func:`worst_case_cost` for when that
happens), and then by at most that request's excess over its worst case — so concurrent requests,
in one process or many sharing PostgreSQL, overshoot a budget by at most one request's worst case
(documented and tested in docs/gateway.md). Windows are UTC days and months.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from clawback.errors import ClawbackError
from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import Usage, format_usd, price_usage

__all__ = [
    "Budget",
    "BudgetBook",
    "Period",
    "Refusal",
    "Reservation",
    "WindowKey",
    "resets_at",
    "window_label",
    "worst_case_cost",
    "worst_case_input_tokens",
]

Period = Literal["day", "month"]
WindowKey = tuple[str, str, str]
"""``(scope, period, window label)``, e.g. ``("key:team-a", "day", "2026-12-07")``."""

TOOL_OVERHEAD_TOKENS = 1_000
"""Added to every worst case: the largest tool-use system prompt any model adds is under 1,000."""

ZERO = Decimal(0)


class _ReservationIds:
    """``rsv_<random per process>_<counter>``; the prefix is drawn on first use in each process
    (so forked workers never share one)."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._counter = itertools.count()

    def next(self) -> str:
        if self._pid != os.getpid():
            self._pid, self._prefix, self._counter = os.getpid(), secrets.token_hex(8), itertools.count()
        return f"rsv_{self._prefix}_{next(self._counter)}"


_IDS = _ReservationIds()


@dataclass(frozen=True, slots=True)
class Budget:
    """A limit in USD over one scope (``key:NAME`` or ``project:NAME``) per day or month."""

    scope: str
    period: Period
    limit_usd: Decimal

    @property
    def label(self) -> str:
        """How a person names it: ``daily budget of key 'team-a'``."""
        kind, _, name = self.scope.partition(":")
        return f"{'daily' if self.period == 'day' else 'monthly'} budget of {kind} {name!r}"


def window_label(period: Period, when: datetime) -> str:
    """The window ``when`` falls in: ``2026-12-07`` (day) or ``2026-12`` (month), UTC."""
    day = when.astimezone(UTC).date()
    return day.isoformat() if period == "day" else f"{day.year:04d}-{day.month:02d}"


def resets_at(period: Period, when: datetime) -> datetime:
    """When the window holding ``when`` ends (the next UTC midnight, or first of the next month)."""
    day = when.astimezone(UTC).date()
    if period == "day":
        nxt = day + timedelta(days=1)
    else:
        nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC)


def worst_case_input_tokens(body_bytes: int) -> int:
    """An upper bound on a request's input tokens: one per byte of its JSON body, plus tool overhead.

    Every token of a byte-level tokenizer covers at least one byte of text, and JSON framing only
    adds bytes, so this bounds text, tools and base64 images. It does not bound what the request
    only points at (a PDF's pages, a ``file_id``) or what server tools add while running: those
    can cost more, which is the one way a budget can be overshot (module docstring).
    """
    return max(0, body_bytes) + TOOL_OVERHEAD_TOKENS


def worst_case_cost(
    info: ModelInfo,
    *,
    body_bytes: int,
    max_tokens: int,
    day: date,
    cache_writes: bool,
    flags: Mapping[str, Any] | None = None,
) -> Decimal:
    """The most a request may cost: every input token at the dearest input rate it could be
    billed at (a 1-hour cache write when it caches), plus ``max_tokens`` of output.

    ``flags`` are the body's ``inference_geo``, ``speed`` and ``service_tier``-like fields, priced
    as the API would (the US-only 1.1x, fast mode). The prompt-length tier is applied by the
    pricing engine itself.
    """
    tokens = worst_case_input_tokens(body_bytes)
    flags = flags or {}
    geo = flags.get("inference_geo")
    speed = flags.get("speed")
    usage = Usage(
        input_tokens=0 if cache_writes else tokens,
        cache_write_1h_input_tokens=tokens if cache_writes else 0,
        output_tokens=max(0, max_tokens),
        inference_geo=geo if isinstance(geo, str) else None,
        speed=speed if speed == "fast" else None,
    )
    try:
        return price_usage(usage, info, at=day).total
    except ClawbackError:  # e.g. fast mode on a model without fast rates: the API refuses it anyway
        return price_usage(
            Usage(
                input_tokens=usage.input_tokens,
                cache_write_1h_input_tokens=usage.cache_write_1h_input_tokens,
                output_tokens=usage.output_tokens,
            ),
            info,
            at=day,
        ).total


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money held for one request in flight, in each window it counts against."""

    id: str
    amount: Decimal
    windows: tuple[WindowKey, ...]

    @classmethod
    def new(cls, amount: Decimal, windows: Iterable[WindowKey]) -> Reservation:
        """A reservation with a fresh id (unique across processes: a per-process prefix and a counter)."""
        return cls(_IDS.next(), amount, tuple(windows))


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was refused: the budget, where it stands, and when it resets."""

    budget: Budget
    spent: Decimal
    reserved: Decimal
    worst: Decimal
    resets: datetime

    def message(self) -> str:
        """The error message the caller sees (names the budget and when it resets)."""
        reset = self.resets.strftime("%Y-%m-%dT%H:%M:%SZ")
        held = f", ${format_usd(self.reserved)} held by requests in flight" if self.reserved else ""
        return (
            f"clawback gateway: this request would exceed the {self.budget.label} of "
            f"${format_usd(self.budget.limit_usd)}: ${format_usd(self.spent)} spent{held}, and this request "
            f"may cost up to ${format_usd(self.worst)} (input estimate + max_tokens). "
            f"The budget resets at {reset}."
        )


@dataclass(slots=True)
class _Window:
    spent: Decimal = ZERO
    reserved: Decimal = ZERO


@dataclass(slots=True)
class BudgetBook:
    """Every budget window this process holds: spent and reserved amounts, in memory."""

    windows: dict[WindowKey, _Window] = field(default_factory=dict)
    dirty: set[WindowKey] = field(default_factory=set)

    def _window(self, key: WindowKey) -> _Window:
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = _Window()
        return window

    def load(self, key: WindowKey, spent: Decimal) -> None:
        """Start a window at ``spent`` (read back from the state store)."""
        self._window(key).spent = spent

    def check(
        self,
        budgets: Sequence[Budget],
        worst: Decimal,
        now: datetime,
        keys: Sequence[WindowKey] | None = None,
    ) -> Refusal | list[WindowKey]:
        """The refusal of the first budget ``worst`` would exceed, else the windows to reserve in
        (``keys``: the budgets' current windows, when the caller knows them)."""
        out: list[WindowKey] = []
        for i, budget in enumerate(budgets):
            key = (
                keys[i]
                if keys is not None
                else (budget.scope, budget.period, window_label(budget.period, now))
            )
            window = self._window(key)
            if window.spent + window.reserved + worst > budget.limit_usd:
                return Refusal(budget, window.spent, window.reserved, worst, resets_at(budget.period, now))
            out.append(key)
        return out

    def reserve(
        self,
        budgets: Sequence[Budget],
        worst: Decimal,
        now: datetime,
        keys: Sequence[WindowKey] | None = None,
        *,
        named: bool = True,
    ) -> Refusal | Reservation:
        """Hold ``worst`` in every window of ``budgets``, or say which budget refuses it
        (``named=False``: a reservation without an id, for a store that never looks one up)."""
        checked = self.check(budgets, worst, now, keys)
        if isinstance(checked, Refusal):
            return checked
        windows = self.windows
        for key in checked:
            windows[key].reserved += worst
        return Reservation.new(worst, checked) if named else Reservation("", worst, tuple(checked))

    def settle(self, reservation: Reservation, actual: Decimal) -> None:
        """Release ``reservation`` and book the real cost in its windows."""
        for key in reservation.windows:
            window = self._window(key)
            window.reserved = max(ZERO, window.reserved - reservation.amount)
            window.spent += actual
            self.dirty.add(key)

    def add_spend(self, keys: Iterable[WindowKey], amount: Decimal) -> None:
        """Book spend that was never reserved (batch results read through the gateway)."""
        for key in keys:
            self._window(key).spent += amount
            self.dirty.add(key)

    def take_dirty(self) -> dict[WindowKey, Decimal]:
        """Windows whose spend changed since the last call, with their spend (for write-behind)."""
        out = {key: self.windows[key].spent for key in self.dirty if key in self.windows}
        self.dirty.clear()
        return out

    def state(self, key: WindowKey) -> tuple[Decimal, Decimal]:
        """``(spent, reserved)`` of one window."""
        window = self.windows.get(key)
        return (ZERO, ZERO) if window is None else (window.spent, window.reserved)
