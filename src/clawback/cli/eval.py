"""``clawback eval``: A/B test candidate models on real samples and turn the result into routing.

    clawback eval DATASET.jsonl --task NAME --models M1,M2 --ground-truth FIELD --scorer label ...
    clawback eval offline routellm|routerarena|mmlu|gsm8k [--report FILE] [--json]
    clawback eval make-task banking77|clinc150 --out task.jsonl --replay replay.jsonl

``clawback eval DATASET ...`` is short for ``clawback eval run DATASET ...``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from clawback.cli._common import (
    catalogue_for,
    console,
    err_console,
    parse_date,
    print_json,
    printable,
    settings,
)
from clawback.cli.eval_tables import print_offline, print_report
from clawback.errors import InputFileError, UsageError

__all__ = ["app"]


class _DefaultRun(TyperGroup):
    """A group whose first argument, when it is not a subcommand, is the dataset of ``run``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    help=(
        "A/B test cheaper models on real samples, score them, and write the verdict into routing."
        "\n\n`clawback eval DATASET ...` is short for `clawback eval run DATASET ...`."
    ),
    short_help="A/B test cheaper models on real samples, score them, and write the verdict into routing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="Write an HTML report to this file.")]

TaskOpt = Annotated[
    str, typer.Option("--task", help="Task name: the key of the verdict in the routing config.")
]
ModelsOpt = Annotated[str, typer.Option("--models", help="Candidate models, comma-separated.")]
ReferenceOpt = Annotated[
    str | None, typer.Option("--reference", help="Score agreement with this model's answers.")
]
GroundTruthOpt = Annotated[
    str | None, typer.Option("--ground-truth", help="Score against this field of each dataset line.")
]
ScorerOpt = Annotated[
    str, typer.Option("--scorer", help="exact, label, json-field:NAME, numeric:TOL or judge:MODEL.")
]
ValidatorOpt = Annotated[
    str | None,
    typer.Option("--validator", help="Simulate a cascade: labels, json-schema:FILE or confidence:MIN."),
]
TargetOpt = Annotated[
    float, typer.Option("--quality-target", help="Share of the incumbent's quality to keep.")
]
RoutingOpt = Annotated[
    Path | None,
    typer.Option("--routing-config", help="Routing config (default $CLAWBACK_HOME/routing.toml)."),
]
LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--from-ledger", help="Take the task's retained samples from this ledger ('default': the usual one)."
    ),
]
OutcomesOpt = Annotated[
    Path | None, typer.Option("--outcomes", help="Write per-sample outcomes (train-router's input) here.")
]


def default_data_dir() -> Path:
    """``$CLAWBACK_SHARED_DIR/data``, else ``../shared/data`` (the public data beside the repository)."""
    shared = os.environ.get("CLAWBACK_SHARED_DIR")
    return Path(shared) / "data" if shared else Path("..") / "shared" / "data"


def _data_dir(given: Path | None) -> Path:
    """The data folder: ``--data``, else the default, which must exist (a one-line hint if not)."""
    if given is not None:
        return given
    root = default_data_dir()
    if not root.is_dir():
        raise InputFileError(
            f"no data folder at {root} (the default: $CLAWBACK_SHARED_DIR/data, else ../shared/data "
            "from the current directory); pass --data FOLDER"
        )
    return root


DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Folder holding routellm-evals/, routerarena-cached/, banking77/, clinc150/."
    ),
]


def default_routing_config() -> Path:
    """``$CLAWBACK_ROUTING``, else ``$CLAWBACK_HOME/routing.toml``."""
    return settings().routing_location


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot write {what} {path}: {exc.strerror or exc}") from exc


def _models(text: str) -> tuple[str, ...]:
    models = tuple(m.strip() for m in text.split(",") if m.strip())
    if not models:
        raise UsageError("--models must name at least one model, separated by commas")
    return models


