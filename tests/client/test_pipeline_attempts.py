"""The next attempt after a cut or a failure: one code path for the client and the gateway (pure)."""

from __future__ import annotations

from clawback.client.options import ClientOptions
from clawback.client.pipeline import CallPipeline
from clawback.pricing.loader import load_catalogue

BODY = {"model": "claude-sonnet-5-5", "max_tokens": 4096, "messages": [{"role": "user", "content": "hi"}]}


def _pipeline() -> CallPipeline:
    pipe = CallPipeline(load_catalogue(), ClientOptions(output_caps=True), workspace="w", clock=lambda: 1.8e9)
    for _ in range(40):  # teach the output policy that this task's answers are short
        pipe.outputs.observe("t", 12, "end_turn")
    return pipe


def test_a_cut_answer_is_sent_again_with_the_callers_limit_and_the_cut_attempt_is_marked() -> None:
    pipe = _pipeline()
    first = pipe.prepare(BODY, "t")
    assert first.cap is not None and first.cap.capped and first.body["max_tokens"] < 4096
    assert CallPipeline.cut_by_cap(first, "max_tokens")
    assert not CallPipeline.cut_by_cap(first, "end_turn")
    again = CallPipeline.uncapped(first)
    assert again.body["max_tokens"] == 4096 and again.cap is None and again.extra_call is None
    assert first.extra_call == "cut_by_cap"  # its baseline is 0: the caller would not have sent it
    assert not CallPipeline.cut_by_cap(again, "max_tokens")  # the caller's own limit: never re-sent


def test_a_fallback_keeps_the_caller_task_routing_and_the_no_cap_rule_of_streams() -> None:
    pipe = _pipeline()
    stream = pipe.prepare({**BODY, "stream": True}, "t", caps=False)
    assert stream.cap is None and stream.body["max_tokens"] == 4096
    fallback = pipe.fallback(stream, "claude-haiku-5-5")
    assert fallback.model == "claude-haiku-5-5"
    assert fallback.requested_model == "claude-sonnet-5-5" and fallback.task == "t"
    assert fallback.cap is None and fallback.body["max_tokens"] == 4096  # a stream stays uncapped
    capped = pipe.fallback(pipe.prepare(BODY, "t"), "claude-haiku-5-5")
    assert capped.cap is not None and capped.cap.capped
