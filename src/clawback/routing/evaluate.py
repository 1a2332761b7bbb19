"""The evaluation harness behind ``clawback eval``: run samples on candidate models, score, decide.

The harness does no I/O itself: it takes an :class:`EvalRunner` — the batch runner in production
(:class:`clawback.routing.runners.BatchEvalRunner`, half price), the emulator in tests — sends
every sample to every model in one go, scores the answers against the ground truth or the
reference model's answers, prices each call with clawback's cost engine at Batch API prices, and
applies the verdict rules of :mod:`clawback.routing.verdict`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from clawback.errors import UsageError
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.cost import Usage, price_usage
from clawback.routing.config import Evidence, TaskVerdict, ValidatorSpec
from clawback.routing.features import request_text
from clawback.routing.scorers import JudgeScorer, ScoreItem, Scorer
from clawback.routing.stats import Proportion, proportion
from clawback.routing.validators import ConfidenceValidator, JsonSchemaValidator, LabelValidator, Validator
from clawback.routing.verdict import Option, Verdict, decide_verdict

__all__ = [
    "EvalPlan",
    "EvalReport",
    "EvalRunner",
    "EvalSample",
    "Failure",
    "ModelResult",
    "RunRequest",
    "RunResult",
    "evaluate",
    "task_verdict",
]

FAILURES_KEPT = 100
"""At most this many failures per candidate are kept for the report (the count is always exact)."""
THOUSAND = Decimal(1000)


@dataclass(frozen=True, slots=True)
class EvalSample:
    """One call to replay: its Messages body (any ``model`` is replaced) and the expected answer."""

    id: str
    body: Mapping[str, Any]
    expected: Any = None
    labels: tuple[str, ...] = ()

    @property
    def question(self) -> str:
        """The last user turn's text, for reports and the judge."""
        return request_text(self.body)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """One request for the runner: a ``custom_id`` unique in the run, a model and a body."""

    custom_id: str
    model: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What came back for one request: its text and usage, or an error."""

    custom_id: str
    text: str | None = None
    usage: Usage | None = None
    error: str | None = None


class EvalRunner(Protocol):
    """Sends many Messages requests and returns their results keyed by ``custom_id``."""

    def run(self, requests: Sequence[RunRequest]) -> Mapping[str, RunResult]:
        """Run every request (the batch runner submits them as Message Batches)."""
        ...


@dataclass(frozen=True, slots=True)
class EvalPlan:
    """What to evaluate: the task, the models, how to score and what quality is good enough."""

    task: str
    models: tuple[str, ...]
    scorer: Scorer
    reference: str | None = None
    quality_target: float = 0.95
    validator: Validator | None = None
    at: date | None = None
    dataset: str | None = None

    def __post_init__(self) -> None:
        if len(set(self.models)) != len(self.models) or len(self.models) < 1:
            raise UsageError("--models must name distinct models")
        if self.reference is None and len(self.models) < 2:
            raise UsageError("scoring against ground truth needs at least two models to compare")
        if not 0 < self.quality_target <= 1:
            raise UsageError(f"--quality-target must be in (0, 1], got {self.quality_target}")


@dataclass(frozen=True, slots=True)
class ModelResult:
    """One model's answers, agreement and cost on the sample."""

    model: str
    answers: tuple[str | None, ...]
    correct: tuple[bool, ...]
    quality: Proportion
    errors: int
    costs: tuple[Decimal | None, ...]
    input_tokens: int
    output_tokens: int

    @property
    def cost_per_1000(self) -> Decimal | None:
        """Mean cost per call at Batch API prices, times 1,000 (None if no call was priced)."""
        priced = [c for c in self.costs if c is not None]
        return sum(priced, Decimal(0)) / len(priced) * THOUSAND if priced else None

    def option(self) -> Option:
        """This model as a verdict option."""
        return Option(self.model, self.quality, self.cost_per_1000)


@dataclass(frozen=True, slots=True)
class Failure:
    """A sample a candidate got wrong, with the incumbent's answer beside it."""

    sample_id: str
    model: str
    question: str
    expected: str
    answer: str
    incumbent_answer: str
    escalated: bool | None = None
    """Whether the simulated cascade's validator would have sent this call on to the incumbent
    (None without a validator)."""


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Everything ``clawback eval`` found, ready for the terminal, JSON or HTML."""

    plan: EvalPlan
    samples: int
    incumbent: str
    bar: float
    results: tuple[ModelResult, ...]
    cascades: tuple[Option, ...]
    verdict: Verdict
    failures: tuple[Failure, ...]
    decided: date
    notes: tuple[str, ...] = field(default=())
    questions: tuple[str, ...] = field(default=())
    """Each sample's last user turn, in sample order (for ``--outcomes``)."""

    def result(self, model: str) -> ModelResult:
        """One model's result."""
        return next(r for r in self.results if r.model == model)

    def failure_counts(self) -> dict[str, int]:
        """How many samples each candidate (every model but the incumbent) got wrong, all of them."""
        return {r.model: r.quality.n - r.quality.successes for r in self.results if r.model != self.incumbent}


