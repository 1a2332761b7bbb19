"""State stores: in-memory budgets written behind to SQLite survive a restart; PostgreSQL admits,
settles, limits rates and expires the reservations of a process that died."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.gateway.budgets import Budget
from clawback.gateway.pg_state import PostgresState
from clawback.gateway.ratelimit import RateLimit
from clawback.gateway.state import AdmitPlan, LocalState
from clawback.gateway.wire import GatewayRefusal
from clawback.storage.location import parse_location

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp()
DAILY = Budget("key:alpha", "day", Decimal("1.00"))


def test_local_state_carries_spend_and_salt_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"

    async def first() -> str:
        state = LocalState(path)
        state.start()
        admission = await state.admit(AdmitPlan((DAILY,), (), Decimal("0.30")), NOW)
        state.settle(admission, Decimal("0.25"), 100, NOW)
        batch = await state.book_batch(
            "msgbatch_1", [("a", Decimal("0.10")), ("b", Decimal("0.05"))], (DAILY,), NOW
        )
        assert batch == {"a", "b"}
        await state.close()
        return state.salt

    async def second() -> tuple[str, Decimal]:
        state = LocalState(path)
        again = await state.book_batch(
            "msgbatch_1", [("a", Decimal("0.10")), ("c", Decimal("0.01"))], (DAILY,), NOW
        )
        assert again == {"c"}  # a was booked before the restart
        with pytest.raises(GatewayRefusal) as refused:
            await state.admit(AdmitPlan((DAILY,), (), Decimal("0.60")), NOW)
        assert refused.value.status == 400 and "$0.41 spent" in refused.value.message
        (gauge,) = state.gauges([DAILY], NOW)
        await state.close()
        return state.salt, gauge.spent_usd

    salt = asyncio.run(first())
    salt_again, spent = asyncio.run(second())
    assert salt == salt_again and len(salt) == 32
    assert spent == Decimal("0.41")


@pytest.mark.postgres
def test_postgres_state_admits_settles_limits_and_expires(pg_database: str) -> None:
    async def run() -> None:
        state = PostgresState(parse_location(pg_database), reservation_ttl_s=0.0)
        await state.start()
        other = PostgresState(parse_location(pg_database))
        await other.start()
        assert state.salt == other.salt  # one salt per deployment
        plan = AdmitPlan((DAILY,), (("key:alpha", RateLimit(requests_per_minute=3)),), Decimal("0.40"))
        a = await state.admit(plan, NOW)
        b = await other.admit(plan, NOW)
        with pytest.raises(GatewayRefusal) as budget:
            await other.admit(plan, NOW)  # 0.80 held, 0.40 more would pass 1.00
        assert budget.value.status == 400 and "daily budget of key 'alpha'" in budget.value.message
        state.settle(a, Decimal("0.05"), 10, NOW)
        await asyncio.sleep(0.2)
        c = await state.admit(plan, NOW)  # the 3rd admitted this minute (the refused one never counted)
        with pytest.raises(GatewayRefusal) as rate:
            await other.admit(plan, NOW)
        assert rate.value.status == 429 and rate.value.headers["retry-after"]
        # the processes "die" holding b (15-minute ttl) and c (ttl 0): each expires in its time
        await state._call("SELECT clawback_gateway_expire(%s)", (datetime.fromtimestamp(NOW + 1, UTC),))
        await state.refresh([DAILY], NOW)
        (gauge,) = state.gauges([DAILY], NOW)
        assert gauge.spent_usd == Decimal("0.05") and gauge.reserved_usd == Decimal("0.40")
        await state._call("SELECT clawback_gateway_expire(%s)", (datetime.fromtimestamp(NOW + 901, UTC),))
        await state.refresh([DAILY], NOW)
        (gauge,) = state.gauges([DAILY], NOW)
        assert gauge.reserved_usd == 0
        _ = (b, c)
        for conn in state._pool.conns:  # the database goes away under one process
            await conn.close()
        with pytest.raises(GatewayRefusal) as down:
            await state.admit(plan, NOW)
        assert down.value.status == 529 and down.value.type == "overloaded_error"  # budgets fail closed
        await state.close()
        await other.close()

    asyncio.run(run())
