"""The routing config file (TOML): rules table, learned routers and per-task verdicts with evidence.

Format (``version = 1``; every section optional; see ``docs/routing.md``)::

    version = 1
    default_model = "claude-sonnet-5-5"      # when no rule matches (else the request's own model)

    [[rules]]                                # first match wins
    name = "simple structured work"
    task_types = ["classify", "extract", "route", "format"]
    max_context_tokens = 2000
    needs_reasoning = false
    model = "claude-haiku-5-5"

    [learned."*"]                            # or [learned.TASK]
    model_file = "routers/mmlu.json"         # relative to this file
    cheap = "claude-haiku-5-5"
    strong = "claude-sonnet-5-5"
    threshold = 0.62

    [tasks.banking77]                        # written by `clawback eval --write-verdict`
    verdict = "cascade"                      # switch | cascade | keep
    model = "claude-haiku-5-5"
    reference = "claude-sonnet-5-5"
    escalate_to = "claude-sonnet-5-5"
    [tasks.banking77.validator]
    kind = "labels"                          # labels | json-schema | confidence | agreement | learned
    labels = ["card_arrival", "..."]
    [tasks.banking77.evidence]
    sample_size = 200
    ...

:mod:`clawback.routing.config_write` rewrites one task's tables and leaves every other line of the
file — comments included — as it was.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clawback.errors import InputFileError, UsageError
from clawback.routing.model import LinearModel
from clawback.routing.policies import LearnedRouter, Rule, RulesTable
from clawback.routing.route import RoutingConfig, TaskPolicy
from clawback.routing.validators import (
    AgreementValidator,
    ConfidenceValidator,
    JsonSchemaValidator,
    LabelValidator,
    LearnedValidator,
    Validator,
)

__all__ = [
    "CONFIG_VERSION",
    "Evidence",
    "LearnedSpec",
    "RoutingFile",
    "RuleSpec",
    "TaskVerdict",
    "ValidatorSpec",
    "build_validator",
    "load_routing_config",
    "read_routing_file",
]

CONFIG_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Strict):
    """One ``[[rules]]`` row."""

    model: str
    name: str = ""
    task_types: list[str] | None = None
    max_context_tokens: int | None = Field(default=None, ge=0)
    min_context_tokens: int | None = Field(default=None, ge=0)
    needs_reasoning: bool | None = None
    has_tools: bool | None = None
    has_images: bool | None = None


class ValidatorSpec(_Strict):
    """How a cascade checks the cheap answer."""

    kind: Literal["labels", "json-schema", "confidence", "agreement", "learned"]
    labels: list[str] | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_file: str | None = None
    minimum: float | None = None
    samples: int = Field(default=2, ge=2)
    model_file: str | None = None
    threshold: float | None = None


class Evidence(_Strict):
    """What a verdict rests on: sample, scorer, agreement with its interval, costs, date."""

    model_config = ConfigDict(extra="allow", frozen=True)
    sample_size: int = Field(ge=0)
    scorer: str
    agreement: float
    ci_low: float
    ci_high: float
    quality_target: float
    decided: date
    bar: float | None = None
    cost_per_1000_usd: dict[str, str] = Field(default_factory=dict)
    dataset: str | None = None
    report: str | None = None


class TaskVerdict(_Strict):
    """A ``[tasks.NAME]`` table."""

    verdict: Literal["switch", "cascade", "keep"]
    model: str | None = None
    reference: str | None = None
    escalate_to: str | None = None
    validator: ValidatorSpec | None = None
    evidence: Evidence | None = None


class LearnedSpec(_Strict):
    """A ``[learned.TASK]`` table: a trained model file and its calibrated threshold."""

    model_file: str
    cheap: str
    strong: str
    threshold: float = Field(ge=0, le=1)


class RoutingFile(_Strict):
    """The whole routing config file, as written."""

    version: Literal[1] = 1
    default_model: str | None = None
    rules: list[RuleSpec] = Field(default_factory=list)
    learned: dict[str, LearnedSpec] = Field(default_factory=dict)
    tasks: dict[str, TaskVerdict] = Field(default_factory=dict)


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return f"{where}: {first['msg']}"


def read_routing_file(path: str | Path) -> RoutingFile:
    """The parsed, validated file; a missing or bad file is a one-line error."""
    from clawback.safe_input import loads_toml, read_input

    path = Path(path)
    data = loads_toml(read_input(path, f"routing config {path}"), f"routing config {path}")
    try:
        return RoutingFile.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(f"routing config {path}: {_describe(exc)}") from exc


def _read_json(path: Path, what: str) -> Any:
    from clawback.safe_input import loads, read_input

    return loads(read_input(path, f"{what} {path}"), f"{what} {path}")


def _load_model(base: Path, name: str) -> LinearModel:
    path = base / Path(name).expanduser()
    return LinearModel.from_json(_read_json(path, "router model"), where=f"router model {path}")


def build_validator(spec: ValidatorSpec, base: Path = Path()) -> Validator:
    """A runnable validator from its spec (files relative to ``base``)."""
    if spec.kind == "labels":
        if not spec.labels:
            raise UsageError("a labels validator needs a non-empty labels list")
        return LabelValidator(frozenset(spec.labels))
    if spec.kind == "json-schema":
        schema = spec.schema_
        if schema is None and spec.schema_file:
            schema = _read_json(base / spec.schema_file, "JSON schema")
        if not isinstance(schema, dict):
            raise UsageError("a json-schema validator needs schema or schema_file")
        return JsonSchemaValidator(schema)
    if spec.kind == "confidence":
        return ConfidenceValidator(spec.minimum if spec.minimum is not None else 0.8)
    if spec.kind == "agreement":
        return AgreementValidator(spec.samples, spec.minimum if spec.minimum is not None else 1.0)
    if not spec.model_file or spec.threshold is None:
        raise UsageError("a learned validator needs model_file and threshold")
    return LearnedValidator(_load_model(base, spec.model_file), spec.threshold)


def _summary(v: TaskVerdict) -> str:
    e = v.evidence
    if e is None:
        return ""
    return (
        f"agreement {e.agreement:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}] on {e.sample_size} calls, "
        f"{e.scorer}, {e.decided.isoformat()}"
    )


def _task_policy(name: str, v: TaskVerdict, base: Path) -> TaskPolicy:
    validator = build_validator(v.validator, base) if v.validator is not None else None
    try:
        return TaskPolicy(
            verdict=v.verdict,
            model=v.model,
            reference=v.reference,
            escalate_to=v.escalate_to,
            validator=validator,
            samples=v.validator.samples if v.validator and v.validator.kind == "agreement" else 1,
            summary=_summary(v),
        )
    except UsageError as exc:
        raise UsageError(f"tasks.{name}: {exc}") from exc


def load_routing_config(path: str | Path) -> RoutingConfig:
    """The ready-to-route config from a file, its model and schema files resolved beside it."""
    path = Path(path)
    spec = read_routing_file(path)
    base = path.parent
    rules = tuple(
        Rule(
            model=r.model,
            name=r.name,
            task_types=frozenset(r.task_types) if r.task_types is not None else None,
            max_context_tokens=r.max_context_tokens,
            min_context_tokens=r.min_context_tokens,
            needs_reasoning=r.needs_reasoning,
            has_tools=r.has_tools,
            has_images=r.has_images,
        )
        for r in spec.rules
    )
    learned = {
        task: LearnedRouter(_load_model(base, s.model_file), s.cheap, s.strong, s.threshold, name="learned")
        for task, s in spec.learned.items()
    }
    tasks = {name: _task_policy(name, v, base) for name, v in spec.tasks.items()}
    return RoutingConfig(RulesTable(rules, spec.default_model), tasks, learned, source=str(path))
