"""Fault injection rules on plain values."""

from __future__ import annotations

from clawback.emulator.config import BatchFaultRule, FaultRule
from clawback.emulator.faults import FaultInjector


def test_nth_counts_per_rule_and_filters() -> None:
    injector = FaultInjector(
        [FaultRule(kind="overloaded", nth=(2,), model="m1"), FaultRule(kind="stream_cut", nth=(1,))]
    )
    assert injector.pick("messages", model="m2") is None
    assert injector.pick("messages", model="m1") is None
    fault = injector.pick("messages", model="m1")
    assert fault is not None and fault.kind == "overloaded" and fault.error() is not None
    cut = injector.pick("messages", model="m3", stream=True)  # stream faults count streaming requests only
    assert cut is not None and cut.kind == "stream_cut" and cut.error() is None
    assert injector.pick("count_tokens", model="m1") is None


def test_rate_limit_fault_carries_retry_after() -> None:
    fault = FaultInjector([FaultRule(kind="rate_limit", endpoint="any", nth=(1,), retry_after=2.5)]).pick(
        "batches"
    )
    assert fault is not None
    error = fault.error()
    assert error is not None and error.status == 429 and error.headers == {"retry-after": "2.5"}


def test_rates_are_seeded() -> None:
    def draws(seed: int) -> list[bool]:
        injector = FaultInjector([FaultRule(kind="api_error", rate=0.5)], seed=seed)
        return [injector.pick("messages") is not None for _ in range(50)]

    assert draws(1) == draws(1) != draws(2)
    assert 10 < sum(draws(1)) < 40


def test_batch_item_rules() -> None:
    injector = FaultInjector(batch_rules=[BatchFaultRule(result="expired", custom_ids=("a",))])
    rule = injector.batch_item("a")
    assert rule is not None and rule.result == "expired"
    assert injector.batch_item("b") is None
    injector.replace([], [])
    assert injector.batch_item("a") is None
