"""``clawback cost``: the exact cost of one call, from a usage object or token counts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clawback.cli._common import catalogue_for, console, err_console, parse_date, plain, print_json
from clawback.errors import UsageError
from clawback.pricing.cost import CostBreakdown, Usage, format_usd, parse_usage, price_usage
from clawback.pricing.lifecycle import lifecycle_notes
from clawback.safe_input import bounded_int, loads, read_input

_USAGE_KEYS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cache_creation",
        "server_tool_use",
        "output_tokens_details",
    }
)


def _load_usage(text: str) -> tuple[Any, str | None]:
    """The usage mapping (and the model, if a whole response was given) from JSON or a file."""
    if text != "-" and text.lstrip().startswith(("{", "[")):
        data = loads(text, "--usage")
    else:
        data = loads(read_input(text, f"usage file {text}"), f"usage file {text}")
    model: str | None = None
    if isinstance(data, dict) and "usage" in data:
        if not isinstance(data["usage"], dict):
            raise UsageError(f"--usage: 'usage' must be a JSON object, got {type(data['usage']).__name__}")
        model = data.get("model") if isinstance(data.get("model"), str) else None
        data = data["usage"]
    if not isinstance(data, dict):
        raise UsageError(f"--usage must be a JSON object, got {type(data).__name__}")
    if not _USAGE_KEYS & data.keys():
        raise UsageError(
            "--usage holds no token counts (input_tokens, output_tokens, cache_read_input_tokens, "
            "cache_creation_input_tokens): nothing to price"
        )
    return data, model


def _counts(**counts: int | None) -> Usage:
    for name, value in counts.items():
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a non-negative integer, got {value}")
        if value is not None:  # a count past 10^15 tokens is a typo, and past 28 digits Decimal rounds
            bounded_int(value, f"--{name.replace('_', '-')}")
    return Usage(
        input_tokens=counts["input"] or 0,
        output_tokens=counts["output"] or 0,
        cache_read_input_tokens=counts["cache_read"] or 0,
        cache_write_5m_input_tokens=counts["cache_write_5m"] or 0,
        cache_write_1h_input_tokens=counts["cache_write_1h"] or 0,
    )


def _table(b: CostBreakdown) -> Table:
    u = b.usage
    table = Table(title=f"{plain(b.model)} — rates from {b.rates_effective_from}", title_justify="left")
    table.add_column("token kind")
    table.add_column("tokens", justify="right")
    table.add_column("USD", justify="right")
    for label, tokens, amount in [
        ("uncached input", u.input_tokens, b.uncached_input),
        ("cache writes, 5 minutes", u.cache_write_5m_input_tokens, b.cache_write_5m),
        ("cache writes, 1 hour", u.cache_write_1h_input_tokens, b.cache_write_1h),
        ("cache reads", u.cache_read_input_tokens, b.cache_read),
        (
            "output" + (f" (incl. {u.thinking_tokens:,} thinking)" if u.thinking_tokens else ""),
            u.output_tokens,
            b.output,
        ),
    ]:
        table.add_row(label, f"{tokens:,}", format_usd(amount))
    if u.web_search_requests:
        table.add_row("web searches", f"{u.web_search_requests:,}", format_usd(b.web_search))
    table.add_section()
    if b.modifiers:
        table.add_row("[dim]at standard rates[/dim]", "", f"[dim]{format_usd(b.base_total)}[/dim]")
        for m in b.modifiers:
            table.add_row(
                f"[dim]{plain(m.name)}: {plain(m.detail)}[/dim]", "", f"[dim]{format_usd(m.delta)}[/dim]"
            )
    table.add_row(
        "[bold]total[/bold]", f"{u.prompt_tokens + u.output_tokens:,}", f"[bold]{format_usd(b.total)}[/bold]"
    )
    return table


def cost(
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="<model>", help="Model id or alias.")
    ] = None,
    usage: Annotated[
        str | None,
        typer.Option(
            "--usage",
            metavar="<file|json|->",
            help="A usage object (or whole response) as JSON, a file, or - for stdin.",
        ),
    ] = None,
    input_tokens: Annotated[int | None, typer.Option("--input", help="Uncached input tokens.")] = None,
    output_tokens: Annotated[
        int | None, typer.Option("--output", help="Output tokens (thinking included).")
    ] = None,
    cache_read: Annotated[int | None, typer.Option("--cache-read", help="Cache read tokens.")] = None,
    cache_write_5m: Annotated[
        int | None, typer.Option("--cache-write-5m", help="5-minute cache write tokens.")
    ] = None,
    cache_write_1h: Annotated[
        int | None, typer.Option("--cache-write-1h", help="1-hour cache write tokens.")
    ] = None,
    batch: Annotated[
        bool, typer.Option("--batch", help="Priced through the Message Batches API (50% off).")
    ] = False,
    geo: Annotated[
        str | None,
        typer.Option("--geo", metavar="<us|global>", help="inference_geo; 'us' costs 1.1x on Claude 4.6+."),
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Fast mode (where the model offers it).")] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="<date>", help="Price at the rates in force on this date (YYYY-MM-DD)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    prices: Annotated[
        list[Path] | None,
        typer.Option("--prices", metavar="<file>", help="A price file overriding the bundled catalogue."),
    ] = None,
) -> None:
    """Price one call exactly, by token kind, at the rates in force on its date."""
    counts_given = any(
        v is not None for v in (input_tokens, output_tokens, cache_read, cache_write_5m, cache_write_1h)
    )
    if usage is not None and counts_given:
        raise UsageError("give either --usage or token counts (--input/--output/...), not both")
    if usage is None and not counts_given:
        raise UsageError("give --usage FILE_OR_JSON or token counts such as --input N --output N")
    if geo is not None and geo not in ("us", "global"):
        raise UsageError(f"--geo must be 'us' or 'global', got {geo!r}")
    when = parse_date(at)
    if usage is not None:
        raw, response_model = _load_usage(usage)
        parsed = parse_usage(raw)
        model = model or response_model
    else:
        parsed = _counts(
            input=input_tokens,
            output=output_tokens,
            cache_read=cache_read,
            cache_write_5m=cache_write_5m,
            cache_write_1h=cache_write_1h,
        )
    if model is None:
        raise UsageError("--model is required (the usage given names no model)")
    info = catalogue_for(prices).resolve(model)
    breakdown = price_usage(
        parsed, info, at=when, batch=True if batch else None, inference_geo=geo, fast=True if fast else None
    )
    notes = lifecycle_notes(info, when)
    if as_json:
        print_json(
            {
                "model": info.id,
                "total_usd": format_usd(breakdown.total),
                "breakdown": breakdown.to_json(),
                "usage": parsed.to_api(),
                "warnings": notes,
            }
        )
        return
    console().print(_table(breakdown))
    for note in notes:
        err_console().print(f"[yellow]note:[/yellow] {plain(note)}", soft_wrap=True)
