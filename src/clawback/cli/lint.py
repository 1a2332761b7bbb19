"""``clawback lint``: what a request would cache, block by block, and why not."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clawback.cache.lint import LintReport, lint_request
from clawback.cli._common import catalogue_for, console, plain, print_json
from clawback.errors import UsageError
from clawback.safe_input import loads, read_input

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
TABLE_ROWS = 200
"""Rows the terminal table shows at most: the ends, and every block with a breakpoint or finding."""


def _load_body(path: str, flag: str) -> dict[str, Any]:
    """A Messages request body from a JSON file (or ``-`` for stdin), read once, with one-line errors."""
    label = f"{flag} {path}"
    data = loads(read_input(path, label), label)
    if isinstance(data, dict) and isinstance(data.get("params"), dict):
        data = data["params"]  # a Message Batches request item
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise UsageError(
            f"{flag} {path} is not a Messages request body (a JSON object with a 'messages' list)"
        )
    for key in ("system", "tools"):
        if key in data and not isinstance(data[key], (str, list, type(None))):
            raise UsageError(f"{flag} {path}: '{key}' must be a string or a list")
    return data


def _rows_shown(report: LintReport) -> set[int]:
    """Positions of the blocks the table shows: all of them, or the ends plus every one that matters."""
    positions = [b.position for b in report.blocks]
    if len(positions) <= TABLE_ROWS:
        return set(positions)
    ends = TABLE_ROWS // 4
    shown = set(positions[:ends]) | set(positions[-ends:])
    shown |= {b.position for b in report.blocks if b.breakpoint or b.suggested or b.automatic}
    shown |= {f.position for f in report.findings if f.position is not None}
    return shown


def _table(report: LintReport) -> Table:
    table = Table(
        title=f"{plain(report.model)}: minimum cacheable prefix {report.min_tokens:,} tokens",
        title_justify="left",
    )
    for name, justify in [
        ("#", "right"),
        ("where", "left"),
        ("kind", "left"),
        ("tokens", "right"),
        ("prefix", "right"),
        ("breakpoint", "left"),
        ("cached?", "center"),
        ("why", "left"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    shown = _rows_shown(report)
    previous = -1
    for b in report.blocks:
        if b.position not in shown:
            continue
        if b.position > previous + 1:
            hidden = b.position - previous - 1
            table.add_row("", f"[dim]… {hidden:,} more block(s) (--json lists every block)[/dim]", *[""] * 6)
        previous = b.position
        mark = plain(b.breakpoint or "") + (" (auto)" if b.automatic else "")
        if not mark and b.suggested:
            mark = f"[dim]suggest {plain(b.suggested)}[/dim]"
        cached = {
            "yes": "[green]yes[/green]",
            "no": "[red]no[/red]",
            "write-only": "[yellow]write-only[/yellow]",
        }[b.cached]
        table.add_row(
            str(b.position),
            plain(b.location),
            plain(b.kind),
            f"{b.tokens:,}",
            f"{b.prefix_tokens:,}",
            mark,
            cached,
            plain(b.why),
        )
    return table


def lint(
    request: Annotated[str, typer.Argument(help="A Messages request body as JSON (a file, or - for stdin).")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model id or alias (default: the body's model).")
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option("--previous", help="An earlier request: report changes that invalidate the cache."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    prices: Annotated[
        list[Path] | None, typer.Option("--prices", help="A price file overriding the bundled catalogue.")
    ] = None,
) -> None:
    """Explain block by block what a request would cache, and why not. Exits 1 if the API would reject it."""
    body = _load_body(request, "request")
    before = _load_body(previous, "--previous") if previous is not None else None
    name = model or body.get("model")
    if not isinstance(name, str) or not name:
        raise UsageError("--model is required (the request names no model)")
    info = catalogue_for(prices).resolve(name)
    report = lint_request(body, info, previous=before)
    if as_json:
        print_json(report.to_json())
    else:
        out = console()
        out.print(_table(report))
        share = report.cached_tokens / report.total_tokens if report.total_tokens else 0.0
        if report.rejected:
            out.print("cached and readable: nothing — the API would reject this request (the error below)")
        else:
            out.print(
                f"cached and readable: {report.cached_tokens:,} of {report.total_tokens:,} "
                f"estimated input tokens ({share:.0%})"
            )
        for f in report.findings:
            where = f" at {f.position}" if f.position is not None else ""
            out.print(
                f"[{_STYLE[f.severity]}]{f.severity}{where}[/] [bold]{plain(f.code)}[/bold]: {plain(f.message)}"
            )
        if report.suggested:
            marks = ", ".join(f"{p} ({plain(t)})" for p, t in report.suggested.items())
            out.print(f"suggested breakpoints (planner, no history): {marks}")
    if report.rejected:
        raise typer.Exit(1)
