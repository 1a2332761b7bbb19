"""The audit on logs made by real API traffic: the official SDK and clawback's client against the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import clawback
from clawback.audit.engine import AuditOptions, run_audit
from clawback.audit.results import POLICIES
from clawback.audit.rules import AuditRules, TaskRule
from clawback.client import ClientOptions
from clawback.emulator.testing import TEST_KEY, emulator_client
from clawback.pricing import load_catalogue, parse_usage, price_usage

CATALOGUE = load_catalogue()
SYSTEM = (
    "You are a meticulous support-ticket classifier for an online shop. Read the ticket, pick exactly one "
    "category from: shipping, billing, returns, account, product, other. Answer with the category only. "
) * 30


def _request(i: int) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 64,
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": f"Ticket {i}: my parcel has not arrived yet."}],
    }


def test_a_log_everything_file_written_from_sdk_responses(tmp_path: Path) -> None:
    """Each line holds the request body and ``message.model_dump()`` of the SDK's response."""
    log = tmp_path / "calls.jsonl"
    expected = Decimal(0)
    with emulator_client() as session, log.open("w") as out:
        for i in range(8):
            body = _request(i)
            message = session.client.messages.create(**body)
            expected += price_usage(parse_usage(message.usage), CATALOGUE.resolve(message.model)).total
            at = datetime.fromtimestamp(session.state.clock.now(), UTC).isoformat()
            line = {"timestamp": at, "task": "classify", "request": body, "response": message.model_dump()}
            out.write(json.dumps(line) + "\n")
            session.advance(400 if i % 2 else 30)  # some gaps outlive the 5-minute cache
    rules = AuditRules(tasks={"classify": TaskRule(route_to="claude-haiku-5-5", route_source="test")})
    summary = run_audit([str(log)], CATALOGUE, AuditOptions(rules=rules))
    assert summary.spend.calls == 8 and summary.spend.total == expected
    assert summary.issues["malformed"] == 0
    assert summary.caching.logged is not None and summary.caching.logged.cost == expected
    assert summary.spend.hit_rate is not None and summary.spend.hit_rate > 0  # the emulator served reads
    assert {t.name for t in summary.techniques if t.applies} >= {"route", "cache"}
    assert set(summary.policies) == set(POLICIES)


def test_a_ledger_written_by_the_clawback_client(tmp_path: Path) -> None:
    """The audit of the client's ledger agrees with the ledger's own exact summary."""
    location = tmp_path / "ledger.sqlite3"
    with emulator_client() as session:
        options = ClientOptions(clock=session.state.clock.now)
        client = clawback.Anthropic(
            base_url=session.base_url, api_key=TEST_KEY, max_retries=0, ledger=location, options=options
        )
        for i in range(6):
            body = _request(i)
            del body["system"][0]["cache_control"]  # the client's planner places breakpoints itself
            client.messages.create(**body, task="classify")
            session.advance(20)
        client.close()
    with clawback.open_ledger(location) as ledger:
        own = ledger.summary(by="task")
    summary = run_audit([str(location)], CATALOGUE)
    assert [i.format for i in summary.inputs] == ["ledger"]
    assert summary.spend.calls == own.calls == 6
    assert summary.spend.total == own.total_usd
    assert [row.key for row in summary.spend.by_task] == ["classify"]
    assert summary.caching.shaped_calls == 6  # the ledger keeps each request's shape


def test_a_small_audit_held_in_memory_reads_the_same_as_one_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small audits keep their calls in memory, large ones in the database file: the same results."""
    from clawback.audit import loading
    from clawback.audit.engine import AuditOptions, run_audit
    from clawback.audit.rules import load_rules
    from clawback.audit.sample import write_sample
    from clawback.audit.store import AuditStore
    from clawback.pricing import load_catalogue

    log, rules = write_sample(tmp_path, scale=0.1)
    kept: list[bool] = []
    real = AuditStore.keep_in_memory

    def spy(store: AuditStore) -> None:
        kept.append(True)
        real(store)

    monkeypatch.setattr(AuditStore, "keep_in_memory", spy)

    def audit() -> dict[str, object]:
        summary = run_audit([str(log)], load_catalogue(), AuditOptions(rules=load_rules(rules)))
        data = summary.to_json()
        data.pop("generated", None)
        data["usage"]["blocks"].pop("now", None)  # the clock, not the store
        return data

    in_memory = audit()
    assert kept == [True]
    monkeypatch.setattr(loading, "_SMALL_CALLS", 0)
    in_file = audit()
    assert kept == [True], "a large audit stays in the file"
    assert in_memory == in_file
    assert in_memory["calls"] and in_memory["total_usd"]
