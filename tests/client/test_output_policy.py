"""Output caps learned per task (pure), and the client's use of them against the emulator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import clawback
from clawback.client.output_policy import OutputPolicy, OutputPolicySettings
from clawback.emulator.config import ScriptedReply
from clawback.emulator.testing import EmulatorSession
from tests.client.conftest import ClientFactory, ticket


def _policy(outputs: list[int], **settings: object) -> OutputPolicy:
    policy = OutputPolicy(OutputPolicySettings(**settings))  # type: ignore[arg-type]
    for n in outputs:
        policy.observe("t", n, "end_turn")
    return policy


def test_no_cap_until_enough_calls_then_a_high_percentile_plus_margin() -> None:
    assert _policy([10] * 19).cap("t") is None
    policy = _policy(list(range(1, 101)))
    # p99 of 1..100 is 99.01 -> ceil(99.01 * 1.25) + 16 = 140
    assert policy.cap("t") == 140
    assert policy.decide("t", 1024).max_tokens == 140
    assert not policy.decide("t", 100).capped  # a cap never raises what was asked
    assert policy.cap("other") is None and policy.cap(None) is None


def test_cap_is_never_below_the_longest_answer_that_finished() -> None:
    policy = _policy([10] * 99 + [900])
    assert policy.cap("t") == 900


def test_truncated_calls_do_not_teach_the_cap_but_raise_an_alert() -> None:
    policy = _policy([50] * 30)
    warnings = [policy.observe("t", 64, "max_tokens") for _ in range(3)]
    assert policy.cap("t") == _policy([50] * 30).cap("t")
    # 1 of 31 (3%) is under the 5% alert rate, 2 of 32 is over it: reported once, not again
    assert [w is not None for w in warnings] == [False, True, False]
    assert "stopped at max_tokens" in (warnings[1] or "")


def test_the_client_caps_then_resends_a_cut_answer_with_the_callers_limit(
    make_client: ClientFactory, emulator: EmulatorSession, tmp_path: Path
) -> None:
    client = make_client(output_caps=True, output_policy=OutputPolicySettings(min_samples=5))
    for i in range(5):
        emulator.state.responder.push(ScriptedReply(content="shipping", output_tokens=3))
        client.messages.create(**{**ticket(i), "max_tokens": 512}, task="classify")
    # the cap is now ceil(3 * 1.25) + 16 = 20; a long answer is cut there and asked again at 512
    emulator.state.responder.push(
        ScriptedReply(content="x " * 30, output_tokens=60), ScriptedReply(content="x " * 30, output_tokens=60)
    )
    message = client.messages.create(**{**ticket(9), "max_tokens": 512}, task="classify")
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 60
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        records = list(ledger.iter_records())
    cut, full = records[-2:]
    assert cut.stop_reason == "max_tokens" and cut.extra["max_tokens_cap"] == {"sent": 20, "requested": 512}
    assert full.stop_reason == "end_turn" and "max_tokens_cap" not in full.extra
    # the cut attempt is a call the caller would not have made: it counts against the saving
    assert Decimal(cut.baseline_usd or "x") == 0 and cut.extra["extra_call"] == "cut_by_cap"
    assert full.baseline_usd is not None and Decimal(full.baseline_usd) > 0


def test_output_caps_are_opt_in(
    make_client: ClientFactory, emulator: EmulatorSession, tmp_path: Path
) -> None:
    client = make_client(output_policy=OutputPolicySettings(min_samples=5))
    for i in range(8):
        emulator.state.responder.push(ScriptedReply(content="shipping", output_tokens=3))
        client.messages.create(**{**ticket(i), "max_tokens": 512}, task="classify")
    # with caps on this answer would be cut at 20 tokens and sent again; by default it is sent as written
    emulator.state.responder.push(ScriptedReply(content="x " * 30, output_tokens=60))
    message = client.messages.create(**{**ticket(9), "max_tokens": 512}, task="classify")
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 60
    client.close()
    with clawback.open_ledger(tmp_path / "ledger.sqlite3") as ledger:
        records = list(ledger.iter_records())
    assert len(records) == 9 and not any("max_tokens_cap" in r.extra for r in records)
