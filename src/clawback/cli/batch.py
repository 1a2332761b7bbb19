"""``clawback batch``: run, resume, inspect and cancel durable Message Batches jobs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from clawback.batch import views
from clawback.batch.chunking import API_MAX_BATCH_BYTES, ITEM_FRAMING_BYTES, Limits
from clawback.batch.ingest import invalid_message
from clawback.batch.journal import Journal, default_journal_location
from clawback.batch.machine import Backoff
from clawback.batch.options import JobOptions
from clawback.batch.report import JobSummary
from clawback.batch.runner import BatchRunner
from clawback.cli._common import catalogue_for, console, err_console, print_json, printable, settings
from clawback.errors import BatchJobError, UpstreamError, UsageError
from clawback.redact import redact
from clawback.safe_input import bounded_decimal

__all__ = ["app"]

app = typer.Typer(
    name="batch",
    help="Durable half-price batches: nothing lost, nothing paid twice.",
    no_args_is_help=True,
    add_completion=False,
)

JournalOpt = Annotated[
    str | None,
    typer.Option(
        "--journal",
        help="Journal path or postgresql:// URL (default $CLAWBACK_JOURNAL, else $CLAWBACK_HOME/batches.sqlite3).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")]
PollOpt = Annotated[
    float, typer.Option("--poll-interval", help="Seconds before the first poll of a batch.", min=0.0)
]
MaxPollOpt = Annotated[
    float, typer.Option("--max-poll-interval", help="Longest wait between polls, seconds.", min=0.0)
]
GraceOpt = Annotated[
    float,
    typer.Option(
        "--recover-grace", hidden=True, min=0.0, help="Seconds a lost create may take to be listed."
    ),
]


def _note(message: str) -> None:
    sys.stderr.write(f"clawback: {printable(redact(message))}\n")
    sys.stderr.flush()


def _journal(location: str | None, *, create: bool = True) -> Journal:
    where = location or default_journal_location(settings(), os.environ)
    return Journal.open(where, create=create)


def _crash_hook() -> Callable[[str], None] | None:
    raw = os.environ.get("CLAWBACK_BATCH_CRASH_AT")
    if not raw:
        return None
    try:
        target = int(raw)
    except ValueError as exc:
        raise UsageError(f"CLAWBACK_BATCH_CRASH_AT must be an integer, got {raw!r}") from exc
    seen = [0]

    def crash(label: str) -> None:
        seen[0] += 1
        if seen[0] == target:
            os._exit(86)

    return crash


def _client() -> Any:
    import anthropic

    try:
        # The runner owns retries (its back-off honours retry-after and is journaled), so the SDK's are off.
        return anthropic.Anthropic(max_retries=0)
    except anthropic.AnthropicError as exc:
        raise UsageError(
            f"cannot build the API client: {str(exc).splitlines()[0]} (set ANTHROPIC_API_KEY)"
        ) from exc


def _runner(
    journal: Journal, *, poll: float, max_poll: float, grace: float, progress: Any = None
) -> BatchRunner:
    from clawback.batch.ledger import open_batch_ledger
    from clawback.batch.upstream import SdkUpstream

    policy = Backoff(
        first_poll=poll, max_poll=max(poll, max_poll), recover_grace=grace, retry_max=max(1.0, max_poll)
    )
    catalogue = catalogue_for()
    return BatchRunner(
        journal,
        SdkUpstream(_client()),
        catalogue=catalogue,
        policy=policy,
        crash=_crash_hook(),
        progress=progress,
        notice=_note,
        ledger=open_batch_ledger(None, catalogue, settings=settings()),  # each result is a call in the ledger
    )


@contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[JobSummary], None] | None]:
    if not enabled or not err_console().is_terminal:
        yield None
        return
    with views.progress(total) as update:
        yield update


def _limits(batch_size: int, batch_bytes: int) -> Limits:
    """Batch limits from the flags; one request may fill a batch, up to the Messages API's 32 MB."""
    max_bytes = min(batch_bytes, API_MAX_BATCH_BYTES)
    per_request = max(1, min(32_000_000, max_bytes - ITEM_FRAMING_BYTES - 16))
    return Limits(max_requests=batch_size, max_bytes=max_bytes, max_request_bytes=per_request)


