"""The evaluation harness with an injected runner: scoring, costs, cascades, verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

import pytest

from clawback.errors import UnknownModelError, UsageError
from clawback.pricing.cost import Usage
from clawback.pricing.loader import load_catalogue
from clawback.routing.evaluate import EvalPlan, EvalSample, RunRequest, RunResult, evaluate, task_verdict
from clawback.routing.scorers import parse_scorer
from clawback.routing.serialise import eval_json
from clawback.routing.validators import LabelValidator

HAIKU, SONNET = "claude-haiku-5-5", "claude-sonnet-5-5"
TODAY = date(2026, 11, 25)


class FakeRunner:
    """Answers from a table: model -> list of answers by sample index; records what it was sent."""

    def __init__(self, answers: Mapping[str, Sequence[str | None]]) -> None:
        self.answers = answers
        self.sent: list[RunRequest] = []

    def run(self, requests: Sequence[RunRequest]) -> Mapping[str, RunResult]:
        self.sent.extend(requests)
        out = {}
        for r in requests:
            index = int(r.custom_id.split("-s")[1])
            text = self.answers[r.model][index]
            usage = Usage(input_tokens=1000, output_tokens=10, service_tier="batch")
            out[r.custom_id] = (
                RunResult(r.custom_id, text=text, usage=usage)
                if text is not None
                else RunResult(r.custom_id, error="boom")
            )
        return out


def _samples(n: int) -> list[EvalSample]:
    return [
        EvalSample(
            f"s{i}", {"model": "ignored", "messages": [{"role": "user", "content": f"q{i}"}]}, expected="a"
        )
        for i in range(n)
    ]


def test_ground_truth_mode_scores_prices_and_decides_switch() -> None:
    runner = FakeRunner({HAIKU: ["a"] * 100, SONNET: ["a"] * 100})
    plan = EvalPlan("t", (HAIKU, SONNET), parse_scorer("label"))
    report = evaluate(plan, _samples(100), runner, load_catalogue(), today=TODAY)
    assert report.incumbent == SONNET  # the dearer model
    assert report.verdict.kind == "switch" and report.verdict.model == HAIKU
    haiku = report.result(HAIKU)
    # 1,000 input + 10 output tokens at Haiku 5.5 batch prices ($0.05 / $0.25 per MTok), per 1,000 calls
    assert haiku.cost_per_1000 == Decimal("0.05250")
    assert report.result(SONNET).cost_per_1000 == Decimal("1.05")
    assert {r.body["model"] for r in runner.sent} == {HAIKU, SONNET}
    assert all(r.body["max_tokens"] == 1024 for r in runner.sent)
    assert eval_json(report)["verdict"]["kind"] == "switch"


def test_cascade_is_simulated_from_the_answers_already_run() -> None:
    cheap = ["a"] * 170 + ["I am not sure"] * 20 + ["b"] * 10
    runner = FakeRunner({HAIKU: cheap, SONNET: ["a"] * 200})
    validator = LabelValidator(frozenset({"a", "b"}))
    plan = EvalPlan("t", (HAIKU, SONNET), parse_scorer("label"), quality_target=0.9, validator=validator)
    report = evaluate(plan, _samples(200), runner, load_catalogue(), today=TODAY)
    (cascade,) = report.cascades
    assert cascade.escalation_rate == pytest.approx(0.1)
    assert cascade.quality.successes == 190  # the 20 invalid answers escalate; the 10 wrong labels stay
    assert cascade.cost_per_1000 == Decimal("0.05250") + Decimal("1.05") * Decimal("0.1")
    assert report.verdict.kind == "cascade"
    entry = task_verdict(report, report_path="r.html")
    assert entry.verdict == "cascade" and entry.escalate_to == SONNET
    assert entry.validator is not None and entry.validator.labels == ["a", "b"]
    assert (
        entry.evidence is not None and entry.evidence.sample_size == 200 and entry.evidence.report == "r.html"
    )
    assert len(report.failures) == 30 and report.failure_counts() == {HAIKU: 30}  # every failure, listed
    assert report.failures[0].incumbent_answer == "a"
    # beside each failure: whether the cascade's validator would have caught it
    assert sum(f.escalated is True for f in report.failures) == 20
    assert {f.answer for f in report.failures if f.escalated is False} == {"b"}
    assert eval_json(report)["failures"] == {HAIKU: 30}


def test_reference_mode_measures_agreement_with_the_reference() -> None:
    runner = FakeRunner({HAIKU: ["x"] * 30 + ["y"] * 10, SONNET: ["x"] * 40})
    plan = EvalPlan("t", (HAIKU,), parse_scorer("exact"), reference=SONNET)
    samples = [EvalSample(s.id, s.body) for s in _samples(40)]
    report = evaluate(plan, samples, runner, load_catalogue(), today=TODAY)
    assert report.bar == 0.95
    assert report.result(HAIKU).quality.successes == 30
    assert report.verdict.kind == "keep"
    assert task_verdict(report).model is None
    assert "no validator given" in report.notes[0]


def test_failed_calls_count_as_disagreement_and_errors() -> None:
    runner = FakeRunner({HAIKU: [None] + ["a"] * 39, SONNET: ["a"] * 40})
    report = evaluate(
        EvalPlan("t", (HAIKU, SONNET), parse_scorer("label")),
        _samples(40),
        runner,
        load_catalogue(),
        today=TODAY,
    )
    haiku = report.result(HAIKU)
    assert haiku.errors == 1 and haiku.quality.successes == 39
    assert report.failures[0].answer == "(no answer: the call failed)"


def test_plans_and_inputs_are_checked_before_anything_is_sent() -> None:
    with pytest.raises(UsageError):
        EvalPlan("t", (HAIKU, HAIKU), parse_scorer("exact"))
    with pytest.raises(UsageError):
        EvalPlan("t", (HAIKU,), parse_scorer("exact"))
    with pytest.raises(UsageError):
        EvalPlan("t", (HAIKU, SONNET), parse_scorer("exact"), quality_target=1.5)
    runner = FakeRunner({})
    with pytest.raises(UnknownModelError):
        evaluate(
            EvalPlan("t", ("claude-haiku-3-5", SONNET), parse_scorer("exact")),
            _samples(3),
            runner,
            load_catalogue(),
            today=TODAY,
        )
    with pytest.raises(UsageError, match="ground-truth"):
        evaluate(
            EvalPlan("t", (HAIKU, SONNET), parse_scorer("exact")),
            [EvalSample("x", {"messages": []})],
            runner,
            load_catalogue(),
            today=TODAY,
        )
    with pytest.raises(UsageError, match="no samples"):
        evaluate(
            EvalPlan("t", (HAIKU, SONNET), parse_scorer("exact")), [], runner, load_catalogue(), today=TODAY
        )
    assert runner.sent == []