def _validator(spec: str | None, samples: Sequence[Any]) -> Any:
    from clawback.routing.samples import labels_of
    from clawback.routing.validators import ConfidenceValidator, JsonSchemaValidator, LabelValidator

    if spec is None:
        return None
    kind, _, arg = spec.partition(":")
    if kind == "labels":
        labels = labels_of(samples)
        if not labels:
            raise UsageError("--validator labels needs ground-truth values or a 'labels' list in the dataset")
        return LabelValidator(labels)
    if kind == "json-schema" and arg:
        from clawback.safe_input import loads, read_input

        return JsonSchemaValidator(loads(read_input(arg, f"JSON schema {arg}"), f"JSON schema {arg}"))
    if kind == "confidence":
        try:
            return ConfidenceValidator(float(arg or "0.8"))
        except ValueError as exc:
            raise UsageError(f"--validator confidence:MIN needs a number, got {arg!r}") from exc
    raise UsageError(f"unknown --validator {spec!r}; expected labels, json-schema:FILE or confidence:MIN")


def _runner(kind: str) -> Any:
    if kind == "batch":
        try:
            from clawback.routing.batch_runner import BatchEvalRunner
        except ImportError as exc:  # pragma: no cover - until the batch runner lands
            raise UsageError(
                f"the batch runner is not available in this build ({exc}); use --runner direct"
            ) from exc
        runner = BatchEvalRunner.from_settings(settings())
        runner.announce = lambda line: err_console().print(
            f"clawback eval: {printable(line)}", markup=False, soft_wrap=True
        )
        return runner
    if kind == "direct":
        from clawback.ledger.api import open_writer
        from clawback.ledger.options import WriterOptions
        from clawback.routing.runners import MessagesRunner, sdk_client

        writer = open_writer(None, settings=settings(), options=WriterOptions(mode="sync"))
        return MessagesRunner(sdk_client(settings()), ledger=writer, catalogue=catalogue_for())
    raise UsageError(f"--runner must be batch or direct, got {kind!r}")


def _load_samples(dataset: Path | None, ledger: str | None, task: str, ground_truth: str | None) -> list[Any]:
    from clawback.routing.samples import read_dataset

    if (dataset is None) == (ledger is None):
        raise UsageError("give either a DATASET.jsonl or --from-ledger, not both")
    if dataset is not None:
        return read_dataset(dataset, ground_truth)
    if ground_truth is not None:
        raise UsageError("the ledger holds no ground truth: use --reference MODEL with --from-ledger")
    from clawback.routing.ledger_samples import ledger_samples

    return ledger_samples(None if ledger in ("", "default") else ledger, task)


