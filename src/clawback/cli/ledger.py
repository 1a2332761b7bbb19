"""``clawback ledger``: what the recorded calls cost (summary), the latest calls (tail), every record (export)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from clawback.cli._common import console, plain, print_json, printable, settings
from clawback.errors import UsageError
from clawback.ledger.api import Ledger, open_ledger, resolve_location
from clawback.ledger.record import CallRecord
from clawback.ledger.summary import GROUP_BY, GroupBy, GroupTotals, Summary
from clawback.pricing.cost import format_usd

__all__ = ["app"]

app = typer.Typer(
    help="The call ledger: one record per API call, in SQLite or PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        help="Ledger path or postgresql:// URL (default: $CLAWBACK_LEDGER, else $CLAWBACK_HOME/ledger.sqlite3).",
    ),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only calls from this UTC day (YYYY-MM-DD) or time on.")
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Only calls up to and including this UTC day (or before this time)."),
]
TaskOpt = Annotated[str | None, typer.Option("--task", help="Only calls of this task.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _when(text: str | None, flag: str, *, end: bool = False) -> datetime | date | None:
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end and day == date.max:  # "until the last day there is": no upper bound
                return None
            return day + timedelta(days=1) if end else day
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} must be a date YYYY-MM-DD or an ISO time, got {text!r}") from exc


def _open(location: str | None) -> Ledger:
    return open_ledger(location, settings=settings(), create=False)


def _usd(amount: Decimal) -> str:
    return f"-${format_usd(-amount)}" if amount < 0 else f"${format_usd(amount)}"


def _note_skipped(book: Ledger) -> int:
    """Say on stderr how many rows could not be read (damaged), as the audit does for log lines."""
    if book.skipped:
        reason = f" (first: {book.skipped_reason})" if book.skipped_reason else ""
        note = f"skipped {book.skipped:,} unreadable ledger row(s) in {book.location}{reason}"
        sys.stderr.write(f"clawback: {printable(note)}; the other rows are counted\n")
    return book.skipped


def _group_row(g: GroupTotals, label: str) -> list[str]:
    return [
        label,
        f"{g.calls:,}",
        _usd(g.total_usd),
        _usd(g.baseline_usd),
        _usd(g.saved_usd),
        f"{g.input_tokens:,}",
        f"{g.output_tokens:,}",
        f"{g.cache_read_tokens:,}",
        f"{g.cache_write_tokens:,}",
        f"{g.errors:,}" if g.errors else "",
        f"{g.unpriced_calls:,}" if g.unpriced_calls else "",
    ]


def _summary_table(result: Summary, where: str) -> Table:
    table = Table(
        title=f"Ledger {plain(where)} — by {result.by}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_footer=True,
    )
    footer = _group_row(result.overall, "all")
    names = (
        "calls",
        "spent",
        "baseline",
        "saved",
        "input",
        "output",
        "cache read",
        "cache write",
        "errors",
        "unpriced",
    )
    table.add_column(result.by, footer=footer[0], no_wrap=True)
    for name, foot in zip(names, footer[1:], strict=True):
        table.add_column(name, footer=foot, justify="right", no_wrap=True)
    for g in result.groups:
        table.add_row(*_group_row(g, "—" if g.key is None else plain(g.key)))
    return table


@app.command("summary")
def summary(
    ledger: LedgerOpt = None,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="Group by task, model, day (UTC) or source (client, batch, eval, gateway)."
        ),
    ] = "task",
    since: SinceOpt = None,
    until: UntilOpt = None,
    task: TaskOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Calls, what they cost, what they would have cost as written (baseline) and the saving, by group."""
    if by not in GROUP_BY:
        raise UsageError(f"--by must be one of {', '.join(GROUP_BY)}, got {by!r}")
    group: GroupBy = by
    start, end = _when(since, "--since"), _when(until, "--until", end=True)
    with _open(ledger) as book:
        result = book.summary(group, since=start, until=end, task=task)
        where = book.location
        skipped = _note_skipped(book)
    if as_json:
        print_json({"ledger": where, **result.to_json(), "skipped_rows": skipped})
        return
    out = console()
    out.print(_summary_table(result, plain(where)))
    if not result.calls:
        out.print("[dim]no calls recorded in this range[/dim]")
    elif result.overall.without_baseline:
        out.print(
            f"[dim]{result.overall.without_baseline:,} priced call(s) have no baseline (older rows or an unknown "
            "requested model): their cost counts as their baseline[/dim]"
        )


def _tail_row(rec: CallRecord) -> list[str]:
    t = rec.tokens()
    if rec.error is not None:
        outcome = f"[red]{plain(rec.error.type)}[/red]"
    else:
        outcome = plain(rec.stop_reason or "")
    cost = "unpriced" if rec.unpriced else ("" if rec.total is None else f"${format_usd(rec.total)}")
    return [
        rec.ts.strftime("%Y-%m-%d %H:%M:%S"),
        plain(rec.task or "—"),
        plain(rec.model),
        plain(rec.source or "—"),
        f"{t.input:,}",
        f"{t.output:,}",
        f"{t.cache_read:,}/{t.cache_write:,}",
        cost,
        "" if rec.latency_ms is None else f"{rec.latency_ms:,.0f}",
        outcome,
    ]


@app.command("tail")
def tail(
    ledger: LedgerOpt = None,
    n: Annotated[
        int, typer.Option("-n", "--lines", min=1, max=1_000_000, help="How many of the latest calls.")
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The latest calls, oldest first."""
    with _open(ledger) as book:
        records = book.tail(n)
        where = book.location
        skipped = _note_skipped(book)
    if as_json:
        print_json({"ledger": where, "records": [r.to_json() for r in records], "skipped_rows": skipped})
        return
    table = Table(
        title=f"Ledger {plain(where)} — last {len(records)} call(s)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for name in ("time (UTC)", "task", "model", "source"):
        table.add_column(name, no_wrap=True)
    for name in ("input", "output", "cache r/w", "cost", "ms"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("stop / error", no_wrap=True)
    for rec in records:
        table.add_row(*_tail_row(rec))
    console().print(table)


@app.command("export")
def export(
    ledger: LedgerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    task: TaskOpt = None,
) -> None:
    """Every matching record as JSON lines (the versioned record format), oldest first."""
    start, end = _when(since, "--since"), _when(until, "--until", end=True)
    write = sys.stdout.write
    with _open(ledger) as book:
        for rec in book.iter_records(since=start, until=end, task=task):
            write(json.dumps(rec.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
        sys.stdout.flush()
        _note_skipped(book)


@app.command("path")
def path(ledger: LedgerOpt = None, as_json: JsonOpt = False) -> None:
    """The ledger location in effect (a password in a URL is masked)."""
    loc = resolve_location(ledger, settings())
    data: dict[str, Any] = {"kind": loc.kind, "location": loc.display}
    if as_json:
        print_json(data)
    else:
        sys.stdout.write(f"{loc.display}\n")
