"""Opt-in keep-alive through the client: pings before expiry, recorded, under the spend cap."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import clawback
from clawback.audit.caching import DEFAULT_KEEPALIVE_CAP
from clawback.cache.keepalive import KeepAliveSettings
from clawback.cache.policies import PlannerPolicy
from clawback.cache.replay import CallResult, TimedShape, replay
from clawback.client import ClientOptions
from clawback.client.keepalive import MAX_FAILURES
from clawback.client.settled import day_of
from clawback.emulator.testing import TEST_KEY, EmulatorSession, emulator_client
from clawback.ledger.record import CallRecord
from clawback.pricing import load_catalogue
from clawback.shapes import RequestShape, request_shape
from tests.client.conftest import SYSTEM, ClientFactory, ticket


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
        emulator.advance(290)  # 10 s before the 5-minute entry expires: the keeper checks it then
        keepalive.run_pending()
        emulator.advance(70)  # the next call comes 6 minutes after the last
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


# -- one code path: the client's keep-alive decides as the replay (and the audit) do ---------------

_GAPS = (15.0, 90.0, 240.0, 330.0, 450.0, 800.0, 1900.0)
"""Seconds between calls: within 5 minutes, just past them (a ping pays), well past them."""


def _conversation_bodies(turns: list[tuple[int, float]]) -> list[tuple[float, dict[str, Any]]]:
    """(offset, body) of calls in three conversations under one system prompt, each turn growing its own."""
    out: list[tuple[float, dict[str, Any]]] = []
    history: dict[int, list[dict[str, Any]]] = {}
    at = 0.0
    for n, (convo, gap) in enumerate(turns):
        at += gap
        messages = history.setdefault(convo, [])
        if messages:
            messages.append({"role": "assistant", "content": f"Noted for case {convo}, step {n}. " * 30})
        question = f"Case {convo}, step {n}: the parcel is still missing, what now? " * (20 + 7 * (n % 5))
        messages.append({"role": "user", "content": question})
        body = {"model": "claude-sonnet-5-5", "max_tokens": 32, "system": SYSTEM,
                "messages": [dict(m) for m in messages]}  # fmt: skip
        out.append((at, body))
    return out


def _task(body: dict[str, Any]) -> str:
    """Conversations 0 and 2 are one task, 1 another (the label is evidence for the planner)."""
    return "refunds" if "Case 1" in body["messages"][0]["content"] else "tracking"


def _client_run(calls: list[tuple[float, dict[str, Any]]], ledger: Path) -> list[CallRecord]:
    """The calls through clawback.Anthropic on the emulator, each due ping sent at its due time."""
    with emulator_client() as emulator:
        options = ClientOptions(
            clock=emulator.state.clock.now, keep_alive_cap_usd=Decimal(5), ledger_mode="sync"
        )
        client = clawback.Anthropic(base_url=emulator.base_url, api_key=TEST_KEY, max_retries=0,
                                    ledger=ledger, options=options)  # fmt: skip
        keepalive = client.clawback.keepalive
        assert keepalive is not None
        start = emulator.state.clock.now()
        for offset, body in calls:
            while (due := keepalive.next_due()) is not None and due < start + offset:
                emulator.advance(max(0.0, due - emulator.state.clock.now()))
                keepalive.run_pending(lead=1e-6)  # exactly the pings due now
            emulator.advance(start + offset - emulator.state.clock.now())
            client.messages.create(**body, task=_task(body))
        client.close()
    with clawback.open_ledger(ledger) as opened:
        return list(opened.iter_records())


def _replayed(calls: list[tuple[float, dict[str, Any]]], start: float) -> list[CallResult]:
    """The same calls replayed under the planner with keep-alive, as the benchmark and the audit run it."""
    info = load_catalogue().resolve("claude-sonnet-5-5")
    timed = [
        TimedShape(start + o, request_shape(b, tokenizer=info.tokenizer), task=_task(b)) for o, b in calls
    ]
    policy = PlannerPolicy(info, day=day_of(start), keepalive=KeepAliveSettings(spend_cap=Decimal(5)))
    return list(replay(timed, policy, info, day=day_of(start)))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([(0, 330.0), (0, 330.0), (1, 15.0), (0, 450.0), (1, 330.0), (2, 800.0), (0, 330.0), (1, 90.0),
          (0, 330.0), (2, 330.0), (1, 1900.0), (0, 240.0), (0, 330.0)])  # fmt: skip
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(_GAPS)), min_size=12, max_size=24))
def test_the_client_pings_when_the_replay_pings_and_plans_alike(turns: list[tuple[int, float]]) -> None:
    calls = _conversation_bodies(turns)
    with tempfile.TemporaryDirectory() as tmp:
        records = _client_run(calls, Path(tmp) / "ledger.sqlite3")
    results = _replayed(calls, records[0].ts.timestamp() - calls[0][0])
    start = records[0].ts.timestamp() - calls[0][0]

    def seen(rec: CallRecord) -> tuple[bool, float, tuple[int, ...], int, int]:
        usage = rec.usage or {}
        shape = RequestShape.from_json(rec.shape or {})
        return (bool(rec.extra.get("keepalive")), round(rec.ts.timestamp() - start, 3), shape.breakpoints,
                int(usage.get("cache_read_input_tokens") or 0), int(usage.get("cache_creation_input_tokens") or 0))  # fmt: skip

    def replayed(r: CallResult) -> tuple[bool, float, tuple[int, ...], int, int]:
        u = r.usage
        return (r.ping, round(r.at - start, 3), r.breakpoints, u.cache_read_input_tokens,
                u.cache_write_5m_input_tokens + u.cache_write_1h_input_tokens)  # fmt: skip

    client_side = [seen(r) for r in records]
    assert [replayed(r) for r in results] == client_side
    if turns[:2] == [(0, 330.0), (0, 330.0)]:
        assert sum(ping for ping, *_ in client_side) >= 3  # the example exercises pings


def test_keepalive_is_on_by_default_under_the_audits_cap_and_none_turns_it_off(
    make_client: ClientFactory,
) -> None:
    """The default client runs the policy the benchmark's and the audit's planner rows price."""
    keepalive = make_client().clawback.keepalive
    assert keepalive is not None and keepalive.settings.spend_cap == DEFAULT_KEEPALIVE_CAP
    assert make_client(keep_alive_cap_usd=None).clawback.keepalive is None


def test_pings_that_keep_failing_turn_keepalive_off(
    make_client: ClientFactory, emulator: EmulatorSession
) -> None:
    """A default that sends requests of its own must not keep sending ones that fail (e.g. a key the
    pinger can't use): after a few failures in a row keep-alive stops, and the calls go on as before."""
    client = make_client(keep_alive_cap_usd=Decimal("1.00"))
    keepalive = client.clawback.keepalive
    assert keepalive is not None

    def refuse(body: Any) -> None:
        raise RuntimeError("401 invalid x-api-key")

    keepalive.pinger = refuse
    reads = _run(client, emulator, 8)
    assert keepalive.failures == MAX_FAILURES and keepalive.pings_sent == 0 and keepalive.spent == 0
    assert len(keepalive.keeper) == 0 or keepalive.run_pending() == 0
    assert reads[0] == 0 and len(reads) == 8
