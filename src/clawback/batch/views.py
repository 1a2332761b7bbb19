"""How batch jobs look in a terminal: the progress bar, the summary table, the job list, the dry run (rich)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clawback.batch.ingest import IngestReport
from clawback.batch.options import JobOptions
from clawback.batch.report import JobSummary
from clawback.cli._common import plain
from clawback.pricing.cost import format_usd

__all__ = ["dry_run_json", "print_dry_run", "print_list", "print_summary", "progress"]


def _usd(amount: Decimal) -> str:
    """Dollars for people: cents when large, more digits when small."""
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${format_usd(amount.quantize(Decimal('0.000001')) if amount else amount)}"


def _pct(part: Decimal, whole: Decimal) -> str:
    return f"{part / whole * 100:.1f}%" if whole else "-"


def _line(summary: JobSummary) -> str:
    o = summary.outcomes
    return (
        f"submitted {summary.submitted:,} · ok {o.get('succeeded', 0):,} · errored {o.get('errored', 0):,} · "
        f"expired {o.get('expired', 0):,} · {_usd(summary.totals.total_cost)}"
    )


@contextmanager
def progress(total: int) -> Iterator[Callable[[JobSummary], None]]:
    """A progress bar on stderr; yields the function that updates it from a summary."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[line]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        task = bar.add_task("batch", total=total, line="")

        def update(summary: JobSummary) -> None:
            bar.update(task, completed=summary.finished, line=_line(summary), description=plain(summary.name))

        yield update


def print_summary(console: Console, s: JobSummary) -> None:
    """The job's summary table."""
    t = s.totals
    table = Table(title=f"batch job {plain(s.name)} — {s.state}", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("items", f"{s.items:,}")
    for outcome in ("succeeded", "errored", "expired", "canceled", "invalid"):
        if s.outcomes.get(outcome):
            table.add_row(f"  {outcome}", f"{s.outcomes[outcome]:,}")
    unfinished = s.items - s.finished
    if unfinished:
        table.add_row("  not finished", f"{unfinished:,}")
    table.add_row("batches / requests sent", f"{s.batches:,} / {s.submitted:,}")
    table.add_row(
        "cache reads / writes (tokens)",
        f"{t.cache_read_tokens:,} / {t.cache_write_5m_tokens + t.cache_write_1h_tokens:,}",
    )
    if t.warmups:
        table.add_row("warm-up requests", f"{t.warmups:,} ({_usd(t.warmup_cost)})")
    table.add_row("cost (batch prices, incl. cache)", _usd(t.total_cost))
    table.add_row("same work at standard prices", _usd(t.standard_no_cache))
    table.add_row(
        "saving", f"{_usd(t.saving_vs_standard)} ({_pct(t.saving_vs_standard, t.standard_no_cache)})"
    )
    table.add_row("  of which batch discount", _usd(t.batch_saving))
    table.add_row("  of which caching", _usd(t.cache_saving))
    table.add_row("output", f"{plain(s.output_path)} ({s.written:,} lines)")
    if s.output_problem:
        table.add_row(
            "[bold red]output damaged[/bold red]",
            f"[red]{plain(s.output_problem)}[/red]; rebuild it: clawback batch resume {plain(s.name)}",
        )
    if s.last_error:
        table.add_row("last error", plain(s.last_error))
    console.print(table)


def print_list(console: Console, summaries: Sequence[JobSummary], where: str) -> None:
    """The jobs table."""
    table = Table(title=f"batch jobs in {plain(where)}", title_justify="left")
    for name, justify in (
        ("job", "left"),
        ("created", "left"),
        ("state", "left"),
        ("items", "right"),
        ("finished", "right"),
        ("cost", "right"),
        ("output", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in summaries:
        created = datetime.fromtimestamp(s.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            plain(s.name),
            created,
            s.state,
            f"{s.items:,}",
            f"{s.finished:,}",
            _usd(s.totals.total_cost),
            plain(s.output_path) + (" [red](damaged: see status)[/red]" if s.output_problem else ""),
        )
    console.print(table)


def dry_run_json(report: IngestReport, options: JobOptions, over: bool) -> dict[str, Any]:
    """The dry run as JSON."""
    return {
        "lines": report.lines,
        "valid": report.valid,
        "invalid": report.invalid_count,
        "errors": [{"line": e.line, "message": e.message} for e in report.errors],
        "prefix_groups": report.groups,
        "grouped_requests": report.grouped,
        "breakpoints_added": report.breakpoints,
        "estimate": report.estimate.to_json(),
        "typical_usd": format_usd(report.estimate.typical_total),
        "upper_bound_usd": format_usd(report.estimate.upper_total),
        "max_cost_usd": None if options.max_cost is None else format_usd(options.max_cost),
        "over_max_cost": over,
    }


def print_dry_run(console: Console, report: IngestReport, options: JobOptions, over: bool) -> None:
    """The dry run as tables: invalid lines, then the plan and the estimate."""
    if report.errors:
        bad = Table(
            title=f"{report.invalid_count:,} invalid lines (first {len(report.errors)})", title_justify="left"
        )
        bad.add_column("line", justify="right")
        bad.add_column("problem")
        for error in report.errors:
            bad.add_row(str(error.line), plain(error.message))
        console.print(bad)
    e = report.estimate
    table = Table(title="dry run — nothing was sent", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("requests (valid / invalid)", f"{report.valid:,} / {report.invalid_count:,}")
    table.add_row("prefix groups / grouped requests", f"{report.groups:,} / {report.grouped:,}")
    table.add_row("breakpoints added", f"{report.breakpoints:,}")
    table.add_row("input tokens (estimated)", f"{e.input_tokens:,}")
    table.add_row("output tokens (typical / max)", f"{e.typical_output_tokens:,} / {e.max_output_tokens:,}")
    if e.warmups:
        table.add_row("warm-up requests", f"{e.warmups:,} ({_usd(e.warmup_cost)})")
    table.add_row("estimated cost (typical)", _usd(e.typical_total))
    table.add_row("upper bound (all max_tokens)", _usd(e.upper_total))
    table.add_row("same work at standard prices", _usd(e.standard_typical))
    if options.max_cost is not None:
        verdict = "over: a run would refuse to submit" if over else "within"
        table.add_row("--max-cost", f"{_usd(options.max_cost)} ({verdict})")
    console.print(table)
