"""The client follows the routing config: the verdict `clawback eval` writes decides the model per call."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import clawback
from clawback.emulator.config import ScriptedReply
from clawback.emulator.testing import EmulatorSession
from tests.client.conftest import ClientFactory

HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"
CASCADE = f"""version = 1
[tasks.intents]
verdict = "cascade"
model = "{HAIKU}"
reference = "{SONNET}"
escalate_to = "{SONNET}"
[tasks.intents.validator]
kind = "labels"
labels = ["refund", "card_lost"]

[tasks.faq]
verdict = "switch"
model = "{HAIKU}"
reference = "{SONNET}"
"""


def _body(text: str) -> dict[str, object]:
    return {
        "model": SONNET,
        "max_tokens": 16,
        "system": "Answer with one label: refund or card_lost.",
        "messages": [{"role": "user", "content": text}],
    }


@pytest.fixture
def routing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "clawback-home" / "routing.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CASCADE)
    return path


def test_verdicts_in_the_default_routing_config_are_followed(
    routing_file: Path, make_client: ClientFactory, emulator: EmulatorSession, tmp_path: Path
) -> None:
    client = make_client()  # no routing= argument: $CLAWBACK_HOME/routing.toml is where verdicts land
    assert client.messages.create(**_body("where is my faq answer"), task="faq").model == HAIKU
    emulator.state.responder.push(ScriptedReply(content="maybe a refund?"), ScriptedReply(content="refund"))
    escalated = client.messages.create(**_body("I want my money back"), task="intents")
    assert (escalated.model, escalated.content[0].text) == (SONNET, "refund")
    emulator.state.responder.push(ScriptedReply(content="card_lost"))
    accepted = client.messages.create(**_body("I lost my card"), task="intents")
    assert (accepted.model, accepted.content[0].text) == (HAIKU, "card_lost")
    assert client.messages.create(**_body("no task, no routing")).model == SONNET
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        records = list(ledger.iter_records())
    assert [(r.task, r.served_model) for r in records] == [
        ("faq", HAIKU),
        ("intents", HAIKU),
        ("intents", SONNET),
        ("intents", HAIKU),
        (None, SONNET),
    ]
    assert all(r.requested_model == SONNET for r in records)
    assert records[1].routing is not None and records[1].routing["policy"] == "verdict"
    assert records[1].routing["escalate_to"] == SONNET
    # baselines are priced at the model asked for; the escalation is a call the caller would not have made
    faq, escalation = records[0], records[2]
    assert faq.baseline_usd is not None and faq.total is not None and Decimal(faq.baseline_usd) > faq.total
    assert escalation.extra["extra_call"] == "escalation" and Decimal(escalation.baseline_usd or "x") == 0


def test_an_explicit_routing_file_that_is_broken_fails_loudly(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\n[tasks.x]\nverdict = 'sometimes'\n")
    with pytest.raises(clawback.UsageError, match="verdict"):
        make_client(routing=bad)


def test_a_running_client_follows_a_new_verdict_without_a_restart(
    make_client: ClientFactory, emulator: EmulatorSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "clawback-home" / "routing.toml"
    client = make_client(routing_reload_seconds=0)  # check on every call (the default is every 2 s)
    assert client.messages.create(**_body("before any verdict"), task="faq").model == SONNET
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CASCADE)  # `clawback eval --write-verdict` lands while the client runs
    assert client.messages.create(**_body("after the verdict"), task="faq").model == HAIKU
    path.write_text(CASCADE + "\n[tasks.broken]\nverdict = 'sometimes'\n")  # a bad edit
    with caplog.at_level("WARNING", logger="clawback.client"):
        assert client.messages.create(**_body("after a bad edit"), task="faq").model == HAIKU
    assert "did not load (keeping the one in force)" in caplog.text
    path.write_text(CASCADE.replace('verdict = "switch"', 'verdict = "keep"'))
    assert client.messages.create(**_body("after a keep verdict"), task="faq").model == SONNET
    path.unlink()
    assert client.messages.create(**_body("the file is gone"), task="faq").model == SONNET


def test_reloading_is_checked_at_most_every_few_seconds(tmp_path: Path) -> None:
    from clawback.client.routing_source import RoutingSource

    now = [0.0]
    path = tmp_path / "routing.toml"
    path.write_text(CASCADE)
    source = RoutingSource(path, explicit=True, check_every=2.0, clock=lambda: now[0])
    first = source.current()
    assert first is not None and set(first.tasks) == {"intents", "faq"}
    path.write_text(CASCADE.replace("[tasks.faq]", "[tasks.faq2]"))
    now[0] = 1.0
    assert source.current() is first  # not checked yet
    now[0] = 2.5
    second = source.current()
    assert second is not first and second is not None and "faq2" in second.tasks and source.reloads == 1
    now[0] = 5.0
    assert source.current() is second and source.reloads == 1  # unchanged file: no reload
