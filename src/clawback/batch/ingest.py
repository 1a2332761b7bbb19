"""Creating a job: read the input once, validate every line, plan the cache, estimate, record — or refuse.

All of it happens in one journal transaction before anything is sent, so a bad input, a duplicate
id or a spend cap leaves no trace, and a crash half-way leaves no half-made job:

1. every non-blank line is parsed (:func:`~clawback.batch.inputs.parse_line`) and stored with its
   id, exact params, size, token estimate and cache candidates; the number of requests sharing
   each candidate prefix is counted as lines stream past;
2. ids given twice are an error naming the lines; invalid lines are an error naming them, unless
   ``skip_invalid`` — then they are stored as finished with outcome ``invalid``;
3. each valid item joins its prefix group (the deepest candidate two or more requests share),
   gets a breakpoint there, and adds its estimate; warm-ups are estimated per group;
4. the upper-bound estimate is checked against the spend cap.

Memory stays flat: lines stream, items go to the journal in pages, and token estimates of
repeated blocks come from a small cache keyed by a hash of the block.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from clawback.batch import _items
from clawback.batch.cacheplan import CachePlanInput, add_breakpoint, choose_group, plan_input
from clawback.batch.costs import EstimateTotals, estimate_request, estimate_warmup
from clawback.batch.ids import item_key
from clawback.batch.inputs import InputItem, LineError, dumps_params, parse_line
from clawback.batch.journal import JobRecord, Journal
from clawback.cache.economics import CacheRates, Ratios
from clawback.errors import InputFileError, UsageError
from clawback.pricing.catalogue import Catalogue, ModelInfo
from clawback.pricing.cost import format_usd
from clawback.shapes import request_shape
from clawback.tokens import estimate_block_tokens

__all__ = ["IngestReport", "ingest"]

SHOWN_ERRORS = 20


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What reading the input found."""

    lines: int
    valid: int
    invalid_count: int
    errors: tuple[LineError, ...]
    groups: int
    grouped: int
    breakpoints: int
    estimate: EstimateTotals = field(default_factory=EstimateTotals)


class _BlockTokens:
    """Token estimates of blocks, remembering the longest recent ones by content hash."""

    def __init__(self, tokenizer: Any, size: int = 1024) -> None:
        self.tokenizer = tokenizer
        self.size = size
        self.seen: OrderedDict[bytes, int] = OrderedDict()

    def __call__(self, block: Mapping[str, Any]) -> int:
        text = json.dumps(block, ensure_ascii=False, separators=(",", ":"))
        if len(text) < 256:
            return estimate_block_tokens(block, self.tokenizer)
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        hit = self.seen.get(key)
        if hit is not None:
            self.seen.move_to_end(key)
            return hit
        value = estimate_block_tokens(block, self.tokenizer)
        self.seen[key] = value
        if len(self.seen) > self.size:
            self.seen.popitem(last=False)
        return value


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with path.open("rb") as handle:
            yield from enumerate(handle, 1)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc


@dataclass(slots=True)
class _Pass1:
    lines: int = 0
    valid: int = 0
    invalid: int = 0
    errors: list[LineError] = field(default_factory=list)


def _item_row(
    item: InputItem, counters: dict[str, _BlockTokens], cache_plan: bool
) -> tuple[tuple[Any, ...], CachePlanInput | None]:
    info = item.model
    counter = counters.setdefault(info.tokenizer, _BlockTokens(info.tokenizer))
    shape = request_shape(item.params, tokenizer=info.tokenizer, count=counter)
    plan = plan_input(shape, info.min_cacheable_tokens) if cache_plan else None
    row = (
        item.line,
        item_key(item.user_id, item.line),
        None if item.user_id is None else json.dumps(item.user_id),
        info.id,
        item.params_json,
        item.nbytes,
        shape.total_tokens,
        int(item.params["max_tokens"]),
        json.dumps(plan.to_json(), separators=(",", ":")) if plan and plan.candidates else None,
        "pending",
        None,
        None,
        None,
    )
    return row, plan


def _shaped(
    item: InputItem, counters: dict[str, _BlockTokens], cache_plan: bool
) -> tuple[tuple[Any, ...], CachePlanInput | None] | LineError:
    """:func:`_item_row`, or the line's error when a block has a shape no request can have.

    :func:`~clawback.batch.inputs.parse_line` checks the fields the API requires; a block the
    checks let through but the shape reader cannot read (a ``type`` that is a number, say) is
    reported as an invalid line like any other, never a crash of the whole job.
    """
    try:
        return _item_row(item, counters, cache_plan)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        message = f"a block cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
        return LineError(item.line, message, item.user_id)