@app.command("run")
def run(
    dataset: Annotated[Path | None, typer.Argument(help="JSONL of samples (see docs/routing.md).")] = None,
    task: TaskOpt = "",
    models: ModelsOpt = "",
    reference: ReferenceOpt = None,
    ground_truth: GroundTruthOpt = None,
    scorer: ScorerOpt = "exact",
    validator: ValidatorOpt = None,
    sample: Annotated[
        int | None, typer.Option("--sample", help="Evaluate a seeded random sample of N.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --sample.")] = 0,
    quality_target: TargetOpt = 0.95,
    routing_config: RoutingOpt = None,
    write_verdict: Annotated[
        bool, typer.Option("--write-verdict", help="Write the verdict into the routing config.")
    ] = False,
    from_ledger: LedgerOpt = None,
    runner: Annotated[str, typer.Option("--runner", help="batch (half price, default) or direct.")] = "batch",
    outcomes: OutcomesOpt = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Price at the rates of this date (YYYY-MM-DD).")
    ] = None,
    report: ReportOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run samples on candidate models, score them, report agreement with 95% intervals and cost."""
    from clawback.routing.evaluate import EvalPlan, evaluate
    from clawback.routing.runners import judge_caller
    from clawback.routing.samples import take_sample
    from clawback.routing.scorers import parse_scorer

    if not task:
        raise UsageError("--task is required")
    if (reference is None) == (ground_truth is None):
        raise UsageError("give exactly one of --reference MODEL or --ground-truth FIELD")
    candidates = _models(models)
    judge = scorer.partition(":")[2] if scorer.startswith("judge:") else None
    if judge is None:
        parse_scorer(scorer)  # a bad spelling fails before anything is read or sent
    everything = _load_samples(dataset, from_ledger, task, ground_truth)
    check = _validator(validator, everything)  # labels from the whole dataset, not just the sample
    samples = take_sample(everything, sample, seed)
    run_with = _runner(runner)
    run_with.task = task  # every call is recorded in the ledger under the evaluated task, source "eval"
    plan = EvalPlan(
        task=task,
        models=candidates,
        scorer=parse_scorer(scorer, judge_caller(run_with, judge) if judge else None),
        reference=reference,
        quality_target=quality_target,
        validator=check,
        at=parse_date(at),
        dataset=str(dataset.resolve()) if dataset is not None else f"ledger:{from_ledger}",
    )
    result = evaluate(plan, samples, run_with, catalogue_for(), today=date.today())
    if outcomes is not None:
        from clawback.routing.training import outcome_lines

        _write(
            outcomes,
            "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in outcome_lines(result)),
            "outcomes",
        )
    _finish(result, report, routing_config, write_verdict, as_json)


def _finish(
    result: Any, report: Path | None, routing_config: Path | None, write: bool, as_json: bool
) -> None:
    from clawback.routing.config_write import write_verdict as write_into
    from clawback.routing.evaluate import task_verdict
    from clawback.routing.report import eval_html
    from clawback.routing.serialise import eval_json

    if report is not None:
        _write(report, eval_html(result), "report")
    target = routing_config or default_routing_config()
    if write:
        write_into(
            target,
            result.plan.task,
            task_verdict(result, report_path=str(report.resolve()) if report else None),
        )
    if as_json:
        data = eval_json(result)
        data["verdict_written_to"] = str(target) if write else None
        print_json(data)
        return
    print_report(result)
    if report is not None:
        console().print(f"report: {printable(report)}", markup=False, soft_wrap=True)
    if write:
        console().print(
            printable(f"verdict written to {target} [tasks.{result.plan.task}]"), markup=False, soft_wrap=True
        )


@app.command("offline")
def offline(
    benchmark: Annotated[str, typer.Argument(help="routellm (MMLU and GSM8K), mmlu, gsm8k or routerarena.")],
    data: DataOpt = None,
    via_emulator: Annotated[
        bool,
        typer.Option(
            "--via-emulator/--direct", help="RouterArena: serve answers through the emulator (default)."
        ),
    ] = True,
    report: ReportOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate every policy on real per-prompt outcomes, on held-out prompts."""
    from clawback.routing.offline import evaluate_benchmark
    from clawback.routing.report import offline_html
    from clawback.routing.serialise import offline_json

    names = {
        "routellm": ("mmlu", "gsm8k"),
        "mmlu": ("mmlu",),
        "gsm8k": ("gsm8k",),
        "routerarena": ("routerarena",),
    }
    if benchmark not in names:
        raise UsageError(f"unknown benchmark {benchmark!r}; expected routellm, mmlu, gsm8k or routerarena")
    root = _data_dir(data)
    results = []
    for name in names[benchmark]:
        bench = _benchmark(name, root, via_emulator)
        if not as_json:
            err_console().print(f"evaluating {name}: {len(bench.outcomes):,} prompts …", markup=False)
        results.append(evaluate_benchmark(bench))
    if report is not None:
        _write(report, offline_html(results), "report")
    if as_json:
        print_json([offline_json(r) for r in results])
        return
    for r in results:
        print_offline(r)
    if report is not None:
        console().print(f"report: {printable(report)}", markup=False, soft_wrap=True)


def _benchmark(name: str, root: Path, via_emulator: bool) -> Any:
    from clawback.routing.offline_data import load_routellm, load_routerarena

    if name != "routerarena":
        return load_routellm(root, name)
    if via_emulator:
        from clawback.routing.arena_replay import routerarena_via_emulator

        return routerarena_via_emulator(root, catalogue_for())
    return load_routerarena(root, catalogue=catalogue_for())


