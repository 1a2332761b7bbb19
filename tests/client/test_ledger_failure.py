"""A ledger that fails never fails the call, and no record is lost."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

import clawback
from clawback.emulator.testing import EmulatorSession
from clawback.pricing import load_catalogue, parse_usage, price_usage
from tests.client.conftest import ClientFactory, ticket


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_locked_ledger_does_not_fail_calls_and_records_arrive_later(
    make_client: ClientFactory, emulator: EmulatorSession, tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "ledger.sqlite3"
    client = make_client(ledger=path, ledger_mode=mode)
    client.messages.create(**ticket(0), task="classify")  # creates the ledger
    client.clawback.flush()
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(1, 4):
            assert client.messages.create(**ticket(i), task="classify").stop_reason == "end_turn"
        client.clawback.flush(timeout=0)  # async: hand the queued records to the (failing) store now
        stats = client.clawback.writer.stats if client.clawback.writer else None
        assert stats is not None and stats.failed_attempts >= 1 and stats.pending >= 1
    finally:
        blocker.rollback()
        blocker.close()
    client.close()
    with clawback.open_ledger(path) as ledger:
        assert ledger.count() == 4


def test_an_unwritable_ledger_location_does_not_fail_calls(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the ledger's folder should be")
    client = make_client(ledger=blocker / "ledger.sqlite3")
    assert client.messages.create(**ticket(0), task="classify").stop_reason == "end_turn"
    client.close()


def test_ledger_false_means_no_ledger(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client(ledger=False)
    client.messages.create(**ticket(0))
    client.close()
    assert not (tmp_path / "clawback-home" / "ledger.sqlite3").exists()


def test_without_a_ledger_argument_the_documented_default_path_is_used(
    emulator: EmulatorSession, tmp_path: Path
) -> None:
    from clawback.client import ClientOptions

    client = clawback.Anthropic(
        base_url=emulator.base_url,
        api_key="sk-ant-x",
        max_retries=0,
        options=ClientOptions(seed_from_ledger=0),
    )
    client.messages.create(**ticket(1))
    client.close()
    # $CLAWBACK_HOME/ledger.sqlite3 (the test fixture points CLAWBACK_HOME at a private folder)
    with clawback.open_ledger(tmp_path / "clawback-home" / "ledger.sqlite3") as ledger:
        assert ledger.count() == 1


@pytest.mark.postgres
def test_a_postgresql_url_ledger_records_every_call(make_client: ClientFactory, pg_database: str) -> None:
    client = make_client(ledger=pg_database)
    total = Decimal(0)
    catalogue = load_catalogue()
    for i in range(3):
        message = client.messages.create(**ticket(i), task="pg")
        total += price_usage(parse_usage(message.usage), catalogue.resolve(message.model)).total
    client.close()
    with clawback.open_ledger(pg_database) as ledger:
        summary = ledger.summary(by="task")
    assert summary.overall.calls == 3 and summary.overall.total_usd == total