def _invalid_row(error: LineError) -> tuple[Any, ...]:
    result = json.dumps({"type": "invalid_input", "message": error.message})
    uid = None if error.user_id is None else json.dumps(error.user_id)
    return (
        error.line,
        item_key(None, error.line),
        uid,
        None,
        None,
        0,
        0,
        0,
        None,
        "final",
        "invalid",
        result,
        0,
    )


def _pass1(journal: Journal, job: JobRecord, source: Path, *, catalogue: Catalogue, today: date) -> _Pass1:
    stats = _Pass1()
    counters: dict[str, _BlockTokens] = {}
    rows: list[tuple[Any, ...]] = []
    shared: Counter[str] = Counter()
    options = job.options
    for number, raw in _lines(source):
        parsed = parse_line(raw, number, catalogue=catalogue, today=today, limits=options.limits)
        if parsed is None:
            continue
        stats.lines += 1
        shaped = parsed if isinstance(parsed, LineError) else _shaped(parsed, counters, options.cache_plan)
        if isinstance(shaped, LineError):
            stats.invalid += 1
            if len(stats.errors) < SHOWN_ERRORS:
                stats.errors.append(shaped)
            rows.append(_invalid_row(shaped))
        else:
            stats.valid += 1
            row, plan = shaped
            rows.append(row)
            if plan is not None:
                shared.update(c.prefix_hash for c in plan.candidates)
        if len(rows) >= _items.PAGE:
            _flush(journal, job.name, rows, shared)
    _flush(journal, job.name, rows, shared)
    return stats


def _flush(journal: Journal, name: str, rows: list[tuple[Any, ...]], shared: Counter[str]) -> None:
    _items.insert_items(journal.db, name, rows)
    _items.bump_prefixes(journal.db, name, shared)
    rows.clear()
    shared.clear()


def _check_duplicates(journal: Journal, name: str, source: Path) -> None:
    dupes = _items.duplicate_ids(journal.db, name)
    if not dupes:
        return
    uid, first, second, count = dupes[0]
    more = f" ({len(dupes)}{'+' if len(dupes) >= 5 else ''} ids are repeated)" if len(dupes) > 1 else ""
    raise InputFileError(
        f"{source}: id {uid} appears on {count} lines (lines {first} and {second}){more}; "
        "ids must be unique, nothing was sent"
    )


def invalid_message(source: Path, stats_invalid: int, errors: tuple[LineError, ...]) -> str:
    """The one-line refusal for an input with invalid lines."""
    shown = "; ".join(str(e) for e in errors[:3])
    more = f"; and {stats_invalid - 3} more" if stats_invalid > 3 else ""
    plural = "s" if stats_invalid > 1 else ""
    return (
        f"{source}: {stats_invalid} invalid line{plural}, nothing was sent: {shown}{more} "
        "(--dry-run lists them; --skip-invalid sends the valid lines and reports these as invalid)"
    )


def ingest(
    journal: Journal,
    job: JobRecord,
    source: Path,
    *,
    catalogue: Catalogue,
    today: date,
    strict: bool = True,
) -> IngestReport:
    """Record ``job`` and its items from ``source`` in one transaction, or raise and record nothing.

    ``strict=False`` (the dry run) keeps going past invalid lines and the spend cap, so the report
    can show all of them.
    """
    with journal.db.transaction():
        journal.insert_job(job)
        stats = _pass1(journal, job, source, catalogue=catalogue, today=today)
        _check_duplicates(journal, job.name, source)
        if stats.lines == 0:
            raise InputFileError(f"{source}: no requests (the file is empty)")
        if strict and stats.invalid and not job.options.skip_invalid:
            raise InputFileError(invalid_message(source, stats.invalid, tuple(stats.errors)))
        report = _Planner(journal, job, catalogue, today).run(stats)
        cap = job.options.max_cost
        if strict and cap is not None and report.estimate.upper_total > cap:
            raise UsageError(
                f"estimated cost up to ${format_usd(report.estimate.upper_total)} (every request using its "
                f"max_tokens) is over --max-cost ${format_usd(cap)}; nothing was sent "
                f"(typical estimate ${format_usd(report.estimate.typical_total)})"
            )
        journal.update_job(
            job.name, items=stats.lines, invalid=stats.invalid, estimate=json.dumps(report.estimate.to_json())
        )
        journal.log(
            job.name, "created", data={"items": stats.lines, "invalid": stats.invalid, "source": str(source)}
        )
    return report


