"""``clawback audit``: where the money went in API logs, and what each technique would save.

With no paths it audits Claude Code's own logs (see :mod:`clawback.cli._logs`). Everything a log
supplies — task and model labels, file names, reasons — is printed through
:func:`~clawback.cli._common.plain`, so markup or terminal escapes in a log are shown, not obeyed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clawback.cli._common import catalogue_for, console, plain, print_json
from clawback.cli._logs import FORMATS_HELP, Bar, parse_when, resolve_logs
from clawback.errors import InputFileError, UsageError
from clawback.pricing.catalogue import Catalogue
from clawback.safe_input import bounded_decimal, check_year

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from clawback.audit.rules import AuditRules
    from clawback.audit.summary import AuditSummary

_TASKS_SHOWN = 15


def _money(value: Decimal) -> str:
    from clawback.audit.results import money

    return money(value)


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def headline(summary: AuditSummary) -> str:
    """The spend in the audited window, then the monthly projection with its factor (plain text)."""
    s = summary.spend
    what = f"{s.calls:,} calls" if s.calls else ""
    if s.buckets:
        what += (", " if what else "") + f"{s.buckets:,} report buckets"
    if not (s.first and s.last):
        return f"{what}: {_money(s.total)}"
    window = f"{s.first:%Y-%m-%d %H:%M} → {s.last:%Y-%m-%d %H:%M} UTC"
    return (
        f"{what}, {window}: {_money(s.total)} spent in this window; "
        f"{_money(summary.monthly_spend)} a month at this rate (×{summary.monthly_factor:.2f} for 30 days)"
    )


def _spend(out: Console, summary: AuditSummary) -> None:
    from clawback.audit.results import KIND_LABELS

    s = summary.spend
    out.print(f"[bold]{plain(headline(summary))}[/bold]")
    # aggregated reports hold buckets, not calls: show what the input has
    show_calls, show_buckets = bool(s.calls or not s.buckets), bool(s.buckets)
    counts = [("calls", "right")] * show_calls + [("report buckets", "right")] * show_buckets
    for key, label, rows in (
        ("model", "by model", s.by_model),
        ("task", "by task", s.by_task[:_TASKS_SHOWN]),
    ):
        table = _table(f"Spend {label}", [(key, "left"), *counts, ("cost", "right"), ("share", "right")])
        for row in rows:
            share = f"{row.usd / s.total:.0%}" if s.total else ""
            unpriced = f" [red]({row.unpriced_calls:,} unpriced)[/red]" if row.unpriced_calls else ""
            cost = "[red]unpriced[/red]" if row.unpriced else _money(row.usd)
            numbers = [f"{row.calls:,}"] * show_calls + [f"{row.buckets:,}"] * show_buckets
            name = plain(summary.task_label(row.key) if key == "task" else row.key)
            table.add_row(name + unpriced, *numbers, cost, "" if row.unpriced else share)
        if key == "task" and len(s.by_task) > _TASKS_SHOWN:
            more = len(s.by_task) - _TASKS_SHOWN
            table.add_row(f"[dim]… {more} more (see --json)[/dim]", *([""] * (len(counts) + 2)))
        out.print(table)
    kinds = _table("Spend by token kind", [("kind", "left"), ("cost", "right"), ("share", "right")])
    for kind, value in s.by_kind.items():
        if value:
            kinds.add_row(KIND_LABELS[kind], _money(value), f"{value / s.total:.0%}" if s.total else "")
    out.print(kinds)
    if s.unpriced:
        count = "calls or buckets" if s.buckets else "calls"
        table = _table("Unpriced (never counted as $0)", [("model", "left"), ("why", "left"), (count, "right"),
                        ("input tokens", "right"), ("output tokens", "right")])  # fmt: skip
        for u in s.unpriced:
            table.add_row(
                plain(u.model), plain(u.reason), f"{u.calls:,}", f"{u.input_tokens:,}", f"{u.output_tokens:,}"
            )
        out.print(table)


def _savings(out: Console, summary: AuditSummary) -> None:
    monthly = summary.monthly_factor
    table = _table("What each technique saves (audited window; stacked in this order)",
                   [("technique", "left"), ("alone", "right"), ("stacked", "right"), ("per month", "right")])  # fmt: skip
    for t in summary.techniques:
        mark = "" if t.applies else " [dim](n/a)[/dim]"
        table.add_row(plain(t.title) + mark, _money(t.alone), _money(t.stacked), _money(t.stacked * monthly))
    table.add_section()
    total = summary.spend.total
    pct = f" (-{summary.stacked_saving / total:.1%})" if total else ""
    label = f"[bold]all stacked[/bold] (the calls would cost {_money(summary.stacked_total)})"
    table.add_row(label, "", f"[bold]{_money(summary.stacked_saving)}[/bold]",
                  f"[bold]{_money(summary.stacked_saving * monthly)}[/bold]{pct}")  # fmt: skip
    out.print(table)
    for t in summary.techniques:
        for reason in t.reasons:
            out.print(f"[yellow]{plain(t.name)}: {plain(reason)}[/yellow]")
    if summary.policies:
        policies = _table("Caching policies (replay of the calls with request data)",
                          [("policy", "left"), ("cost", "right"), ("hit rate", "right"), ("calls", "right"),
                           ("note", "left")])  # fmt: skip
        logged = summary.caching.logged
        rows = ([logged] if logged is not None else []) + list(summary.policies.values())
        for p in rows:
            name = f"[dim]{plain(p.policy)}[/dim]" if p is logged else plain(p.policy)
            note = "; ".join(p.notes) or ("today: the calls as logged" if p is logged else "")
            policies.add_row(name, _money(p.cost), f"{p.hit_rate:.1%}", f"{p.calls:,}", plain(note))
        out.print(policies)


def _recommendations(out: Console, summary: AuditSummary) -> None:
    if not summary.recommendations:
        out.print(plain(summary.no_recommendation()))
        return
    table = _table("Recommendations, biggest monthly saving first",
                   [("#", "right"), ("task", "left"), ("change", "left"), ("effort", "left"), ("per month", "right")])  # fmt: skip
    for i, r in enumerate(summary.recommendations[:10], 1):
        change = f"{plain(r.change)}\n[dim]{plain(r.why)}[/dim]"
        table.add_row(
            str(i), plain(summary.task_label(r.task)), change, plain(r.effort), _money(r.monthly_saving)
        )
    out.print(table)
    out.print(
        f"[dim]Monthly figures scale the audited window to 30 days (×{summary.monthly_factor:.2f}).[/dim]"
    )


def _issues(out: Console, summary: AuditSummary, show: int) -> None:
    issues = summary.issues
    for note in issues.get("notes", []):
        out.print(f"[dim]note: {plain(note)}[/dim]")
    for warning in summary.warnings:
        out.print(f"[yellow]warning: {plain(warning)}[/yellow]")
    files = issues.get("files_skipped", [])
    if files:
        listed = "; ".join(f"{f['path']}: {f['reason']}" for f in files[:show])
        more = f"; … and {len(files) - show:,} more" if len(files) > show else ""
        out.print(
            f"[yellow]{len(files):,} file{'s' if len(files) > 1 else ''} not read:[/yellow] {plain(listed + more)}"
        )
    skipped = issues.get("skipped", {})
    if skipped:
        out.print(
            "[dim]skipped: "
            + plain("; ".join(f"{n:,} × {reason}" for reason, n in skipped.items()))
            + "[/dim]"
        )
    count = issues.get("malformed", 0)
    if count:
        lines = "1 malformed line was" if count == 1 else f"{count:,} malformed lines were"
        out.print(f"[yellow]{lines} counted and skipped:[/yellow]")
        for item in issues.get("malformed_shown", [])[:show]:
            place = f"{item['source']}:{item['line']}" if item["line"] is not None else item["source"]
            where = f" ({item['where']})" if item.get("where") else ""
            out.print(f"  {plain(place + where)}: {plain(item['reason'])}")
        if count > show:
            out.print(f"  … and {count - show:,} more (all counted; the first 200 are in --json)")


def audit(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files, folders (read recursively), a ledger path or URL; none: Claude Code's own logs."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"Input format: {FORMATS_HELP}.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as JSON.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Audit rules (TOML): routes, latency-tolerant tasks, caps.")
    ] = None,
    routing_config: Annotated[
        Path | None,
        typer.Option("--routing-config", help="A routing config whose 'switch' verdicts clear routes."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Model to serve a trace on (traces name none; CSV rows without a model)."
        ),
    ] = None,
    trace_start: Annotated[
        str | None,
        typer.Option(
            "--trace-start", help="When a trace starts (default: today 00:00 UTC; a CSV keeps its own times)."
        ),
    ] = None,
    logged_on: Annotated[
        str | None,
        typer.Option("--logged-on", help="The date (or time) of logged responses that carry no timestamp."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only calls at or after this date/time (UTC).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Only calls up to and including this UTC day (or before this time)."),
    ] = None,
    prices: Annotated[
        list[Path] | None, typer.Option("--prices", help="A price file overriding the bundled catalogue.")
    ] = None,
    keepalive_cap: Annotated[
        str, typer.Option("--keepalive-cap", help="USD the replayed planner may spend on keep-alive pings.")
    ] = "5.00",
    memory_limit: Annotated[
        str | None, typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 2GB.")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Folder for the temporary audit database.")
    ] = None,
    show_malformed: Annotated[int, typer.Option("--show-malformed", help="Malformed lines to list.")] = 10,
) -> None:
    """Audit API logs: spend by task, model, day and token kind, and what each technique would save."""
    from clawback.audit.engine import AuditOptions, run_audit

    catalogue = catalogue_for(prices)
    if model is not None:
        catalogue.resolve(model)
    try:
        cap = bounded_decimal(keepalive_cap, "--keepalive-cap", minimum=Decimal(0), max_digits=20)
    except InputFileError:
        raise UsageError(
            f"--keepalive-cap must be a dollar amount (0 or more), got {keepalive_cap[:40]!r}"
        ) from None
    logs = resolve_logs(paths, fmt)
    options = AuditOptions(
        format=logs.format,
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until", end=True),
        trace_model=model,
        trace_start=_dated(trace_start, "--trace-start"),
        logged_on=_dated(logged_on, "--logged-on"),
        rules=_rules(rules, routing_config, catalogue),
        workdir=workdir,
        memory_limit=memory_limit,
        pattern=logs.pattern,
    )
    if report is not None:
        _check_report_path(report)
    with Bar() as bar:
        summary = run_audit(logs.paths, catalogue, options, progress=bar, caching=_replay_with(cap))
    if report is not None:
        _write_report(summary, report)
    if as_json:
        print_json(summary.to_json())
        return
    out = console()
    _spend(out, summary)
    _savings(out, summary)
    _recommendations(out, summary)
    _issues(out, summary, show_malformed)
    if report is not None:
        out.print(f"report: {plain(report)}")


def _replay_with(cap: Decimal) -> Any:
    """The caching replay with the keep-alive cap (imported only when some call has request data)."""

    def replay(store: Any, catalogue: Catalogue, routes: Any, progress: Any) -> Any:
        from clawback.audit.caching import replay_caching

        return replay_caching(store, catalogue, routes, progress, keepalive_cap=cap)

    return replay


def _dated(text: str | None, flag: str) -> Any:
    """A date flag within the years the audit accepts."""
    when = parse_when(text, flag)
    if when is not None:
        try:
            check_year(when, flag)
        except InputFileError as exc:
            raise UsageError(str(exc)) from None
    return when


def _rules(rules: Path | None, routing_config: Path | None, catalogue: Catalogue) -> AuditRules:
    """The rules file's rules plus the routing config's verdicts, every route's model checked."""
    from clawback.audit.rules import AuditRules, load_rules, routing_verdicts

    audit_rules = load_rules(rules) if rules else AuditRules()
    if routing_config:
        verdicts = routing_verdicts(routing_config)
        audit_rules = audit_rules.with_routes(verdicts, f"routing config {routing_config.name}")
    for task, rule in audit_rules.tasks.items():
        if rule.route_to:
            try:
                catalogue.resolve(rule.route_to)
            except UsageError as exc:
                raise UsageError(f"rules: task {task!r}: {exc}") from exc
    return audit_rules


def _check_report_path(report: Path) -> None:
    """Fail before a long audit, not after it, when the report can't be written where asked."""
    if report.is_dir():
        raise InputFileError(f"cannot write report {report}: it is a directory")
    folder = report.parent
    if not folder.is_dir():
        raise InputFileError(f"cannot write report {report}: no such directory {folder}")


def _write_report(summary: AuditSummary, report: Path) -> None:
    from clawback.audit.report import render_report

    try:
        report.write_text(render_report(summary), "utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot write report {report}: {exc.strerror or exc}") from exc