def _custom_id(model_index: int, sample_index: int) -> str:
    return f"m{model_index}-s{sample_index}"


def _body(sample: EvalSample, model: str) -> dict[str, Any]:
    body = {k: v for k, v in sample.body.items() if k != "model"}
    body.setdefault("max_tokens", 1024)
    body["model"] = model
    return body


def _cost(usage: Usage | None, model: str, catalogue: Catalogue, at: date | None) -> Decimal | None:
    if usage is None:
        return None
    return price_usage(usage, catalogue.resolve(model), at=at).total  # at the tier it ran on (batch or not)


def _model_result(
    model: str,
    results: Sequence[RunResult | None],
    correct: Sequence[bool],
    catalogue: Catalogue,
    at: date | None,
) -> ModelResult:
    answers = tuple(r.text if r is not None and r.error is None else None for r in results)
    usages = [r.usage if r is not None else None for r in results]
    return ModelResult(
        model=model,
        answers=answers,
        correct=tuple(correct),
        quality=proportion(sum(correct), len(correct)),
        errors=sum(a is None for a in answers),
        costs=tuple(_cost(u, model, catalogue, at) for u in usages),
        input_tokens=sum(u.prompt_tokens for u in usages if u is not None),
        output_tokens=sum(u.output_tokens for u in usages if u is not None),
    )


def _score(
    plan: EvalPlan, samples: Sequence[EvalSample], answers: Sequence[str | None], expected: Sequence[Any]
) -> list[bool]:
    todo = [i for i, a in enumerate(answers) if a is not None and expected[i] is not None]
    flags = plan.scorer.score_many(
        [ScoreItem(answers[i] or "", expected[i], samples[i].question) for i in todo]
    )
    out = [False] * len(answers)
    for i, ok in zip(todo, flags, strict=True):
        out[i] = ok
    return out


def _cascade(
    cheap: ModelResult, strong: ModelResult, validator: Validator, samples: Sequence[EvalSample]
) -> Option:
    escalate = _escalations(cheap.answers, validator, samples) or []
    correct = [strong.correct[i] if up else cheap.correct[i] for i, up in enumerate(escalate)]
    cost: Decimal | None = None
    if all(c is not None for c in cheap.costs) and all(c is not None for c in strong.costs):
        total = sum(
            (
                (c or Decimal(0)) + ((s or Decimal(0)) if up else Decimal(0))
                for c, s, up in zip(cheap.costs, strong.costs, escalate, strict=True)
            ),
            Decimal(0),
        )
        cost = total / len(samples) * THOUSAND
    return Option(
        cheap.model,
        proportion(sum(correct), len(correct)),
        cost,
        escalate_to=strong.model,
        validator=validator.name,
        escalation_rate=sum(escalate) / len(escalate),
    )


def _escalations(
    answers: Sequence[str | None], validator: Validator | None, samples: Sequence[EvalSample]
) -> list[bool] | None:
    """Per sample, whether the validator rejects the answer (a cascade would escalate it)."""
    if validator is None:
        return None
    return [
        a is None or not validator.check([a], s.question).ok for a, s in zip(answers, samples, strict=True)
    ]


def _failures(
    candidates: Sequence[ModelResult],
    incumbent: ModelResult,
    samples: Sequence[EvalSample],
    expected: Sequence[Any],
    validator: Validator | None,
) -> tuple[Failure, ...]:
    out: list[Failure] = []
    for result in candidates:
        escalate = _escalations(result.answers, validator, samples)
        wrong = [i for i, ok in enumerate(result.correct) if not ok][:FAILURES_KEPT]
        out.extend(
            Failure(
                samples[i].id,
                result.model,
                samples[i].question,
                "" if expected[i] is None else str(expected[i]),
                result.answers[i] or "(no answer: the call failed)",
                incumbent.answers[i] or "",
                None if escalate is None else escalate[i],
            )
            for i in wrong
        )
    return tuple(out)


