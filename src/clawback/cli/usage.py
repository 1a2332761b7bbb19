"""``clawback usage daily|weekly|monthly|session|blocks``: the views Claude Code users expect, priced exactly.

The same reading, deduplication and pricing as ``clawback audit`` (and with no paths, the same
Claude Code folders), without the what-if analysis. Tables fit an 80-column terminal: token counts
are shortened (``1.2M``); ``--json`` has every figure in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clawback.cli._common import catalogue_for, console, plain, print_json
from clawback.cli._logs import FORMATS_HELP, Bar, parse_when, resolve_logs

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from clawback.audit.usage_views import Block, UsageRow, UsageView

app = typer.Typer(
    name="usage",
    help="Usage by day, week, month, session or 5-hour block, priced exactly (Claude Code's logs by default).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

Paths = Annotated[
    list[str] | None,
    typer.Argument(help="Log files or folders (read recursively); none: Claude Code's own logs."),
]
Fmt = Annotated[str, typer.Option("--format", "-f", help=f"Input format: {FORMATS_HELP}.")]
Since = Annotated[str | None, typer.Option("--since", help="Only calls at or after this date/time (UTC).")]
Until = Annotated[
    str | None,
    typer.Option("--until", help="Only calls up to and including this UTC day (or before this time)."),
]
Breakdown = Annotated[bool, typer.Option("--breakdown", "-b", help="One line per model under each row.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the view as JSON.")]
Zone = Annotated[str, typer.Option("--timezone", "-z", help="IANA time zone for days, weeks and months.")]
Prices = Annotated[
    list[Path] | None, typer.Option("--prices", help="A price file overriding the bundled catalogue.")
]
Workdir = Annotated[Path | None, typer.Option("--workdir", help="Folder for the temporary database.")]


def _short(n: int) -> str:
    """A token count in at most six characters: 999, 12.3k, 4.56M, 7.89B."""
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if n >= size:
            value = n / size
            return f"{value:.3g}{suffix}" if value < 1000 else f"{value:,.0f}{suffix}"
    return str(n)


def _money(value: Decimal) -> str:
    """Dollars in at most eight characters: cents from $0.01, three significant digits below."""
    from clawback.audit.results import money

    if value >= Decimal("0.01") or value == 0:
        return money(value)
    return f"${float(value):.3g}" if value >= Decimal("0.0001") else f"${float(value):.1e}"


def _hit(row: UsageRow) -> str:
    return "" if row.hit_rate is None else f"{row.hit_rate:.0%}"


def _cells(row: UsageRow) -> list[str]:
    cost = _money(row.cost) + ("*" if row.unpriced_calls else "")
    return [f"{row.calls:,}", _short(row.input_tokens), _short(row.output_tokens),
            _short(row.cache_write_tokens), _short(row.cache_read_tokens), cost, _hit(row)]  # fmt: skip


def _table(first: str, width: int = 16) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_footer=False)
    table.add_column(first, no_wrap=True, max_width=width, overflow="ellipsis")
    for name in ("calls", "input", "output", "c.write", "c.read", "cost", "hit"):
        table.add_column(name, justify="right", no_wrap=True)
    return table


def _key(view: UsageView, row: UsageRow) -> str:
    if view.view == "session":
        project = row.label if len(row.label) <= 8 else "…" + row.label[-7:]
        return plain(f"{row.key[:8]} {project}".rstrip())
    return plain(row.key)


def _render(out: Console, view: UsageView, breakdown: bool) -> None:
    first = {"daily": "date", "weekly": "week of", "monthly": "month", "session": "session, project"}[
        view.view
    ]
    table = _table(first)
    for row in view.rows:
        table.add_row(_key(view, row), *_cells(row))
        if breakdown:
            for sub in row.breakdown:
                table.add_row(
                    f"[dim]  {plain(_model(sub.key))}[/dim]", *(f"[dim]{c}[/dim]" for c in _cells(sub))
                )
    table.add_section()
    table.add_row("[bold]total[/bold]", *(f"[bold]{c}[/bold]" for c in _cells(view.totals)))
    out.print(table)


def _model(model: str) -> str:
    return model.removeprefix("claude-")


def _when(ts: datetime, zone: str) -> str:
    if zone != "UTC":
        from zoneinfo import ZoneInfo

        ts = ts.astimezone(ZoneInfo(zone))
    return f"{ts:%Y-%m-%d %H:%M}"


def _render_blocks(out: Console, view: UsageView, breakdown: bool) -> None:
    table = _table("block start")
    active: Block | None = None
    for block in view.blocks:
        name = _when(block.start, view.timezone) + (" [green]●[/green]" if block.active else "")
        table.add_row(name, *_cells(block.row))
        if breakdown:
            for sub in block.row.breakdown:
                table.add_row(
                    f"[dim]  {plain(_model(sub.key))}[/dim]", *(f"[dim]{c}[/dim]" for c in _cells(sub))
                )
        if block.active:
            active = block
    table.add_section()
    table.add_row("[bold]total[/bold]", *(f"[bold]{c}[/bold]" for c in _cells(view.totals)))
    out.print(table)
    out.print(f"[dim]Blocks start on the hour of their first call; times in {plain(view.timezone)}.[/dim]")
    if active is None:
        out.print("No active block (no call in the last 5 hours of a block that is still open).")
        return
    ends = _when(active.end, view.timezone)
    if active.cost_per_hour is None or active.projected_cost is None:
        out.print(
            f"Active block until {ends}: {_money(active.row.cost)} so far (one call: no burn rate yet)."
        )
        return
    out.print(
        f"Active block until {ends}: {_money(active.row.cost)} so far, burning {_money(active.cost_per_hour)}/hour "
        f"({active.tokens_per_minute or 0:,.0f} tokens/min); projected {_money(active.projected_cost)} "
        f"and {_short(active.projected_tokens or 0)} tokens by the block's end."
    )


def _run(
    view_name: str,
    paths: Sequence[str] | None,
    fmt: str,
    since: str | None,
    until: str | None,
    timezone: str,
    prices: list[Path] | None,
    workdir: Path | None,
) -> UsageView:
    from clawback.audit.loading import LoadOptions, load_inputs, nothing_read
    from clawback.audit.records import IssueLog
    from clawback.audit.store import AuditStore
    from clawback.audit.usage_views import usage_view

    catalogue = catalogue_for(prices)
    logs = resolve_logs(paths, fmt)
    options = LoadOptions(
        format=logs.format,
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until", end=True),
        pattern=logs.pattern,
    )
    issues = IssueLog()
    with Bar() as bar, AuditStore.open(catalogue, workdir=workdir) as store:
        inputs = load_inputs(store, logs.paths, catalogue, options, issues, bar)
        if store.count() == 0:
            raise nothing_read(inputs, issues, logs.searched)
        bar.stage("pricing")
        store.prepare()
        view = usage_view(store.con, view_name, timezone=timezone, sources=[i.path for i in inputs],
                          now=datetime.now(UTC))  # fmt: skip
    notes = list(view.notes)
    if issues.malformed_count:
        first = issues.issues[0].describe() if issues.issues else ""
        notes.append(f"{issues.malformed_count:,} malformed lines were counted and skipped (first: {first})")
    if issues.files_skipped:
        notes.append(f"{len(issues.files_skipped):,} files not read (format unknown or not a file)")
    if view.totals.unpriced_calls:
        notes.append(
            f"* {view.totals.unpriced_calls:,} calls have no price (unknown model): never counted as $0"
        )
    notes.extend(issues.notes)
    from dataclasses import replace

    return replace(view, notes=tuple(notes))


def _show(view: UsageView, as_json: bool, breakdown: bool) -> None:
    if as_json:
        print_json(view.to_json())
        return
    out = console()
    if view.view == "blocks":
        _render_blocks(out, view, breakdown)
    else:
        _render(out, view, breakdown)
    for note in view.notes:
        out.print(f"[dim]note: {plain(note)}[/dim]")


def _command(view_name: str, help_text: str) -> None:
    def command(
        paths: Paths = None,
        fmt: Fmt = "auto",
        since: Since = None,
        until: Until = None,
        breakdown: Breakdown = False,
        as_json: AsJson = False,
        timezone: Zone = "UTC",
        prices: Prices = None,
        workdir: Workdir = None,
    ) -> None:
        view = _run(view_name, paths, fmt, since, until, timezone, prices, workdir)
        _show(view, as_json, breakdown)

    command.__doc__ = help_text
    app.command(view_name)(command)


_command("daily", "Usage and cost per day.")
_command("weekly", "Usage and cost per ISO week (named by its Monday).")
_command("monthly", "Usage and cost per month.")
_command("session", "Usage and cost per Claude Code session (costliest first).")
_command("blocks", "Usage per 5-hour block, with the active block's burn rate and projection.")
