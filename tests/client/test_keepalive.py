"""Opt-in keep-alive through the client: pings before expiry, recorded, under the spend cap."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import clawback
from clawback.emulator.testing import EmulatorSession
from tests.client.conftest import ClientFactory, ticket


def _five_minute_ticket(i: int) -> dict[str, Any]:
    """A ticket whose caller keeps a 5-minute breakpoint on the system prompt (the planner might
    otherwise choose an hour for a prompt used every six minutes, and need no pings)."""
    body = ticket(i)
    body["system"] = [{"type": "text", "text": body["system"], "cache_control": {"type": "ephemeral"}}]
    return body


def _run(client: clawback.Anthropic, emulator: EmulatorSession, calls: int) -> list[int]:
    reads = []
    keepalive = client.clawback.keepalive
    assert keepalive is not None
    for i in range(calls):
        body = _five_minute_ticket(i)
        reads.append(client.messages.create(**body, task="classify").usage.cache_read_input_tokens)
        emulator.advance(285)  # just before the 5-minute entry expires
        keepalive.run_pending()
        emulator.advance(75)  # the next call comes 6 minutes after the last
    return reads


def test_pings_keep_a_five_minute_entry_alive_between_calls_six_minutes_apart(
    make_client: ClientFactory, emulator: EmulatorSession, tmp_path: Path
) -> None:
    client = make_client(keep_alive_cap_usd=Decimal("1.00"))
    reads = _run(client, emulator, 6)
    assert reads[0] == 0 and all(r > 1000 for r in reads[2:])
    keepalive = client.clawback.keepalive
    assert keepalive is not None and keepalive.pings_sent >= 4
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        records = list(ledger.iter_records())
    pings = [r for r in records if r.extra.get("keepalive")]
    assert len(pings) == keepalive.pings_sent
    assert all(r.usage and r.usage["output_tokens"] == 0 and r.stop_reason == "max_tokens" for r in pings)
    # a ping is the prefix alone: it reads the entry, writes nothing, and resends no question
    assert all(r.usage and r.usage["cache_read_input_tokens"] > 1000 for r in pings)
    assert all(r.usage and r.usage["cache_creation_input_tokens"] == 0 for r in pings)
    assert all(r.usage and r.usage["input_tokens"] <= 8 for r in pings)
    assert sum((r.total or Decimal(0)) for r in pings) == keepalive.spent


def test_the_spend_cap_stops_pings(make_client: ClientFactory, emulator: EmulatorSession) -> None:
    client = make_client(keep_alive_cap_usd=Decimal("0.0004"))  # about one ping's worth
    _run(client, emulator, 6)
    keepalive = client.clawback.keepalive
    assert keepalive is not None and keepalive.pings_sent <= 1 and keepalive.spent <= Decimal("0.0004")


def test_no_pings_once_traffic_stops(make_client: ClientFactory, emulator: EmulatorSession) -> None:
    client = make_client(keep_alive_cap_usd=Decimal("1.00"))
    _run(client, emulator, 3)
    keepalive = client.clawback.keepalive
    assert keepalive is not None
    before = keepalive.pings_sent
    for _ in range(40):  # three hours of silence, checked every 5 minutes
        emulator.advance(290)
        keepalive.run_pending()
    assert keepalive.pings_sent == before  # the gaps seen so far say no use is coming: no ping
    emulator.advance(3 * 3600)
    assert keepalive.run_pending() == 0