def evaluate(
    plan: EvalPlan,
    samples: Sequence[EvalSample],
    runner: EvalRunner,
    catalogue: Catalogue,
    *,
    today: date,
) -> EvalReport:
    """Run ``samples`` on every model of ``plan`` through ``runner``, score and decide."""
    if not samples:
        raise UsageError("no samples to evaluate")
    models = list(plan.models)
    if plan.reference is not None and plan.reference not in models:
        models.append(plan.reference)
    judge = [plan.scorer.model] if isinstance(plan.scorer, JudgeScorer) else []
    for model in (*models, *judge):
        catalogue.resolve(model)  # an unknown model (or judge) is an error before anything is sent
    if plan.reference is None and any(s.expected is None for s in samples):
        raise UsageError("every sample needs a ground-truth value (see --ground-truth)")
    requests = [
        RunRequest(_custom_id(m, i), model, _body(s, model))
        for m, model in enumerate(models)
        for i, s in enumerate(samples)
    ]
    got = runner.run(requests)
    per_model = {
        model: [got.get(_custom_id(m, i)) for i in range(len(samples))] for m, model in enumerate(models)
    }
    texts = {
        m: [r.text if r is not None and r.error is None else None for r in rs] for m, rs in per_model.items()
    }
    expected: list[Any] = texts[plan.reference] if plan.reference else [s.expected for s in samples]
    results = {}
    for model in models:
        if model == plan.reference:
            correct = [t is not None for t in texts[model]]
        else:
            correct = _score(plan, samples, texts[model], expected)
        results[model] = _model_result(model, per_model[model], correct, catalogue, plan.at)
    return _decide(plan, samples, results, expected, today)


def _decide(
    plan: EvalPlan,
    samples: Sequence[EvalSample],
    results: Mapping[str, ModelResult],
    expected: Sequence[Any],
    today: date,
) -> EvalReport:
    if plan.reference is not None:
        incumbent = results[plan.reference]
        bar = plan.quality_target
    else:
        incumbent = max(results.values(), key=lambda r: r.cost_per_1000 or Decimal(0))
        bar = plan.quality_target * incumbent.quality.estimate
    candidates = [r for r in results.values() if r.model != incumbent.model]
    cascades = (
        tuple(_cascade(c, incumbent, plan.validator, samples) for c in candidates) if plan.validator else ()
    )
    verdict = decide_verdict(incumbent.option(), [c.option() for c in candidates], cascades, bar=bar)
    notes = []
    if plan.validator is None:
        notes.append("no validator given: cascades were not simulated")
    return EvalReport(
        plan=plan,
        samples=len(samples),
        incumbent=incumbent.model,
        bar=bar,
        results=tuple(results[m] for m in results),
        cascades=cascades,
        verdict=verdict,
        failures=_failures(candidates, incumbent, samples, expected, plan.validator),
        decided=today,
        notes=tuple(notes),
        questions=tuple(s.question for s in samples),
    )


def _validator_spec(validator: Validator) -> ValidatorSpec:
    if isinstance(validator, LabelValidator):
        return ValidatorSpec.model_validate({"kind": "labels", "labels": sorted(validator.labels)})
    if isinstance(validator, JsonSchemaValidator):
        return ValidatorSpec.model_validate({"kind": "json-schema", "schema": dict(validator.schema)})
    if isinstance(validator, ConfidenceValidator):
        return ValidatorSpec.model_validate({"kind": "confidence", "minimum": validator.minimum})
    raise UsageError(f"a {validator.name} validator cannot be written into the routing config")


def _usd6(value: Decimal) -> str:
    """USD per 1,000 calls to the micro-dollar (a billionth of a dollar per call), as text."""
    return format(value.quantize(Decimal("0.000001")), "f")


def task_verdict(report: EvalReport, *, report_path: str | None = None) -> TaskVerdict:
    """The ``[tasks.NAME]`` entry for a report's verdict, with its evidence."""
    verdict = report.verdict
    chosen = verdict.chosen
    quality = chosen.quality if chosen is not None else report.result(report.incumbent).quality
    costs = {r.model: _usd6(r.cost_per_1000) for r in report.results if r.cost_per_1000 is not None}
    if chosen is not None and chosen.escalate_to is not None and chosen.cost_per_1000 is not None:
        costs[f"cascade:{chosen.model}"] = _usd6(chosen.cost_per_1000)
    evidence = Evidence(
        sample_size=quality.n,
        scorer=report.plan.scorer.name,
        agreement=round(quality.estimate, 6),
        ci_low=round(quality.low, 6),
        ci_high=round(quality.high, 6),
        quality_target=report.plan.quality_target,
        bar=round(report.bar, 6),
        decided=report.decided,
        cost_per_1000_usd=costs,
        dataset=report.plan.dataset,
        report=report_path,
    )
    validator = None
    if verdict.kind == "cascade" and report.plan.validator is not None:
        validator = _validator_spec(report.plan.validator)
    return TaskVerdict(
        verdict=verdict.kind,
        model=verdict.model if verdict.kind != "keep" else None,
        reference=report.incumbent,
        escalate_to=chosen.escalate_to if verdict.kind == "cascade" and chosen is not None else None,
        validator=validator,
        evidence=evidence,
    )
