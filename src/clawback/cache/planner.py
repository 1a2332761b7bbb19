"""The cache planner: at most four breakpoints, placed only where they save money (pure).

:func:`plan_breakpoints` reads a request's shape, the model (its minimum cacheable prefix and its
rates) and a :class:`~clawback.cache.history.PrefixHistory`, and returns a :class:`CachePlan`:
the breakpoints (position → TTL), the caller's own ``cache_control`` kept as it was, and a reason
for every decision. :func:`~clawback.cache.apply.apply_plan` writes the plan into a request body.

How it decides
--------------

* **Candidates** are positions whose prefix can be reused: a prefix the history has seen before
  (its own gaps give the chance of another use within 5 minutes and within an hour), the ends of
  ``tools`` and ``system``, the end of the previous turn and the request's last three blocks (a
  conversation's tail, which moves forward every turn). A never-seen prefix takes the odds its
  kind had under the same system prompt ("class" odds, learned for free from sightings); for a
  tail or a turn those odds are lowered by one standard deviation, so that until the history has
  seen how such prefixes fare (about five minutes of traffic) the planner does not pay for
  guesses — ``tools`` and ``system`` ends, static by design, take the odds as they are.
* **Never** a block the caller's text marks as volatile (a timestamp or id in ``tools`` or
  ``system``: nothing after it recurs), a block at a slot that changed on every call and was
  never continued, or a prefix below the model's minimum. A prefix whose last ``k >= 2`` writes
  were never read is not written again until it has been seen ``2**k`` more times; then it is
  tried once more (the exploration rule: a bounded, exponentially rarer retry, so a prefix that
  never pays costs O(log n) writes over n sightings, while one whose traffic changed gets back).
* **Value.** Writing tokens costs a premium over plain input (0.25x for 5 minutes, 1x for an hour
  on current models); each later read saves ``1 - read`` (0.9x, or 0.95x on Sonnet/Opus 5.5). The
  deepest write ``C`` and its TTL maximise the expected saving over the tokens newly written;
  extra breakpoints before ``C`` at the same TTL cost nothing (writes are billed up to the last
  breakpoint), so the remaining slots go to the read anchor (the deepest live entry, whenever
  ``C`` is 20 or more blocks past it: the lookback would miss it), then to shallower candidates,
  then to live entries behind the read so they stay refreshed. TTL per prefix follows its gaps:
  5 minutes when it recurs within 5 minutes, an hour when within an hour (1-hour marks always
  come first), none when rarer — unless keep-alive is on and pinging a 5-minute entry is cheaper.
* **Never dearer than not caching.** A plan's worst case (every write, nothing read but the live
  entry it anchors on) may not exceed the history's savings so far plus a small exploration
  allowance (``PrefixHistory.exploration_tokens`` of plain input, 200,000 by default: $0.40 on
  Sonnet 5.5). Savings are booked exactly after each call, so over any sequence of observed calls
  the planner's total cost stays within that allowance of the no-caching cost. The bound assumes
  what the cache rules document (an entry lives its full TTL) and the shape's token counts; with
  the API's real counts it holds to the estimator's accuracy. Breakpoints the caller set are the
  caller's: they are kept and their cost is booked, but not prevented.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from clawback.cache.economics import CacheRates, Ratios
from clawback.cache.history import PrefixHistory
from clawback.cache.plan import Action, CachePlan, Decision, ordered_marks, with_marks
from clawback.cache.prefixes import FIVE_MIN, ONE_HOUR, PrefixRecord, origins_of, root_of
from clawback.cache.rules import LOOKBACK_BLOCKS, MAX_BREAKPOINTS
from clawback.cache.volatile import Finding
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import RequestShape, Ttl

__all__ = ["CachePlan", "Decision", "ordered_marks", "plan_breakpoints", "with_marks"]

_READS_CAP = 4.0
_PRIOR_WEIGHT = 2.0
_ESTABLISHED = 3
_PRIORITY = {"recurring": 0, "level_end": 1, "turn": 2, "tail": 3}


class _Candidate(NamedTuple):  # tuples: built several times per planned call
    position: int
    code: str
    q5: float
    q60: float
    repeat: bool
    gap: float | None = None


class _Option(NamedTuple):
    value: float
    ttl: Ttl
    cand: int
    """Index of the deepest write in ``candidates``."""
    keepalive: bool = False


@dataclass(slots=True)
class _Planner:
    shape: RequestShape
    model: ModelInfo
    history: PrefixHistory
    now: float
    workspace: str
    day: date | None
    keepalive: bool
    max_breakpoints: int
    cautious: bool = True
    explain: bool = True
    cum: list[int] = field(default_factory=list)
    records: Mapping[str, PrefixRecord] = field(default_factory=dict)
    ratios: Ratios | None = None
    caller: dict[int, Ttl] = field(default_factory=dict)
    auto_position: int | None = None
    live: int | None = None
    candidates: list[_Candidate] = field(default_factory=list)
    refresh: list[int] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def note(
        self, position: int | None, action: Action, code: str, detail: str, *, ttl: Ttl | None = None
    ) -> None:
        if self.explain:
            self.decisions.append(Decision(position, action, code, detail, ttl))

    def prepare(self) -> None:
        running = self.shape.overhead_tokens
        for b in self.shape.blocks:
            running += b.tokens
            self.cum.append(running)
        self.records = self.history.records(self.workspace, self.shape.model)
        self.ratios = CacheRates.of(self.model, at=self.day, prompt_tokens=running).ratios()
        for b in self.shape.blocks:
            if b.cache_ttl is not None:
                self.caller[b.position] = b.cache_ttl
                self.note(
                    b.position, "keep", "caller", "cache_control set by the caller is kept", ttl=b.cache_ttl
                )
        if self.shape.auto_cache_ttl is not None:
            last = next((b.position for b in reversed(self.shape.blocks) if b.cacheable), None)
            if last is not None and last not in self.caller:
                self.auto_position = last
                self.note(last, "keep", "caller", "top-level automatic caching set by the caller is kept")

    @property
    def slots(self) -> int:
        used = len(self.caller) + (1 if self.auto_position is not None else 0)
        return max(0, self.max_breakpoints - used)


def plan_breakpoints(
    shape: RequestShape,
    model: ModelInfo,
    history: PrefixHistory,
    *,
    now: float,
    workspace: str = "default",
    volatile: Mapping[int, tuple[Finding, ...]] | Collection[int] = (),
    day: date | None = None,
    keepalive: bool = False,
    budget: bool = True,
    cautious: bool = True,
    max_breakpoints: int = MAX_BREAKPOINTS,
    explain: bool = True,
) -> CachePlan:
    """Place at most ``max_breakpoints`` breakpoints (the caller's count) where they save money.

    ``volatile`` lists positions whose text changes call to call (see
    :func:`~clawback.cache.volatile.volatile_blocks`); ``day`` picks the rates; ``keepalive``
    lets a 5-minute entry kept warm by pings beat a 1-hour one; ``budget=False`` drops the
    never-dearer-than-uncached guard (for experiments only); ``cautious=False`` takes a
    never-seen tail's odds at face value instead of one standard deviation lower (what-if advice,
    as in ``clawback lint``); ``explain=False`` skips writing the reasons (``decisions`` stays
    empty; the breakpoints are the same), for the client's hot path.
    """
    p = _Planner(shape, model, history, now, workspace, day, keepalive, max_breakpoints, cautious, explain)
    p.prepare()
    if not shape.blocks:
        return CachePlan(marks={}, auto=shape.auto_cache_ttl)
    if p.slots == 0:
        p.note(None, "skip", "no_slot", f"the caller already uses all {max_breakpoints} breakpoints")
        return _finish(p, dict(p.caller), None)
    _scan(p, _blocked_from(p, volatile))
    options = _options(p)
    allowed = history.budget(workspace, model, at=day) if budget else None
    for option in options:
        marks, kept_alive = _marks_for(p, option)
        marks = ordered_marks(marks, p.caller)
        worst = _worst(p, marks)
        if allowed is None or worst <= allowed:
            if option is not options[0]:
                p.note(
                    None,
                    "skip",
                    "budget",
                    "a better-paying write could cost more than the savings so far allow",
                )
            return _finish(p, marks, option, worst=worst, kept_alive=kept_alive)
    if options:
        p.note(None, "skip", "budget", "every write could cost more than the savings so far allow")
    marks = ordered_marks(_marks_for(p, None)[0], p.caller)
    return _finish(p, marks, None, worst=_worst(p, marks))


def _blocked_from(p: _Planner, volatile: Mapping[int, tuple[Finding, ...]] | Collection[int]) -> int | None:
    """The first tools/system block whose text changes every call and whose prefix never recurred."""
    blocks = p.shape.blocks
    for position in sorted(volatile):
        if position >= len(blocks):
            continue
        b = blocks[position]
        findings = volatile[position] if isinstance(volatile, Mapping) else ()
        if findings and all(f.severity == "daily" for f in findings):
            continue
        if b.level == "messages" or b.prefix_hash in p.records:
            continue
        kinds = ", ".join(f.kind for f in findings) or "volatile text"
        p.note(
            position, "skip", "volatile_text", f"{b.level} block carries {kinds}: nothing from here on recurs"
        )
        return position
    return None


def _forecast(p: _Planner, position: int, origin: str | None, root: str) -> _Candidate | None:
    """The chance the prefix at ``position`` is used again within 5 minutes and within an hour.

    A prefix seen before has its own gaps (the current sighting included), shrunk towards the
    odds of its kind with a weight of two sightings; a new one takes its kind's odds.
    """
    b = p.shape.blocks[position]
    rec = p.records.get(b.prefix_hash)
    if rec is not None:
        prior5, prior60 = p.history.class_rates(p.workspace, p.shape.model, rec.root, rec.origin)
        current = max(0.0, p.now - rec.last_seen)
        gaps = rec.gaps + 1
        w5 = rec.within_5m + (current < FIVE_MIN)
        w60 = rec.within_1h + (current < ONE_HOUR)
        q5 = (w5 + _PRIOR_WEIGHT * prior5) / (gaps + _PRIOR_WEIGHT)
        q60 = (w60 + _PRIOR_WEIGHT * prior60) / (gaps + _PRIOR_WEIGHT)
        samples = sorted([*(rec.recent_gaps or ()), current])
        return _Candidate(
            position, "recurring", q5, max(q5, q60), gaps >= _ESTABLISHED, samples[len(samples) // 2]
        )
    if origin is None:
        return None
    if origin.startswith("tail") and position > 0:
        parent = p.records.get(p.shape.blocks[position - 1].prefix_hash)
        if parent is not None and parent.slot_volatile():
            p.note(
                position,
                "skip",
                "volatile_slot",
                f"the block here changed on all {parent.children} calls and no such request was continued",
            )
            return None
    code = "tail" if origin.startswith("tail") else "turn" if origin == "turn" else "level_end"
    cautious = p.cautious and code != "level_end"
    q5, q60 = p.history.class_rates(p.workspace, p.shape.model, root, origin, cautious=cautious)
    return _Candidate(position, code, q5, q60, False)


def _scan(p: _Planner, blocked: int | None) -> None:
    """Find the deepest live entry, the candidates beyond it and the live entries behind it."""
    blocks = p.shape.blocks
    origins = origins_of(p.shape)
    root = root_of(p.shape)
    if blocked:
        before = blocks[blocked - 1]
        origins.setdefault(before.position, before.level if before.level != "messages" else "turn")
    live_records: list[int] = []
    for b in blocks:
        if b.cacheable:
            rec = p.records.get(b.prefix_hash)
            if rec is not None and rec.live_at(p.now):
                live_records.append(b.position)
    p.live = live_records[-1] if live_records else None
    behind = [(p.records[blocks[pos].prefix_hash], pos) for pos in live_records[:-1]]
    shared = [
        (rec.child_changes, pos)
        for rec, pos in behind
        if rec.child_changes or rec.origin in ("tools", "system")
    ]
    p.refresh = [pos for _, pos in sorted(shared)]
    start = -1 if p.live is None else p.live
    minimum = p.model.min_cacheable_tokens
    for b in blocks[start + 1 : blocked]:
        if not b.cacheable:
            continue
        candidate = _forecast(p, b.position, origins.get(b.position), root)
        if candidate is None:
            continue
        if p.cum[b.position] < minimum:
            if p.explain and candidate.code != "recurring":
                p.note(
                    b.position,
                    "skip",
                    "below_minimum",
                    f"prefix of {p.cum[b.position]:,} tokens is below {p.model.id}'s {minimum:,}-token minimum",
                )
            continue
        if _stopped(p, b.position):
            if not _hour_untried(p, b.position):
                continue
            candidate = candidate._replace(q5=0.0)  # only the untried 1-hour bet is on the table
        p.candidates.append(candidate)


def _stopped(p: _Planner, position: int) -> bool:
    rec = p.records.get(p.shape.blocks[position].prefix_hash)
    if rec is None or not rec.write_paused(p.now):
        return False
    streak = rec.unread_streak(p.now)
    waited = rec.sightings - rec.written_at_sighting
    p.note(
        position,
        "skip",
        "unread_writes",
        f"its last {streak} writes were never read; paused for {2**streak} sightings ({waited} so far), then retried once",
    )
    return True


def _hour_untried(p: _Planner, position: int) -> bool:
    """Paused 5-minute writes expired unread, but the prefix recurs within the hour: try 1 hour."""
    rec = p.records.get(p.shape.blocks[position].prefix_hash)
    if rec is None or rec.entry_ttl != "5m" or rec.within_1h - rec.within_5m < 1:
        return False
    p.note(
        position,
        "skip",
        "five_minutes_too_short",
        "its 5-minute entries expired before the next use, which came within the hour: a 1-hour entry is tried",
    )
    return True


def _reads(q: float, repeat: bool) -> float:
    """Expected reads per write: one chance, or a run of refreshes for a prefix with a long history."""
    if not repeat:
        return q
    return _READS_CAP if q >= 1 - 1 / (_READS_CAP + 1) else q / (1 - q)


def _options(p: _Planner) -> list[_Option]:
    """Every (TTL, deepest write) worth more than it costs, best first."""
    assert p.ratios is not None
    r = p.ratios
    cands = p.candidates
    if not cands:
        return []
    r5 = [_reads(c.q5, c.repeat) for c in cands]
    r60 = [_reads(c.q60, c.repeat) for c in cands]
    for i in range(len(cands) - 2, -1, -1):
        r5[i], r60[i] = max(r5[i], r5[i + 1]), max(r60[i], r60[i + 1])
    out: list[_Option] = []
    base = p.cum[p.live] if p.live is not None else 0
    totals = {"5m": 0.0, "1h": 0.0, "ka": 0.0}
    prev = base
    for i, c in enumerate(cands):
        seg = p.cum[c.position] - prev
        prev = p.cum[c.position]
        totals["5m"] += seg * (r.read_saving * r5[i] - r.premium_5m)
        totals["1h"] += seg * (r.read_saving * r60[i] - r.premium_1h)
        totals["ka"] += seg * (r.read_saving * r60[i] - r.premium_5m)
        out.append(_Option(totals["5m"], "5m", i))
        out.append(_Option(totals["1h"], "1h", i))
        if p.keepalive and c.repeat and c.gap is not None and c.gap >= FIVE_MIN:
            pings = int(c.gap // FIVE_MIN)
            value = totals["ka"] - pings * r.read * p.cum[c.position]
            out.append(_Option(value, "5m", i, keepalive=True))
    out = [o for o in out if o.value > 0]
    out.sort(key=lambda o: (-o.value, o.cand, o.ttl))
    return out


def _marks_for(p: _Planner, option: _Option | None) -> tuple[dict[int, Ttl], tuple[int, ...]]:
    """The planner's marks for one option (the caller's added), with any positions to keep alive."""
    marks: dict[int, Ttl] = dict(p.caller)
    slots = p.slots
    mine: dict[int, Ttl] = {}
    if option is not None:
        mine[p.candidates[option.cand].position] = option.ttl
    if p.live is not None and slots > len(mine):
        reach = [*marks, *mine, *([p.auto_position] if p.auto_position is not None else [])]
        if not any(p.live <= m < p.live + LOOKBACK_BLOCKS for m in reach):
            rec = p.records.get(p.shape.blocks[p.live].prefix_hash)
            mine[p.live] = rec.entry_ttl if rec is not None and rec.entry_ttl else "5m"
    if option is not None:
        extras = sorted(p.candidates[: option.cand], key=lambda c: (_PRIORITY[c.code], -c.q5, -c.position))
        for c in extras:
            if len(mine) >= slots:
                break
            mine[c.position] = option.ttl
    for position in reversed(p.refresh):
        if len(mine) >= slots:
            break
        if position not in marks:
            rec = p.records.get(p.shape.blocks[position].prefix_hash)
            mine.setdefault(position, rec.entry_ttl if rec is not None and rec.entry_ttl else "5m")
    for position, ttl in mine.items():
        marks.setdefault(position, ttl)
    kept_alive = (p.candidates[option.cand].position,) if option is not None and option.keepalive else ()
    return marks, kept_alive


def _worst(p: _Planner, marks: Mapping[int, Ttl]) -> Decimal:
    """Cost beyond sending the request uncached if only the anchored live entry is read."""
    minimum = p.model.min_cacheable_tokens
    positions = sorted(marks)
    if p.auto_position is not None and p.shape.auto_cache_ttl is not None:
        marks = {**marks, p.auto_position: p.shape.auto_cache_ttl}
        positions = sorted(marks)
    eligible = [pos for pos in positions if p.cum[pos] >= minimum]
    if not eligible:
        return Decimal(0)
    hit = (
        p.live
        if p.live is not None and any(p.live <= m < p.live + LOOKBACK_BLOCKS for m in eligible)
        else None
    )
    read = p.cum[hit] if hit is not None else 0
    after = [pos for pos in eligible if hit is None or pos > hit]
    one_hour = [pos for pos in after if marks[pos] == "1h"]
    b_tokens = p.cum[one_hour[-1]] if one_hour else read
    write_1h = max(0, b_tokens - read)
    write_5m = max(0, p.cum[eligible[-1]] - max(b_tokens, read)) if after else 0
    rates = CacheRates.of(p.model, at=p.day, prompt_tokens=p.cum[-1])
    return rates.extra(read=read, write_5m=write_5m, write_1h=write_1h)


def _finish(
    p: _Planner,
    marks: dict[int, Ttl],
    option: _Option | None,
    *,
    worst: Decimal = Decimal(0),
    kept_alive: tuple[int, ...] = (),
) -> CachePlan:
    chosen = p.candidates[option.cand].position if option is not None else None
    if p.explain:
        _explain(p, marks, option, chosen)
    added = tuple(pos for pos in marks if pos not in p.caller)
    expected = p.live if _reaches(p, marks) else None
    return CachePlan(
        marks=marks,
        auto=p.shape.auto_cache_ttl,
        added=added,
        decisions=tuple(p.decisions),
        expected_read=expected,
        worst_extra_usd=worst,
        keepalive=kept_alive,
    )


def _explain(p: _Planner, marks: dict[int, Ttl], option: _Option | None, chosen: int | None) -> None:
    """The reasons for every mark the planner added and every candidate it passed over."""
    by_position = {c.position: c for c in p.candidates}
    for position, ttl in marks.items():
        if position in p.caller:
            continue
        c = by_position.get(position)
        if option is not None and position == chosen:
            detail = f"deepest write worth it: {_odds(c)}; expected saving {option.value:,.0f} input-token equivalents"
            p.note(position, "mark", c.code if c else "recurring", detail, ttl=ttl)
        elif c is not None:
            p.note(
                position,
                "mark",
                c.code,
                f"free extra breakpoint before the deepest write: {_odds(c)}",
                ttl=ttl,
            )
        elif position == p.live:
            p.note(
                position, "mark", "anchor", "reads the live entry the lookback would otherwise miss", ttl=ttl
            )
        else:
            p.note(position, "mark", "refresh", "keeps a live entry behind the read refreshed", ttl=ttl)
    for c in p.candidates:
        if c.position in marks:
            continue
        if chosen is None or c.position > chosen:
            p.note(c.position, "skip", "unprofitable", f"a write here is not expected to pay: {_odds(c)}")
        else:
            p.note(c.position, "skip", "no_slot", "all four breakpoints are taken by better positions")


def _reaches(p: _Planner, marks: Mapping[int, Ttl]) -> bool:
    return p.live is not None and any(p.live <= m < p.live + LOOKBACK_BLOCKS for m in marks)


def _odds(c: _Candidate | None) -> str:
    if c is None:
        return "seen before"
    return f"seen again within 5 min {c.q5:.0%}, within 1 h {c.q60:.0%}"
