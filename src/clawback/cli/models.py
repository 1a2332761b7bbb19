"""``clawback models``: the price catalogue, with deprecated and retired models flagged."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from clawback.cli._common import catalogue_for, console, parse_date, plain, print_json
from clawback.errors import UsageError
from clawback.pricing.catalogue import ModelInfo
from clawback.pricing.cost import format_usd

_STATUS_STYLE = {
    "active": "green",
    "limited": "cyan",
    "legacy": "yellow",
    "deprecated": "bold yellow",
    "retired": "red",
}


def _row_json(info: ModelInfo, when: date) -> dict[str, Any]:
    rates = info.rates_at(when)
    tier = info.prompt_tier_at(when)
    return {
        "id": info.id,
        "display_name": info.display_name,
        "aliases": list(info.aliases),
        "status": info.status_on(when),
        "status_note": info.status_note,
        "released": info.released.isoformat() if info.released else None,
        "deprecated": info.deprecated.isoformat() if info.deprecated else None,
        "retired": info.retired.isoformat() if info.retired else None,
        "retires": info.retires.isoformat() if info.retires else None,
        "rates_effective_from": rates.effective_from.isoformat(),
        "input_usd_per_mtok": format_usd(rates.input),
        "output_usd_per_mtok": format_usd(rates.output),
        "cache_write_5m_usd_per_mtok": format_usd(rates.cache_write_5m),
        "cache_write_1h_usd_per_mtok": format_usd(rates.cache_write_1h),
        "cache_read_usd_per_mtok": format_usd(rates.cache_read),
        "batch_input_usd_per_mtok": format_usd(rates.batch_input),
        "batch_output_usd_per_mtok": format_usd(rates.batch_output),
        "rate_history": [
            {
                "effective_from": r.effective_from.isoformat(),
                "cache_read_usd_per_mtok": format_usd(r.cache_read),
                "input_usd_per_mtok": format_usd(r.input),
                "output_usd_per_mtok": format_usd(r.output),
            }
            for r in info.rates
        ],
        "prompt_tier": None
        if tier is None
        else {
            "threshold_prompt_tokens": tier.threshold_prompt_tokens,
            "ends": tier.ends.isoformat() if tier.ends else None,
            "input_usd_per_mtok": format_usd(tier.rates.input),
            "output_usd_per_mtok": format_usd(tier.rates.output),
            "cache_write_5m_usd_per_mtok": format_usd(tier.rates.cache_write_5m),
            "cache_write_1h_usd_per_mtok": format_usd(tier.rates.cache_write_1h),
            "cache_read_usd_per_mtok": format_usd(tier.rates.cache_read),
            "batch_input_usd_per_mtok": format_usd(tier.rates.batch_input),
            "batch_output_usd_per_mtok": format_usd(tier.rates.batch_output),
        },
        "fast_mode": None
        if info.fast_mode is None
        else {
            "input_usd_per_mtok": format_usd(info.fast_mode.input),
            "output_usd_per_mtok": format_usd(info.fast_mode.output),
        },
        "min_cacheable_tokens": info.min_cacheable_tokens,
        "context_window": info.context_window,
        "max_output": info.max_output,
        "tokenizer": info.tokenizer,
        "inference_geo_us": info.inference_geo_us,
        "assumed": list(info.assumed),
        "source": info.source,
    }


def _unreleased(info: ModelInfo, when: date) -> bool:
    return info.released is not None and when < info.released


def _lifecycle(info: ModelInfo, when: date) -> str:
    """The retirement date, in the tense that fits ``when`` (deprecation dates are in --json)."""
    if _unreleased(info, when):
        return f"released {info.released}"
    if info.retirement is None:
        return ""
    return f"{'retired' if info.unavailable_on(when) else 'retires'} {info.retirement}"


def _short(tokens: int) -> str:
    return f"{tokens // 1_000_000}M" if tokens % 1_000_000 == 0 else f"{tokens // 1000}k"


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="<date>", help="Show the rates in force on this date (YYYY-MM-DD)."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only models with this status: active, limited, legacy, deprecated, retired."
        ),
    ] = None,
    prices: Annotated[
        list[Path] | None,
        typer.Option("--prices", metavar="<file>", help="A price file overriding the bundled catalogue."),
    ] = None,
) -> None:
    """List every model with its prices per million tokens, cache minimum and lifecycle."""
    when = parse_date(at) or date.today()
    catalogue = catalogue_for(prices)
    if status is not None and status not in _STATUS_STYLE:
        raise UsageError(f"--status must be one of {', '.join(_STATUS_STYLE)}, got {status!r}")
    rows = [m for m in catalogue.models if status is None or m.status_on(when) == status]
    if as_json:
        print_json({"at": when.isoformat(), "models": [_row_json(m, when) for m in rows]})
        return
    table = Table(
        title=f"Claude models — USD per million tokens, rates in force on {when}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("model", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in ("input", "output", "5m write", "1h write", "read", "batch", "min cache", "context"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("tokenizer", no_wrap=True)
    table.add_column("lifecycle", no_wrap=True)
    for info in rows:
        r = info.rates_at(when)
        state = info.status_on(when)
        style = _STATUS_STYLE[state]
        name = plain(info.id) + (" [dim]*[/dim]" if info.assumed else "")
        table.add_row(
            name,
            "[dim]unreleased[/dim]" if _unreleased(info, when) else f"[{style}]{state}[/{style}]",
            f"{r.input}",
            f"{r.output}",
            f"{r.cache_write_5m}",
            f"{r.cache_write_1h}",
            f"{r.cache_read}",
            f"{r.batch_input}/{r.batch_output}",
            f"{info.min_cacheable_tokens:,}",
            _short(info.context_window),
            plain(info.tokenizer),
            _lifecycle(info, when),
        )
    out = console()
    out.print(table)
    out.print(
        "[dim]* a value not confirmed on an official page; see `clawback models --json` (field 'assumed').[/dim]"
    )
    for m in rows:
        t = m.prompt_tier_at(when)
        if t is not None:
            until = f" (until {t.ends})" if t.ends else ""
            out.print(
                f"[dim]{plain(m.id)}: prompts over {t.threshold_prompt_tokens:,} tokens price the whole request at "
                f"${t.rates.input}/${t.rates.output} per MTok{until}.[/dim]"
            )
    fast = [m for m in rows if m.fast_mode is not None]
    if fast:
        rates = "; ".join(
            f"{plain(m.id)} ${m.fast_mode.input}/${m.fast_mode.output}" for m in fast if m.fast_mode
        )
        out.print(f"[dim]fast mode (not with batch; cache multipliers apply on top): {rates} per MTok.[/dim]")
