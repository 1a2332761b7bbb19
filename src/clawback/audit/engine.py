"""Running an audit: read every input, load and price it in DuckDB, evaluate, recommend.

:func:`run_audit` is the one entry point (the CLI and ``make demo`` call it). Collaborators come in
as arguments: the catalogue, the rules, a :class:`Progress` to report to, and the caching replay
(:func:`clawback.audit.caching.replay_caching` by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from clawback.audit.evaluate import evaluate
from clawback.audit.evaluation import Key, Route
from clawback.audit.queries import spend as spend_query
from clawback.audit.readers import ReadContext, detect_format, reader_for
from clawback.audit.readers.detect import FORMATS
from clawback.audit.recommend import recommend
from clawback.audit.records import AuditRecord, IssueLog
from clawback.audit.results import CachingReport
from clawback.audit.rules import AuditRules
from clawback.audit.simulate import monthly_factor
from clawback.audit.store import AuditStore
from clawback.audit.summary import AuditSummary, InputFile
from clawback.audit.techniques import build_techniques
from clawback.errors import InputFileError, UsageError
from clawback.pricing.catalogue import Catalogue

__all__ = ["AuditOptions", "Progress", "run_audit"]

EMPTY: Final = "empty"
OUTSIDE_WINDOW: Final = "outside --since/--until"
_EMPTY_PROBE: Final = 1 << 16


class Progress(Protocol):
    """Where a long audit reports how far it got."""

    def stage(self, text: str) -> None:
        """A new phase started (reading, pricing, simulating…)."""
        ...

    def advance(self, records: int) -> None:
        """``records`` more records were loaded."""
        ...

    def read_bytes(self, count: int) -> None:
        """``count`` more bytes of input were read."""
        ...


class _Silent:
    def stage(self, text: str) -> None:
        pass

    def advance(self, records: int) -> None:
        pass

    def read_bytes(self, count: int) -> None:
        pass


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


CachingRunner = Callable[[AuditStore, Catalogue, Mapping[Key, Route], Progress], CachingReport]


def _records(
    paths: Sequence[str],
    options: AuditOptions,
    catalogue: Catalogue,
    issues: IssueLog,
    inputs: list[InputFile],
    progress: Progress,
) -> Iterator[AuditRecord]:
    readers: dict[str, Any] = {}

    def tokenizer_of(model: str) -> str:
        info = catalogue.get(model)
        return info.tokenizer if info else "pre-4.7"

    def first_rates_of(model: str) -> date | None:
        info = catalogue.get(model)
        return info.rates[0].effective_from if info and info.rates else None

    for index, raw in enumerate(paths):
        path = Path(raw)
        url = raw.startswith(("postgresql://", "postgres://"))
        if not url and _is_empty(path):
            issues.note(f"{raw} is empty")
            inputs.append(InputFile(raw, EMPTY, 0))
            continue
        fmt = options.format
        if fmt == "auto":
            fmt = "ledger" if url else detect_format(path)
        reader = readers.setdefault(fmt, reader_for(fmt))
        extra: dict[str, Any] = {
            "model": options.trace_model,
            "trace_start": options.trace_start,
            "since": options.since,
            "until": options.until,
            "location": raw,
        }
        ctx = ReadContext(issues, index, raw, tokenizer_of, extra, progress.read_bytes, first_rates_of)
        count = 0
        for record in reader.read(path, ctx):
            if (options.since and record.ts < options.since) or (
                options.until and record.ts >= options.until
            ):
                issues.skip(OUTSIDE_WINDOW)
                continue
            count += 1
            if record.aggregated and record.reported_usd is None:
                _tier_note(catalogue, record.model, issues)
            yield record
        inputs.append(InputFile(raw, fmt, count))


def _is_empty(path: Path) -> bool:
    """True for a file with nothing but whitespace (a directory or missing file is the reader's error)."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as handle:
            head = handle.read(_EMPTY_PROBE)
    except OSError:
        return False
    return not head.strip() and len(head) < _EMPTY_PROBE


def _tier_note(catalogue: Catalogue, model: str, issues: IssueLog) -> None:
    info = catalogue.get(model)
    if info is not None and info.prompt_tier is not None:
        issues.note(
            f"{info.id}'s long-prompt rates (prompts over {info.prompt_tier.threshold_prompt_tokens:,} tokens) "
            "apply per request, which a usage report's totals can't show: its buckets are priced at the base rates"
        )


def _nothing_read(inputs: Sequence[InputFile], issues: IssueLog) -> UsageError:
    """The one-line error for an audit whose inputs held no call at all."""
    if all(i.format == EMPTY for i in inputs):
        names = ", ".join(i.path for i in inputs)
        return InputFileError(f"{names} {'is' if len(inputs) == 1 else 'are'} empty: nothing to audit")
    read = [i for i in inputs if i.format != EMPTY]
    outside = issues.skipped.get(OUTSIDE_WINDOW, 0)
    if outside:
        bad = f"; {issues.malformed_count:,} malformed lines" if issues.malformed_count else ""
        return UsageError(
            f"no calls between --since and --until: the {outside:,} calls read are outside it{bad}"
        )
    formats = ", ".join(sorted({i.format for i in read}))
    what = [f"{issues.malformed_count:,} malformed"] if issues.malformed_count else []
    what += [f"{n:,} skipped ({reason})" for reason, n in sorted(issues.skipped.items())]
    detail = f": {'; '.join(what)} lines" if what else ""
    first = f"; first: {issues.issues[0].describe()}" if issues.issues else ""
    hint = "" if len(formats.split(", ")) > 1 else f" read as {formats}"
    return InputFileError(
        f"no API calls found in {', '.join(i.path for i in read)}{hint}{detail}{first} (wrong --format?)"
    )


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
    if options.format != "auto" and options.format not in FORMATS:
        raise UsageError(f"--format must be auto or one of: {', '.join(FORMATS)}; got {options.format!r}")
    if not paths:
        raise UsageError("give at least one file to audit")
    if caching is None:
        from clawback.audit.caching import replay_caching

        caching = replay_caching
    progress = progress or _Silent()
    issues = IssueLog()
    inputs: list[InputFile] = []
    with AuditStore.open(
        catalogue, workdir=options.workdir, memory_limit=options.memory_limit, threads=options.threads
    ) as store:
        progress.stage("reading")
        loaded = store.load(
            _records(paths, options, catalogue, issues, inputs, progress), on_batch=progress.advance
        )
        if loaded == 0:
            raise _nothing_read(inputs, issues)
        progress.stage("pricing")
        store.prepare()
        spend = spend_query(store.con)
        progress.stage("simulating")
        runner = caching
        ev = evaluate(
            store.con, catalogue, options.rules, lambda routes: runner(store, catalogue, routes, progress)
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
        generated=datetime.now(UTC),
    )