class _Planner:
    """Pass 2: groups, breakpoints and the estimate, one page of items at a time."""

    def __init__(self, journal: Journal, job: JobRecord, catalogue: Catalogue, today: date) -> None:
        self.journal = journal
        self.job = job
        self.catalogue = catalogue
        self.today = today
        self.models: dict[str, ModelInfo] = {}
        self.estimate = EstimateTotals()
        self.breakpoints = 0
        self.grouped = 0

    def info(self, model: str) -> ModelInfo:
        """The catalogue entry, cached per model id."""
        found = self.models.get(model)
        if found is None:
            found = self.models[model] = self.catalogue.resolve(model)
        return found

    def run(self, stats: _Pass1) -> IngestReport:
        """Plan every valid item; then estimate the warm-ups."""
        after = 0
        while True:
            page = _items.planning_page(self.journal.db, self.job.name, after)
            if not page:
                break
            self._page(page)
            after = int(page[-1][0])
        groups = self._warmups()
        return IngestReport(
            lines=stats.lines,
            valid=stats.valid,
            invalid_count=stats.invalid,
            errors=tuple(stats.errors),
            groups=groups,
            grouped=self.grouped,
            breakpoints=self.breakpoints,
            estimate=self.estimate,
        )

    def _ratios(self, model: str) -> Ratios:
        return CacheRates.of(self.info(model), at=self.today).ratios()

    def _page(self, page: list[tuple[Any, ...]]) -> None:
        db, name, options = self.journal.db, self.job.name, self.job.options
        plans = {int(r[0]): CachePlanInput.from_json(json.loads(r[5])) for r in page if r[5]}
        shared = _items.prefix_counts(db, name, (c.prefix_hash for p in plans.values() for c in p.candidates))
        models = {int(r[0]): str(r[1]) for r in page}
        chosen = {  # the cache planner's valuation, at the job's TTL and each model's rates
            line: choose_group(plan, shared, ttl=options.cache_ttl, ratios=self._ratios(models[line]))
            for line, plan in plans.items()
        }
        known = _items.existing_groups(db, name, (c.prefix_hash for c in chosen.values() if c))
        new_groups: dict[str, list[Any]] = {}
        updates: list[tuple[str | None, int, str | None, str, int]] = []
        for line, model, params, est_tokens, max_tokens, _ in page:
            info = self.info(model)
            group = chosen.get(int(line))
            role = None
            if group is not None:
                self.grouped += 1
                first = group.prefix_hash not in known and group.prefix_hash not in new_groups
                role = "read" if options.warm_cache or not first else "write"
                entry = new_groups.setdefault(group.prefix_hash, [model, 0, group.prefix_tokens, int(line)])
                entry[1] += 1
                marked = add_breakpoint(json.loads(params), plans[int(line)], group, options.cache_ttl)
                text = dumps_params(marked) if marked is not None else None
                if text is not None and len(text.encode()) > options.limits.max_request_bytes:
                    text = None
                self.breakpoints += text is not None
                nbytes = len(text.encode()) if text is not None else len(params.encode())
                updates.append((text, nbytes, group.prefix_hash, group.prefix_hash, int(line)))
            self.estimate += estimate_request(
                info,
                int(est_tokens),
                int(max_tokens),
                expected_output=options.expected_output,
                role=role,  # type: ignore[arg-type]
                prefix_tokens=group.prefix_tokens if group else 0,
                ttl=options.cache_ttl,
                at=self.today,
            )
        _items.add_groups(db, name, [(h, m, n, t, f) for h, (m, n, t, f) in new_groups.items()])
        _items.set_plans(db, name, updates)

    def _warmups(self) -> int:
        rows = self.journal.db.all(
            "SELECT g.model, g.prefix_tokens, i.est_tokens FROM batch_groups g JOIN batch_items i "
            "ON i.job = g.job AND i.line = g.first_line WHERE g.job = ? AND g.n >= 2",
            (self.job.name,),
        )
        if self.job.options.warm_cache:
            for model, prefix_tokens, est_tokens in rows:
                self.estimate += estimate_warmup(
                    self.info(model), int(est_tokens), int(prefix_tokens), self.today
                )
        return len(rows)
