"""Reading every input of an audit into its store: discovery, format detection, readers and the fast path.

:func:`load_inputs` is shared by ``clawback audit`` and ``clawback usage``. For each input found
(:mod:`clawback.audit.discover`) it decides the format (``--format``, or detected), then reads it:
JSON-lines logs and Claude Code transcripts through the DuckDB fast path
(:mod:`clawback.audit.fastpath`, which hands the lines it can't vouch for to the Python readers),
everything else through its reader. A file whose format can't be told is skipped with the reason
and never stops the others. Once everything is in, the store keeps one record per API call and
drops calls outside ``--since``/``--until`` (:meth:`~clawback.audit.store.AuditStore.settle`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from clawback.audit.discover import Source, discover
from clawback.audit.readers import ReadContext, detect_format, reader_for
from clawback.audit.readers._common import check_record_year
from clawback.audit.readers.detect import FORMATS
from clawback.audit.records import AuditRecord, IssueLog
from clawback.audit.store import OUTSIDE_WINDOW, AuditStore
from clawback.audit.summary import InputFile
from clawback.errors import InputFileError, UsageError
from clawback.pricing.catalogue import Catalogue

__all__ = ["EMPTY", "FAST_FORMATS", "LoadOptions", "Progress", "load_inputs", "nothing_read"]

EMPTY: Final = "empty"
FAST_FORMATS: Final = ("jsonl", "claude-code")
_EMPTY_PROBE: Final = 1 << 16
_SPOOL_CHUNK: Final = 1 << 20


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


class Silent:
    """A :class:`Progress` that shows nothing."""

    def stage(self, text: str) -> None:
        """Nothing."""

    def advance(self, records: int) -> None:
        """Nothing."""

    def read_bytes(self, count: int) -> None:
        """Nothing."""


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How the inputs are read."""

    format: str = "auto"
    since: datetime | None = None
    until: datetime | None = None
    trace_model: str | None = None
    trace_start: datetime | None = None
    logged_on: datetime | None = None
    """The time given to logged responses that carry no timestamp (``--logged-on``)."""
    pattern: str | None = None
    """Only files whose name matches, when walking folders (``*.jsonl`` for Claude Code's folders)."""
    fast: bool = True
    """Read JSON-lines inputs through the DuckDB fast path (False: the Python readers only)."""


@dataclass(slots=True)
class _Plan:
    index: int
    source: Source
    path: Path
    fmt: str
    size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _check_format(fmt: str) -> None:
    if fmt != "auto" and fmt not in FORMATS:
        raise UsageError(f"--format must be auto or one of: {', '.join(FORMATS)}; got {fmt!r}")


