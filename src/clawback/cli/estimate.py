"""``clawback estimate``: what each technique would save on a steady workload, alone and stacked."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from clawback.cli._common import catalogue_for, console, parse_date, plain, print_json
from clawback.errors import UsageError
from clawback.estimate import DAYS_PER_MONTH, Estimate, Workload, estimate_workload
from clawback.safe_input import bounded_decimal

_MAX_DIGITS = 12
"""Counts above a trillion calls or tokens a day are typos, and past 28 digits Decimal would round."""


def _fraction(text: str | None, flag: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = bounded_decimal(text.rstrip("%"), flag) / (100 if text.endswith("%") else 1)
    except (InvalidOperation, UsageError) as exc:
        raise UsageError(f"{flag} must be a number between 0 and 1 (or a percentage), got {text!r}") from exc
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise UsageError(f"{flag} must be between 0 and 1, got {text!r}")
    return value


def _money(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def render(result: Estimate) -> None:
    """The estimate as a Rich table with warnings under it."""
    w = result.workload
    out = console()
    table = Table(
        title=(
            f"{w.calls_per_day:,} calls/day · {w.static_tokens:,} static + {w.dynamic_tokens:,} dynamic input · "
            f"{w.output_tokens:,} output · {plain(w.model.id)}"
        ),
        title_justify="left",
    )
    table.add_column("step")
    table.add_column("alone, per day", justify="right")
    table.add_column("stacked, per day", justify="right")
    table.add_column("stacked, per month", justify="right")
    table.add_column("applied", justify="center")
    table.add_row(
        "today",
        _money(result.baseline),
        _money(result.baseline),
        _money(result.baseline * DAYS_PER_MONTH),
        "",
    )
    for step in result.steps:
        mark = "[green]yes[/green]" if step.applied else "[red]no[/red]"
        table.add_row(
            plain(step.title),
            _money(step.alone),
            _money(step.stacked),
            _money(step.stacked * DAYS_PER_MONTH),
            mark,
        )
    table.add_section()
    saving = result.baseline - result.final
    pct = (saving / result.baseline * 100) if result.baseline else Decimal(0)
    table.add_row(
        "[bold]all stacked[/bold]",
        "",
        f"[bold]{_money(result.final)}[/bold]",
        f"[bold]{_money(result.final * DAYS_PER_MONTH)}[/bold]",
        f"[bold]{_change(pct)}[/bold]",
    )
    out.print(table)
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {plain(warning)}")
    for step in result.steps:
        for note in step.warnings:
            colour = "dim" if step.applied else "yellow"
            out.print(f"[{colour}]{plain(step.name)}: {plain(note)}[/{colour}]")


def _change(saving_pct: Decimal) -> str:
    """The stacked change as a signed percentage; no saving reads ``0.0%``, never ``-0.0%``."""
    shown = f"{saving_pct:.1f}"
    return "0.0%" if shown in ("0.0", "-0.0") else f"-{shown}%"


def estimate(
    calls_per_day: Annotated[int, typer.Option("--calls-per-day", help="Calls per day.")],
    static_tokens: Annotated[
        int,
        typer.Option(
            "--static-tokens", help="Tokens of the stable prefix (system prompt, tools, documents)."
        ),
    ],
    dynamic_tokens: Annotated[int, typer.Option("--dynamic-tokens", help="Tokens that change every call.")],
    output_tokens: Annotated[int, typer.Option("--output-tokens", help="Output tokens per call today.")],
    model: Annotated[str, typer.Option("--model", "-m", metavar="<model>", help="The model used today.")],
    target_model: Annotated[
        str | None, typer.Option("--target-model", metavar="<model>", help="A cheaper model to route to.")
    ] = None,
    batch_share: Annotated[
        str | None,
        typer.Option(
            "--batch-share", metavar="<0-1|N%>", help="Share of calls that can wait for the Batch API (0-1)."
        ),
    ] = None,
    cache_hit_rate: Annotated[
        str | None,
        typer.Option(
            "--cache-hit-rate", metavar="<0-1|N%>", help="Share of calls that read the cached prefix (0-1)."
        ),
    ] = None,
    gap_seconds: Annotated[
        float | None,
        typer.Option("--gap-seconds", help="Typical seconds between calls (derives TTL and hit rate)."),
    ] = None,
    target_output_tokens: Annotated[
        int | None, typer.Option("--target-output-tokens", help="Output tokens per call after tightening.")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", metavar="<date>", help="Price at the rates in force on this date.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (daily figures).")] = False,
    prices: Annotated[
        list[Path] | None,
        typer.Option("--prices", metavar="<file>", help="A price file overriding the bundled catalogue."),
    ] = None,
) -> None:
    """Cost a steady workload today and after routing, batching, caching and shorter outputs."""
    catalogue = catalogue_for(prices)
    for flag, value in (
        ("--calls-per-day", calls_per_day),
        ("--static-tokens", static_tokens),
        ("--dynamic-tokens", dynamic_tokens),
        ("--output-tokens", output_tokens),
        ("--target-output-tokens", target_output_tokens),
    ):
        if value is not None and abs(value) > 10**_MAX_DIGITS:  # 300 digits would overflow Decimal
            raise UsageError(
                f"{flag} is out of range: {len(str(abs(value)))} digits, at most {_MAX_DIGITS} allowed"
            )
    workload = Workload(
        calls_per_day=calls_per_day,
        static_tokens=static_tokens,
        dynamic_tokens=dynamic_tokens,
        output_tokens=output_tokens,
        model=catalogue.resolve(model),
        target_model=catalogue.resolve(target_model) if target_model else None,
        batch_share=_fraction(batch_share, "--batch-share") or Decimal(0),
        cache_hit_rate=_fraction(cache_hit_rate, "--cache-hit-rate"),
        gap_seconds=gap_seconds,
        target_output_tokens=target_output_tokens,
        at=parse_date(at),
    )
    result = estimate_workload(workload)
    if as_json:
        print_json(result.to_json())
    else:
        render(result)
