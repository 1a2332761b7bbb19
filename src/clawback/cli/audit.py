"""``clawback audit``: where the money went in API logs, and what each technique would save."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from clawback.cli._common import catalogue_for, console, err_console, print_json
from clawback.errors import InputFileError, UsageError
from clawback.pricing.catalogue import Catalogue

if TYPE_CHECKING:
    from clawback.audit.rules import AuditRules
    from clawback.audit.summary import AuditSummary

_FORMATS = "auto, ledger, jsonl, claude-code, admin-usage, admin-cost, trace, token-csv"


def _money(value: Decimal) -> str:
    from clawback.audit.results import money

    return money(value)


def _when(text: str | None, flag: str, *, end: bool = False) -> datetime | None:
    """A date or datetime flag as an aware UTC datetime (a bare date means that day's midnight)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} must be a date YYYY-MM-DD or an ISO 8601 time, got {text!r}") from exc
    if len(text) == 10 and end:
        value = datetime.combine(value.date(), time())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Bar:
    """A progress bar on standard error, shown only on a terminal."""

    def __init__(self, out: Console, total_bytes: int | None) -> None:
        self.enabled = out.is_terminal
        self.records = 0
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[records]:,} records"),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        )
        self.task = self.progress.add_task("reading", total=total_bytes, records=0)

    def __enter__(self) -> _Bar:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def stage(self, text: str) -> None:
        self.progress.update(self.task, description=text)

    def advance(self, records: int) -> None:
        self.records += records
        self.progress.update(self.task, records=self.records)

    def read_bytes(self, count: int) -> None:
        self.progress.advance(self.task, count)


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def _spend(out: Console, summary: Any) -> None:
    from clawback.audit.results import KIND_LABELS

    s = summary.spend
    what = f"{s.calls:,} calls" if s.calls else ""
    if s.buckets:
        what += (", " if what else "") + f"{s.buckets:,} report buckets"
    window = f"{s.first:%Y-%m-%d %H:%M} → {s.last:%Y-%m-%d %H:%M} UTC" if s.first and s.last else "no calls"
    out.print(f"[bold]{what}[/bold], {window}: [bold]{_money(s.total)}[/bold]")
    # aggregated reports hold buckets, not calls: show what the input has
    show_calls, show_buckets = bool(s.calls or not s.buckets), bool(s.buckets)
    counts = [("calls", "right")] * show_calls + [("report buckets", "right")] * show_buckets
    for key, label, rows in (("model", "by model", s.by_model), ("task", "by task", s.by_task[:15])):
        table = _table(f"Spend {label}", [(key, "left"), *counts, ("cost", "right"), ("share", "right")])
        for row in rows:
            share = f"{row.usd / s.total:.0%}" if s.total else ""
            unpriced = f" [red]({row.unpriced_calls:,} unpriced)[/red]" if row.unpriced_calls else ""
            cost = "[red]unpriced[/red]" if row.unpriced else _money(row.usd)
            numbers = [f"{row.calls:,}"] * show_calls + [f"{row.buckets:,}"] * show_buckets
            table.add_row(row.key + unpriced, *numbers, cost, "" if row.unpriced else share)
        if key == "task" and len(s.by_task) > 15:
            table.add_row(
                f"[dim]… {len(s.by_task) - 15} more (see --json)[/dim]", *([""] * (len(counts) + 2))
            )
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
            table.add_row(u.model, u.reason, f"{u.calls:,}", f"{u.input_tokens:,}", f"{u.output_tokens:,}")
        out.print(table)


def _savings(out: Console, summary: Any) -> None:
    monthly = summary.monthly_factor
    table = _table("What each technique saves (audited window; stacked in this order)",
                   [("technique", "left"), ("alone", "right"), ("stacked", "right"), ("per month", "right")])  # fmt: skip
    for t in summary.techniques:
        mark = "" if t.applies else " [dim](n/a)[/dim]"
        table.add_row(t.title + mark, _money(t.alone), _money(t.stacked), _money(t.stacked * monthly))
    table.add_section()
    total = summary.spend.total
    pct = f" (-{summary.stacked_saving / total:.1%})" if total else ""
    label = f"[bold]all stacked[/bold] (the calls would cost {_money(summary.stacked_total)})"
    table.add_row(label, "", f"[bold]{_money(summary.stacked_saving)}[/bold]",
                  f"[bold]{_money(summary.stacked_saving * monthly)}[/bold]{pct}")  # fmt: skip
    out.print(table)
    for t in summary.techniques:
        for reason in t.reasons:
            out.print(f"[yellow]{t.name}: {reason}[/yellow]")
    if summary.policies:
        policies = _table("Caching policies (replay of the calls with request data)",
                          [("policy", "left"), ("cost", "right"), ("hit rate", "right"), ("calls", "right"),
                           ("note", "left")])  # fmt: skip
        logged = summary.caching.logged
        rows = ([logged] if logged is not None else []) + list(summary.policies.values())
        for p in rows:
            name = f"[dim]{p.policy}[/dim]" if p is logged else p.policy
            note = "; ".join(p.notes) or ("today: the calls as logged" if p is logged else "")
            policies.add_row(name, _money(p.cost), f"{p.hit_rate:.1%}", f"{p.calls:,}", note)
        out.print(policies)