def _is_empty(path: Path) -> bool:
    """True for a file with nothing but whitespace (and a BOM)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_EMPTY_PROBE)
    except OSError:
        return False
    return not head.removeprefix(b"\xef\xbb\xbf").strip() and len(head) < _EMPTY_PROBE


def _spool(source: Source, folder: Path, index: int) -> Path:
    """A pipe (or standard input) copied once into ``folder``, so it can be detected and read."""
    target = folder / f"pipe-{index}"
    try:
        with target.open("wb") as out:
            if source.path == "-":
                shutil.copyfileobj(sys.stdin.buffer, out, _SPOOL_CHUNK)
            else:
                with open(source.path, "rb") as handle:
                    shutil.copyfileobj(handle, out, _SPOOL_CHUNK)
    except OSError as exc:
        raise InputFileError(f"cannot read {source.name}: {exc.strerror or exc}") from exc
    return target


def _plan(
    store: AuditStore, sources: Sequence[Source], options: LoadOptions, issues: IssueLog
) -> tuple[list[_Plan], list[tuple[int, InputFile]]]:
    """The format of each input (skipping those that can't be told) and the empty ones."""
    plans: list[_Plan] = []
    empties: list[tuple[int, InputFile]] = []
    for source in sources:
        index = len(plans) + len(empties)
        if source.kind == "url":
            plans.append(_Plan(index, source, Path(source.path), "ledger"))
            continue
        path = Path(source.path)
        if source.kind == "pipe":
            if store.folder is None:
                raise InputFileError(f"cannot read {source.name}: no folder to keep it in")
            path = _spool(source, store.folder, index)
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if size < _EMPTY_PROBE and _is_empty(path):  # a file as long as the probe is not empty
            issues.note(f"{source.name} is empty")
            empties.append((index, InputFile(source.name, EMPTY, 0)))
            continue
        fmt = options.format
        if fmt == "auto":
            try:
                fmt = detect_format(path, source.name)
            except InputFileError as exc:
                issues.skip_file(source.name, str(exc))
                continue
        plans.append(_Plan(index, source, path, fmt, size))
    return plans, empties


def load_inputs(
    store: AuditStore,
    paths: Sequence[str],
    catalogue: Catalogue,
    options: LoadOptions,
    issues: IssueLog,
    progress: Progress | None = None,
) -> list[InputFile]:
    """Read every input ``paths`` name into ``store`` (settled: one record per call); the inputs read."""
    _check_format(options.format)
    progress = progress or Silent()
    found = discover(paths, pattern=options.pattern)
    for note in found.notes:
        issues.note(note)
    for name, reason in found.skipped:
        issues.skip_file(name, reason)
    plans, empties = _plan(store, found.sources, options, issues)
    if _small(plans):
        store.keep_in_memory()
    total = getattr(progress, "total", None)
    if callable(total):
        total(sum(p.size for p in plans))
    readers: dict[str, Any] = {}
    shapes = _shapes(plans, options)
    fast = [p for p in plans if p.index in shapes]
    fast_indexes = set(shapes)
    for plan in plans:
        if plan.index in fast_indexes:
            continue
        reader = readers.setdefault(plan.fmt, reader_for(plan.fmt))
        ctx = _context(plan, options, catalogue, issues, progress)
        store.load(_checked(reader.read(plan.path, ctx), catalogue, issues, ctx), on_batch=progress.advance)
    if fast:
        from clawback.audit.fastpath import FastFile, load_fast

        files = [FastFile(p.index, p.path, shapes[p.index], p.source.name, p.size) for p in fast]

        by_index = {p.index: p for p in fast}

        def fallback(file: FastFile) -> Callable[[int, bytes], AuditRecord | None]:
            plan = by_index[file.src]
            reader = readers.setdefault(plan.fmt, reader_for(plan.fmt))
            ctx = _context(plan, options, catalogue, issues, progress)

            def read_line(number: int, raw: bytes) -> AuditRecord | None:
                record: AuditRecord | None = reader.read_line(number, raw, ctx)
                if record is not None and (why := check_record_year(record.ts)) is not None:
                    ctx.malformed(number, why)
                    return None
                return record

            return read_line

        load_fast(store, files, issues, fallback, progress)
    for reason, count in store.settle(options.since, options.until).items():
        issues.skip(reason, count)
    relayed, files_with = store.relayed_calls()
    if relayed:
        issues.note(
            f"{relayed:,} subagent calls counted from progress lines of {files_with:,} parent transcript{'s' if files_with > 1 else ''} "
            "(their subagents' own transcripts were not among the inputs)"
        )
    counts = store.records_by_source()
    inputs = [(p.index, InputFile(p.source.name, p.fmt, counts.get(p.index, 0))) for p in plans] + empties
    return [i for _, i in sorted(inputs, key=lambda pair: pair[0])]


_BYTES_PER_CALL: Final = {"claude-code": 4_000}
"""A low guess at the bytes a file of the format holds per call (Claude Code's transcripts hold
the conversation: about 18 KB a call in the shared ones); other formats: :data:`_MIN_BYTES_PER_CALL`."""
_MIN_BYTES_PER_CALL: Final = 200
_SMALL_CALLS: Final = 500_000
"""An audit of at most about this many calls keeps them in memory (under 100 MB compressed)."""


def _small(plans: Sequence[_Plan]) -> bool:
    """True when the inputs surely hold few calls (a ledger URL may hold any number)."""
    if any(p.fmt == "ledger" and p.source.kind == "url" for p in plans):
        return False
    calls = sum(p.size // _BYTES_PER_CALL.get(p.fmt, _MIN_BYTES_PER_CALL) for p in plans)
    return calls <= _SMALL_CALLS


def _shapes(plans: Sequence[_Plan], options: LoadOptions) -> dict[int, Any]:
    """The line shape of each input the fast path reads, by input index."""
    if not options.fast or not any(p.fmt in FAST_FORMATS for p in plans):
        return {}
    from clawback.audit.fastpath import probe_shape

    out = {}
    for plan in plans:
        if plan.fmt in FAST_FORMATS:
            shape = probe_shape(plan.path, plan.fmt)
            if shape is not None:
                out[plan.index] = shape
    return out


def _context(
    plan: _Plan, options: LoadOptions, catalogue: Catalogue, issues: IssueLog, progress: Progress
) -> ReadContext:
    def tokenizer_of(model: str) -> str:
        info = catalogue.get(model)
        return info.tokenizer if info else "pre-4.7"

    def first_rates_of(model: str) -> date | None:
        info = catalogue.get(model)
        return info.rates[0].effective_from if info and info.rates else None

    extra: dict[str, Any] = {
        "model": options.trace_model,
        "trace_start": options.trace_start,
        "since": options.since,
        "until": options.until,
        "logged_on": options.logged_on,
        "location": plan.source.path,
    }
    return ReadContext(
        issues, plan.index, plan.source.name, tokenizer_of, extra, progress.read_bytes, first_rates_of
    )


def _checked(
    records: Iterator[AuditRecord], catalogue: Catalogue, issues: IssueLog, ctx: ReadContext
) -> Iterator[AuditRecord]:
    """``records`` with calls dated outside the auditable years made malformed lines; notes for report buckets."""
    for record in records:
        why = check_record_year(record.ts)
        if why is not None:
            ctx.malformed(record.line or None, why)
            continue
        if record.aggregated and record.reported_usd is None:
            _tier_note(catalogue, record.model, issues)
        yield record


def _tier_note(catalogue: Catalogue, model: str, issues: IssueLog) -> None:
    info = catalogue.get(model)
    if info is not None and info.prompt_tier is not None:
        issues.note(
            f"{info.id}'s long-prompt rates (prompts over {info.prompt_tier.threshold_prompt_tokens:,} tokens) "
            "apply per request, which a usage report's totals can't show: its buckets are priced at the base rates"
        )


def nothing_read(inputs: Sequence[InputFile], issues: IssueLog, searched: str = "") -> UsageError:
    """The one-line error for an audit whose inputs held no call at all, naming the likeliest cause."""
    if not inputs and issues.files_skipped:
        name, reason = issues.files_skipped[0]
        more = (
            f" (and {len(issues.files_skipped) - 1:,} more files skipped)"
            if len(issues.files_skipped) > 1
            else ""
        )
        return InputFileError(
            f"nothing to audit: {reason}{more}"
            if name in reason
            else f"nothing to audit: {name}: {reason}{more}"
        )
    if not inputs:
        where = f": {issues.notes[0]}" if issues.notes else f": no files found{searched}"
        return InputFileError(f"nothing to audit{where}")
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
    names = ", ".join(i.path for i in read[:3]) + (f" and {len(read) - 3:,} more" if len(read) > 3 else "")
    if issues.no_timestamp and issues.no_timestamp * 2 >= issues.malformed_count:
        return InputFileError(
            f"no API calls found in {names}: {issues.no_timestamp:,} logged responses carry no timestamp "
            "(the Messages API's response has none); pass --logged-on DATE to date them"
        )
    formats = ", ".join(sorted({i.format for i in read}))
    what = [f"{issues.malformed_count:,} malformed"] if issues.malformed_count else []
    what += [f"{n:,} skipped ({reason})" for reason, n in sorted(issues.skipped.items())]
    detail = f": {'; '.join(what)} lines" if what else ""
    first = f"; first: {issues.issues[0].describe()}" if issues.issues else ""
    hint = "" if len(formats.split(", ")) > 1 else f" read as {formats}"
    return InputFileError(f"no API calls found in {names}{hint}{detail}{first} (wrong --format?)")
