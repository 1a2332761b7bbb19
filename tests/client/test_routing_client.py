"""The client follows the routing config: the verdict `clawback eval` writes decides the model per call."""

from __future__ import annotations

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


def test_an_explicit_routing_file_that_is_broken_fails_loudly(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\n[tasks.x]\nverdict = 'sometimes'\n")
    with pytest.raises(clawback.UsageError, match="verdict"):
        make_client(routing=bad)