def _recommendations(out: Console, summary: Any) -> None:
    if not summary.recommendations:
        out.print("No change saves money on these calls.")
        return
    table = _table("Recommendations, biggest monthly saving first",
                   [("#", "right"), ("task", "left"), ("change", "left"), ("effort", "left"), ("per month", "right")])  # fmt: skip
    for i, r in enumerate(summary.recommendations[:10], 1):
        table.add_row(str(i), r.task, f"{r.change}\n[dim]{r.why}[/dim]", r.effort, _money(r.monthly_saving))
    out.print(table)
    out.print(
        f"[dim]Monthly figures scale the audited window to 30 days (x{summary.monthly_factor:.2f}).[/dim]"
    )


def _issues(out: Console, summary: Any, show: int) -> None:
    issues = summary.issues
    for note in issues.get("notes", []):
        out.print(f"[dim]note: {note}[/dim]")
    for warning in summary.warnings:
        out.print(f"[yellow]warning: {warning}[/yellow]")
    skipped = issues.get("skipped", {})
    if skipped:
        out.print(
            "[dim]skipped: " + "; ".join(f"{n:,} × {reason}" for reason, n in skipped.items()) + "[/dim]"
        )
    count = issues.get("malformed", 0)
    if count:
        lines = "1 malformed line was" if count == 1 else f"{count:,} malformed lines were"
        out.print(f"[yellow]{lines} counted and skipped:[/yellow]")
        for item in issues.get("malformed_shown", [])[:show]:
            place = f"{item['source']}:{item['line']}" if item["line"] is not None else item["source"]
            where = f" ({item['where']})" if item.get("where") else ""
            out.print(f"  {place}{where}: {item['reason']}")
        if count > show:
            out.print(f"  … and {count - show:,} more (all counted; the first 200 are in --json)")


def audit(
    paths: Annotated[
        list[str], typer.Argument(help="Log files, transcripts, reports or traces; a ledger path or URL.")
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"Input format: {_FORMATS}.")] = "auto",
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
    since: Annotated[
        str | None, typer.Option("--since", help="Only calls at or after this date/time (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only calls before this date/time (UTC).")
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
    from clawback.audit.caching import replay_caching
    from clawback.audit.engine import AuditOptions, run_audit

    catalogue = catalogue_for(prices)
    if model is not None:
        catalogue.resolve(model)
    try:
        cap = Decimal(keepalive_cap)
    except InvalidOperation as exc:
        raise UsageError(f"--keepalive-cap must be a dollar amount, got {keepalive_cap!r}") from exc
    options = AuditOptions(
        format=fmt,
        since=_when(since, "--since"),
        until=_when(until, "--until", end=True),
        trace_model=model,
        trace_start=_when(trace_start, "--trace-start"),
        rules=_rules(rules, routing_config, catalogue),
        workdir=workdir,
        memory_limit=memory_limit,
    )
    if report is not None:
        _check_report_path(report)
    with _Bar(err_console(), _input_bytes(paths, fmt)) as bar:
        summary = run_audit(
            paths, catalogue, options, progress=bar,
            caching=lambda store, cat, routes, prog: replay_caching(store, cat, routes, prog, keepalive_cap=cap),
        )  # fmt: skip
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
        out.print(f"report: {report}")


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


def _input_bytes(paths: list[str], fmt: str) -> int | None:
    """Bytes the readers will stream (for the progress bar); None when an input is a database."""
    for raw in paths:
        if not raw.startswith(("postgresql://", "postgres://")) and not Path(raw).exists():
            raise InputFileError(f"cannot read {raw}: no such file")
    if fmt == "ledger" or any(p.startswith(("postgresql://", "postgres://")) for p in paths):
        return None
    return sum(Path(p).stat().st_size for p in paths if Path(p).is_file()) or None


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