def _parse_cost(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return bounded_decimal(text.lstrip("$"), "--max-cost")
    except (InvalidOperation, UsageError) as exc:
        raise UsageError(f"--max-cost must be an amount in USD, got {text[:40]!r}") from exc


def _check_paths(source: Path, out: Path, overwrite: bool) -> None:
    if not source.is_file():
        raise UsageError(f"input {source} does not exist or is not a file")
    if out.is_dir():
        raise UsageError(f"output {out} is a directory; --out takes a file path")
    if out.exists() and source.resolve() == out.resolve():
        raise UsageError("--out must not be the input file")
    if out.exists() and out.stat().st_size > 0 and not overwrite:
        raise UsageError(
            f"output {out} already exists and is not empty; pick another --out or pass --overwrite"
        )


@contextmanager
def _claimed_output(out: Path) -> Iterator[None]:
    """Open the output for appending now (an unwritable path fails before anything is recorded or
    sent); a file made here is removed again if the job is refused. Nothing in it is cut yet."""
    existed = out.exists()
    try:
        if out.parent.exists() and not out.parent.is_dir():
            raise UsageError(f"cannot write output {out}: {out.parent} is not a directory")
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("ab"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write output {out}: {exc.strerror or exc}") from exc
    try:
        yield
    except BaseException:
        if not existed:
            out.unlink(missing_ok=True)
        raise


def _check_unfinished(store: Journal, name: str, doing: str) -> None:
    job = store.job(name)
    if job.finished:
        raise UsageError(
            f"batch job {name!r} is already {job.state}; nothing to {doing} "
            f"(its {job.out_lines:,} result lines are in {job.output_path}; see: clawback batch status {name})"
        )


@app.command("run")
def run(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT.jsonl",
            help="JSONL input: one Messages request body (or {custom_id, params}) per line.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL output: one line per input line.")],
    job: Annotated[
        str | None, typer.Option("--job", help="Name the job (default: generated and printed).")
    ] = None,
    journal: JournalOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and estimate; send nothing.")] = False,
    max_cost: Annotated[
        str | None,
        typer.Option(
            "--max-cost", help="Refuse to submit if the upper-bound estimate is above this many USD."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Send the valid lines; report invalid ones as outcome 'invalid'."
        ),
    ] = False,
    warm_cache: Annotated[
        bool,
        typer.Option(
            "--warm-cache",
            help="Write each shared prefix to the cache (1h) with one request before submitting.",
        ),
    ] = False,
    cache_plan: Annotated[
        bool,
        typer.Option(
            "--cache-plan/--no-cache-plan", help="Group shared prefixes and add a breakpoint on them."
        ),
    ] = True,
    cache_ttl: Annotated[str, typer.Option("--cache-ttl", help="TTL of added breakpoints: 1h or 5m.")] = "1h",
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", help="Tries per request for transient errors and expiries.")
    ] = 3,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Requests per batch (API limit 100,000).")
    ] = 10_000,
    batch_bytes: Annotated[int, typer.Option("--batch-bytes", help="Bytes per batch body.")] = 240_000_000,
    expected_output: Annotated[
        int | None,
        typer.Option(
            "--expected-output",
            help="Typical output tokens per request, for the estimate (default: half of max_tokens).",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out file.")] = False,
    poll: PollOpt = 10.0,
    max_poll: MaxPollOpt = 60.0,
    grace: GraceOpt = 60.0,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = True,
) -> None:
    """Validate INPUT, split it into batches, submit, and collect every result into --out."""
    _check_paths(source, out, overwrite or dry_run)
    options = JobOptions(
        limits=_limits(batch_size, batch_bytes),
        max_attempts=max_attempts,
        cache_plan=cache_plan,
        cache_ttl=cache_ttl,  # type: ignore[arg-type]
        warm_cache=warm_cache,
        skip_invalid=skip_invalid,
        expected_output=expected_output,
        max_cost=_parse_cost(max_cost),
    )
    if dry_run:
        _dry_run(source, out, options, as_json)
        return
    with _journal(journal) as store:
        runner = _runner(store, poll=poll, max_poll=max_poll, grace=grace)
        record = runner.new_job(source.resolve(), out.resolve(), name=job, options=options)
        with _claimed_output(out):
            report = runner.create(record)
        invalid = (
            f", {report.invalid_count:,} invalid lines reported as invalid" if report.invalid_count else ""
        )
        _note(
            f"batch job {record.name}: {report.valid:,} requests{invalid} (resume with: clawback batch resume {record.name})"
        )
        _run_to_end(runner, record.name, report.lines, show_progress=show_progress, as_json=as_json)


def _dry_run(source: Path, out: Path, options: JobOptions, as_json: bool) -> None:
    import tempfile

    with (
        tempfile.TemporaryDirectory(prefix="clawback-dry-") as tmp,
        Journal.open(Path(tmp) / "dry.sqlite3") as store,
    ):
        runner = BatchRunner(store, _NoUpstream(), catalogue=catalogue_for())
        record = runner.new_job(source.resolve(), out.resolve(), name="dry-run", options=options)
        report = runner.create(record, strict=False)
    over = options.max_cost is not None and report.estimate.upper_total > options.max_cost
    if as_json:
        print_json(views.dry_run_json(report, options, over))
    else:
        views.print_dry_run(console(), report, options, over)
    if report.invalid_count and not options.skip_invalid:
        raise UsageError(invalid_message(source, report.invalid_count, report.errors))
    if over:
        raise UsageError("the upper-bound estimate is over --max-cost; a real run would refuse to submit")


class _Interrupted(BatchJobError):
    """Ctrl-C while a job runs: nothing is lost, and the message says how to carry on."""

    exit_code = 130


def _require_api_key(name: str) -> None:
    """The SDK only finds a missing key at its first request (a TypeError); say so before any."""
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        raise UsageError(
            "set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL to use clawback emulate); nothing was sent, "
            f"batch job {name} is saved: then run clawback batch resume {name}"
        )


def _run_to_end(runner: BatchRunner, name: str, total: int, *, show_progress: bool, as_json: bool) -> None:
    _require_api_key(name)
    _require_reachable(runner, name)
    try:
        with _progress_bar(show_progress, total) as update:
            runner.progress = update
            summary = runner.run(name)
    except KeyboardInterrupt:
        raise _Interrupted(
            f"interrupted: batch job {name} is saved and its sent batches keep running; "
            f"resume with: clawback batch resume {name} (or stop it: clawback batch cancel {name})"
        ) from None
    if as_json:
        print_json(summary.to_json())
    else:
        views.print_summary(console(), summary)


def _require_reachable(runner: BatchRunner, name: str) -> None:
    """One request first: an unreachable API is a one-line error now, not minutes of retries."""
    from clawback.batch.upstream import SdkUpstream
    from clawback.reachable import check_reachable

    if isinstance(runner.upstream, SdkUpstream):
        try:
            check_reachable(runner.upstream.client)
        except UpstreamError as exc:
            raise UpstreamError(f"{exc}; batch job {name} is saved: clawback batch resume {name}") from exc


class _NoUpstream:
    """The dry run's upstream: never called (creating a job sends nothing)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the dry run must not call the API ({name})")


@app.command("resume")
def resume(
    name: Annotated[str, typer.Argument(help="The job to resume.")],
    journal: JournalOpt = None,
    poll: PollOpt = 10.0,
    max_poll: MaxPollOpt = 60.0,
    grace: GraceOpt = 60.0,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = True,
) -> None:
    """Continue a job after a crash, a kill or a give-up: nothing is sent twice, nothing is lost.

    A finished job whose output file was deleted or cut short has it rebuilt from the journal.
    """
    with _journal(journal, create=False) as store:
        if _rebuilt_output(store, name, as_json=as_json):
            return
        _check_unfinished(store, name, "resume")
        runner = _runner(store, poll=poll, max_poll=max_poll, grace=grace)
        total = store.job(name).items
        _run_to_end(runner, name, total, show_progress=show_progress, as_json=as_json)


def _rebuilt_output(store: Journal, name: str, *, as_json: bool) -> bool:
    """For a finished job whose output lost lines: rebuild it from the journal and show the job."""
    from clawback.batch.output import OutputFile, output_problem
    from clawback.batch.report import summarize

    job = store.job(name)
    problem = output_problem(job) if job.finished else None
    if problem is None:
        return False
    with store.runner_lock(name):
        OutputFile(store, name, Path(job.output_path)).prepare()
    done = store.job(name)
    _note(
        f"batch job {name}: {problem}; rebuilt {done.output_path} from the journal ({done.out_lines:,} lines)"
    )
    summary = summarize(store, name)
    if as_json:
        print_json(summary.to_json())
    else:
        views.print_summary(console(), summary)
    return True


@app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="The job (default: the most recent).")] = None,
    journal: JournalOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a job's progress, outcomes and cost so far, and whether a live process is running it."""
    from clawback.batch.liveness import runner_of
    from clawback.batch.report import summarize

    with _journal(journal, create=False) as store:
        if name is None:
            recent = store.jobs(limit=1)
            if not recent:
                raise UsageError(f"no batch jobs in {store.display}")
            name = recent[0].name
        summary = summarize(store, name)
        runner = runner_of(store, summary)
    if summary.output_problem:
        _note(f"batch job {name}: {summary.output_problem}; rebuild it with: clawback batch resume {name}")
    if as_json:
        print_json({**runner.shown(summary).to_json(), **runner.to_json()})
        return
    views.print_summary(console(), runner.shown(summary))
    if runner.hint:
        _note(runner.hint)


@app.command("list")
def list_jobs(
    journal: JournalOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", help="How many jobs, newest first.", min=1, max=1_000_000)
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List jobs, newest first (an unfinished job no live process holds is "not running")."""
    from clawback.batch.liveness import runner_of
    from clawback.batch.report import summarize

    with _journal(journal, create=False) as store:
        summaries = [summarize(store, job.name) for job in store.jobs(limit=limit)]
        summaries = [runner_of(store, s).shown(s) for s in summaries]
        where = store.display
    if as_json:
        print_json([s.to_json() for s in summaries])
    else:
        views.print_list(console(), summaries, where)


@app.command("cancel")
def cancel(
    name: Annotated[str, typer.Argument(help="The job to cancel.")],
    journal: JournalOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Run to the end here, collecting what completed.")
    ] = True,
    poll: PollOpt = 10.0,
    max_poll: MaxPollOpt = 60.0,
    grace: GraceOpt = 60.0,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = True,
) -> None:
    """Cancel a job's batches and still collect every result that completed."""
    with _journal(journal, create=False) as store:
        _check_unfinished(store, name, "cancel")
        if not wait:
            store.request_cancel(name)
            _note(f"cancel of batch job {name} recorded; a running or resumed runner acts on it")
            return
        runner = _runner(store, poll=poll, max_poll=max_poll, grace=grace)
        if not runner.cancel(name):
            _note(f"cancel of batch job {name} recorded; the process running it will cancel its batches")
            return
        _run_to_end(runner, name, store.job(name).items, show_progress=show_progress, as_json=as_json)
