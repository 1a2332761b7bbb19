"""Running an audit: read every input, load and price it in DuckDB, evaluate, recommend.

:func:`run_audit` is the one entry point (the CLI and ``make demo`` call it). Collaborators come in
as arguments: the catalogue, the rules, a :class:`Progress` to report to, and the caching replay
(:func:`clawback.audit.caching.replay_caching` by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from clawback.audit.evaluate import evaluate
from clawback.audit.evaluation import Key, Route
from clawback.audit.loading import LoadOptions, Progress, Silent, load_inputs, nothing_read
from clawback.audit.queries import spend as spend_query
from clawback.audit.recommend import recommend
from clawback.audit.records import IssueLog
from clawback.audit.results import NO_REQUEST_DATA, CachingReport
from clawback.audit.rules import AuditRules
from clawback.audit.scenarios import CACHE_SIM_DDL
from clawback.audit.simulate import monthly_factor
from clawback.audit.store import AuditStore
from clawback.audit.summary import AuditSummary, TemplateInfo
from clawback.audit.techniques import build_techniques
from clawback.audit.usage_views import usage_views
from clawback.errors import UsageError
from clawback.pricing.catalogue import Catalogue

__all__ = ["AuditOptions", "Progress", "run_audit"]


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """What the audit reads and how."""

    format: str = "auto"
    since: datetime | None = None
    until: datetime | None = None
    trace_model: str | None = None
    trace_start: datetime | None = None
    rules: AuditRules = field(default_factory=AuditRules)
    workdir: Path | None = None
    memory_limit: str | None = None
    threads: int | None = None
    logged_on: datetime | None = None
    pattern: str | None = None
    fast: bool = True

    def load_options(self) -> LoadOptions:
        """The part that says how inputs are read."""
        return LoadOptions(
            format=self.format,
            since=self.since,
            until=self.until,
            trace_model=self.trace_model,
            trace_start=self.trace_start,
            logged_on=self.logged_on,
            pattern=self.pattern,
            fast=self.fast,
        )


CachingRunner = Callable[[AuditStore, Catalogue, Mapping[Key, Route], Progress], CachingReport]


def _warnings(
    catalogue: Catalogue, summary_models: Sequence[str], last: datetime | None, today: date | None = None
) -> list[str]:
    """Models in use that are retired or deprecated, judged today (or at the last call, if later)."""
    out = []
    when = max((last or datetime.now(UTC)).date(), today or datetime.now(UTC).date())
    for model in summary_models:
        info = catalogue.get(model)
        if info is None or info.retirement is None:
            continue
        if info.unavailable_on(when):
            out.append(
                f"{info.id} was retired on {info.retirement}: the Claude API no longer serves it; move its calls"
            )
        elif info.status_on(when) == "deprecated" or info.status == "deprecated":
            out.append(f"{info.id} is deprecated and retires on {info.retirement}; plan the move")
    return out


def _replay(
    runner: CachingRunner | None,
    shaped: bool,
    store: AuditStore,
    catalogue: Catalogue,
    routes: Mapping[Key, Route],
    progress: Progress,
) -> CachingReport:
    """The caching replay (``runner``, else :func:`clawback.audit.caching.replay_caching`); without calls
    carrying request data, the report that says so, without importing the replay at all."""
    if not shaped:
        store.con.execute(CACHE_SIM_DDL)
        return CachingReport(available=False, reasons=(NO_REQUEST_DATA,))
    if runner is None:
        from clawback.audit.caching import replay_caching

        runner = replay_caching
    return runner(store, catalogue, routes, progress)


def run_audit(
    paths: Sequence[str],
    catalogue: Catalogue,
    options: AuditOptions | None = None,
    *,
    progress: Progress | None = None,
    caching: CachingRunner | None = None,
) -> AuditSummary:
    """Audit ``paths``: spend by task, model, day and token kind, savings per technique, recommendations."""
    options = options or AuditOptions()
    if not paths:
        raise UsageError("give at least one file to audit")
    progress = progress or Silent()
    issues = IssueLog()
    with AuditStore.open(
        catalogue, workdir=options.workdir, memory_limit=options.memory_limit, threads=options.threads
    ) as store:
        progress.stage("reading")
        inputs = load_inputs(store, paths, catalogue, options.load_options(), issues, progress)
        if store.count() == 0:
            raise nothing_read(inputs, issues)
        progress.stage("pricing")
        store.prepare()
        spend = spend_query(store.con)
        templates = store.templates()
        generated = datetime.now(UTC)
        names = [i.path for i in inputs]
        usage = usage_views(store.con, sources=names, now=generated)
        progress.stage("simulating")
        shaped = store.has_shapes()
        ev = evaluate(
            store.con,
            catalogue,
            options.rules,
            lambda routes: _replay(caching, shaped, store, catalogue, routes, progress),
        )
    techniques, saving = build_techniques(ev, options.rules)
    window = (spend.last - spend.first).total_seconds() if spend.first and spend.last else 0.0
    monthly = monthly_factor(window)
    recs = recommend(techniques, ev, monthly, ev.caching.advice)
    return AuditSummary(
        inputs=tuple(inputs),
        spend=spend,
        techniques=techniques,
        stacked_saving=saving,
        recommendations=recs,
        monthly_factor=monthly,
        caching=ev.caching,
        issues=issues.to_json(),
        warnings=tuple(_warnings(catalogue, [r.key for r in spend.by_model], spend.last)),
        generated=generated,
        usage=usage,
        templates={
            name: TemplateInfo(preview, f"{names[src]}:{line}" if src < len(names) else None)
            for name, (preview, src, line) in templates.items()
        },
    )