@app.command("make-task")
def make_task(
    dataset: Annotated[str, typer.Argument(help="banking77 or clinc150.")],
    out: Annotated[Path, typer.Option("--out", help="Write the eval dataset (JSONL) here.")],
    replay: Annotated[
        Path | None, typer.Option("--replay", help="Also write an emulator replay file (simulated answers).")
    ] = None,
    n: Annotated[int, typer.Option("--n", help="How many samples.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample and of the simulated answers.")] = 0,
    cheap: Annotated[
        str, typer.Option("--cheap", help="Model given the cheap error profile.")
    ] = "claude-haiku-5-5",
    strong: Annotated[
        str, typer.Option("--strong", help="Model given the strong error profile.")
    ] = "claude-sonnet-5-5",
    split: Annotated[
        str, typer.Option("--split", help="Dataset split: test or train (val for CLINC150).")
    ] = "test",
    data: DataOpt = None,
) -> None:
    """Turn BANKING77 or CLINC150 into an eval dataset, and a replay file for the emulator."""
    from clawback.routing.datasets import (
        CHEAP_ERRORS,
        STRONG_ERRORS,
        load_classification,
        replay_lines,
        task_lines,
    )

    catalogue = catalogue_for()
    for model in (cheap, strong):
        catalogue.resolve(model)
    task = load_classification(_data_dir(data), dataset, split)
    lines = task_lines(task, n, seed=seed)
    _write(out, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "dataset")
    short = f" (all the {split} split holds; --n {n} asked for more)" if len(lines) < n else ""
    console().print(
        f"{len(lines)} samples of {dataset} ({len(task.labels)} labels) written to {out}{short}",
        markup=False,
        soft_wrap=True,
    )
    if replay is not None:
        records = replay_lines(task, lines, {cheap: CHEAP_ERRORS, strong: STRONG_ERRORS}, seed=seed)
        _write(replay, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in records), "replay file")
        console().print(
            f"{len(records)} simulated answers written to {replay} (a seeded error model, not real model output)",
            markup=False,
            soft_wrap=True,
        )


@app.command("train-router")
def train_router(
    outcomes: Annotated[
        Path, typer.Argument(help="Per-prompt outcomes JSONL (from clawback eval --outcomes).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Write the trained router (JSON) here.")],
    cheap: Annotated[str, typer.Option("--cheap", help="The model the router sends easy prompts to.")],
    strong: Annotated[str, typer.Option("--strong", help="The model it sends the rest to.")],
    quality_target: Annotated[
        float, typer.Option("--quality-target", help="Share of strong quality to keep.")
    ] = 0.95,
    task: Annotated[str, typer.Option("--task", help="Route this task with it ('*' for every task).")] = "*",
    routing_config: Annotated[
        Path | None,
        typer.Option("--routing-config", help="Routing config (default $CLAWBACK_HOME/routing.toml)."),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Add \\[learned.TASK] to the routing config.")
    ] = False,
) -> None:
    """Train a learned router from outcomes and calibrate its threshold to a quality target."""
    from clawback.routing.config import LearnedSpec
    from clawback.routing.config_write import write_learned
    from clawback.routing.training import read_outcomes
    from clawback.routing.training import train_router as fit

    catalogue = catalogue_for()
    for model in (cheap, strong):
        catalogue.resolve(model)
    trained = fit(
        read_outcomes(outcomes), quality_target=quality_target, meta={"cheap": cheap, "strong": strong}
    )
    _write(out, json.dumps(trained.model.to_json()) + "\n", "router")
    c = trained.calibration
    console().print(
        f"router written to {out}: threshold {c.threshold:.3f} sends {c.strong_share:.1%} of the training prompts "
        f"to {strong} for quality {c.quality:.3f} (target {quality_target:g} of {strong}'s; out-of-fold, 95% confidence"
        f"{'' if c.met else ', NOT met: every prompt goes to the strong model'})",
        markup=False,
        soft_wrap=True,
    )
    if write:
        target = routing_config or default_routing_config()
        model_file = os.path.relpath(out.resolve(), target.resolve().parent)
        spec = LearnedSpec(model_file=model_file, cheap=cheap, strong=strong, threshold=round(c.threshold, 6))
        write_learned(target, task, spec)
        console().print(printable(f"[learned.{task}] written to {target}"), markup=False, soft_wrap=True)
