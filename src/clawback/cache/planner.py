"""The cache planner: at most four breakpoints, placed only where they save money (pure).

:func:`plan_breakpoints` reads a request's shape, the model (its minimum cacheable prefix and its
rates) and a :class:`~clawback.cache.history.PrefixHistory`, and returns a :class:`CachePlan`:
the breakpoints (position → TTL), the caller's own ``cache_control`` kept as it was, and a reason
for every decision. :func:`~clawback.cache.apply.apply_plan` writes the plan into a request body.

How it decides
--------------

* **Candidates** are positions whose prefix can be reused: a prefix the history has seen before,
  the ends of ``tools`` and ``system``, the end of the previous turn and the request's last three
  blocks (a conversation's tail, which moves forward every turn). Their chance of another use
  within 5 minutes and within an hour comes from the evidence the request carries
  (:mod:`clawback.cache.odds`: its length, the blocks it adds, its conversation's depth and pace,
  the kind of position, the system prompt, the caller's task label), learned online from sightings; a prefix seen more than
  three times mostly goes by its own gaps. Until the history has seen how a kind fares, a guess
  about a tail or a turn starts below break-even, so the planner does not pay for guesses —
  ``tools`` and ``system`` ends, static by design, start at even odds.
* **Never** a block the caller's text marks as volatile (a timestamp or id in ``tools`` or
  ``system``: nothing after it recurs), a block at a slot that changed on every call and was
  never continued, or a prefix below the model's minimum. A prefix whose last ``k >= 2`` writes
  were never read is not written again until it has been seen ``2**k`` more times; then it is
  tried once more (the exploration rule: a bounded, exponentially rarer retry, so a prefix that
  never pays costs O(log n) writes over n sightings, while one whose traffic changed gets back).
* **Value** (:mod:`clawback.cache.valuation`). Writing tokens costs a premium over plain input
  (0.25x for 5 minutes, 1x for an hour on current models); each later read saves ``1 - read``
  (0.9x, or 0.95x on Sonnet/Opus 5.5); an hour's write is also credited for keeping the earlier
  prefix readable through a pause that 5-minute entries would not survive. The deepest write
  ``C`` and its TTL maximise the expected saving over the tokens newly written; extra breakpoints before ``C`` at the same TTL cost nothing (writes are billed up to the last
  breakpoint), so the remaining slots go to the read anchor (the deepest live entry, whenever
  ``C`` is 20 or more blocks past it: the lookback would miss it), then to shallower candidates,
  then to live entries behind the read so they stay refreshed (shared ones and hour-long ones).
  1-hour marks always come first. Keep-alive pings are decided later, when an entry is about to
  expire (:mod:`clawback.cache.keeper`, the client's and the replay's one path, and
  :mod:`clawback.cache.keepalive`), not priced into the plan.
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

from clawback.cache.economics import CacheRates, Ratios
from clawback.cache.explain import explain
from clawback.cache.history import PrefixHistory
from clawback.cache.odds import Evidence, ReuseOdds, gap_bucket
from clawback.cache.plan import Action, CachePlan, Decision, ordered_marks, with_marks
from clawback.cache.prefixes import FIVE_MIN, ONE_HOUR, PrefixRecord
from clawback.cache.rules import LOOKBACK_BLOCKS, MAX_BREAKPOINTS
from clawback.cache.valuation import Candidate, Option, write_options
from clawback.cache.view import RequestView
from clawback.cache.volatile import Finding
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import RequestShape, Ttl

__all__ = ["CachePlan", "Decision", "ordered_marks", "plan_breakpoints", "with_marks"]

_ESTABLISHED = 3
_PRIORITY = {"recurring": 0, "level_end": 1, "turn": 2, "tail": 3}
_WHAT_IF_PRIOR = 0.5
_STATIC = frozenset({"tools", "system"})
_GUESSES = frozenset({"tail", "turn"})
"""Never-seen message positions whose writes bet on a conversation going on: paid from savings only."""


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
    task: str | None = None
    view: RequestView | None = None
    cum: list[int] = field(default_factory=list)
    records: Mapping[str, PrefixRecord] = field(default_factory=dict)
    odds: ReuseOdds | None = None
    ratios: Ratios | None = None
    caller: dict[int, Ttl] = field(default_factory=dict)
    auto_position: int | None = None
    live: int | None = None
    survivor: int | None = None
    """The deepest live entry expected to outlive 5 minutes without this call (1 hour, or shared)."""
    candidates: list[Candidate] = field(default_factory=list)
    refresh: list[int] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def note(
        self, position: int | None, action: Action, code: str, detail: str, *, ttl: Ttl | None = None
    ) -> None:
        if self.explain:
            self.decisions.append(Decision(position, action, code, detail, ttl))

    def prepare(self) -> None:
        shape = self.shape
        self.view = view = self.history.view(shape, self.now, workspace=self.workspace, task=self.task)
        self.cum = view.cum
        self.records = self.history.records(self.workspace, shape.model)
        self.odds = self.history.odds(self.workspace, shape.model)
        total = view.cum[-1] if view.cum else shape.overhead_tokens
        self.ratios = CacheRates.of(self.model, at=self.day, prompt_tokens=total).ratios()
        for b in shape.blocks:
            ttl = b.cache_ttl
            if ttl is not None:
                self.caller[b.position] = ttl
                self.note(b.position, "keep", "caller", "cache_control set by the caller is kept", ttl=ttl)
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
    task: str | None = None,
) -> CachePlan:
    """Place at most ``max_breakpoints`` breakpoints (the caller's count) where they save money.

    ``volatile`` lists positions whose text changes call to call (see
    :func:`~clawback.cache.volatile.volatile_blocks`); ``day`` picks the rates; ``keepalive`` is
    accepted for compatibility and changes nothing (pings are decided when an entry is about to
    expire: :func:`~clawback.cache.keepalive.decide_keepalive`); ``budget=False`` drops the
    never-dearer-than-uncached guard (for experiments only); ``cautious=False`` starts every kind
    the history has not learned yet at even odds instead of a tail's or a turn's low prior
    (what-if advice, as in ``clawback lint``); ``explain=False`` skips writing the reasons (``decisions`` stays
    empty; the breakpoints are the same), for the client's hot path. ``task`` is the caller's label
    for the call (``task=``), evidence for the odds; the history must observe the call with it too.
    """
    p = _Planner(
        shape, model, history, now, workspace, day, keepalive, max_breakpoints, cautious, explain, task=task
    )
    p.prepare()
    if not shape.blocks:
        return CachePlan(marks={}, auto=shape.auto_cache_ttl)
    if p.slots == 0:
        p.note(None, "skip", "no_slot", f"the caller already uses all {max_breakpoints} breakpoints")
        return _finish(p, dict(p.caller), None)
    _scan(p, _blocked_from(p, volatile))
    assert p.ratios is not None
    options = write_options(p.candidates, p.cum, p.ratios, live=p.live, survivor=p.survivor)
    allowed = history.budget(workspace, model, at=day) if budget else None
    earned = history.saved(workspace, model.id) if budget else None
    for option in options:
        marks = _marks_for(p, option)
        marks = ordered_marks(marks, p.caller)
        worst = _worst(p, marks)
        chosen = p.candidates[option.cand]
        guess = chosen.code in _GUESSES and shape.blocks[chosen.position].level == "messages"
        if allowed is None or worst <= (earned if guess and earned is not None else allowed):
            if option is not options[0]:
                p.note(
                    None,
                    "skip",
                    "budget",
                    "a better-paying write could cost more than the savings so far allow",
                )
            return _finish(p, marks, option, worst=worst)
    if options:
        p.note(None, "skip", "budget", "every write could cost more than the savings so far allow")
    marks = ordered_marks(_marks_for(p, None), p.caller)
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
        if b.level == "messages" or (p.view is not None and p.view.recs[position] is not None):
            continue
        kinds = ", ".join(f.kind for f in findings) or "volatile text"
        p.note(
            position, "skip", "volatile_text", f"{b.level} block carries {kinds}: nothing from here on recurs"
        )
        return position
    return None


def _forecast(
    p: _Planner, position: int, rec: PrefixRecord | None, origin: str | None, ev: Evidence
) -> Candidate | None:
    """The chance the prefix at ``position`` is used again within 5 minutes and within an hour.

    A never-seen prefix of a known kind takes the learned odds for its evidence. One seen before
    goes by its own gaps (the current one included), shrunk towards the learned odds for its
    evidence with a weight of ``Tuning.own_weight`` sightings.
    """
    assert p.odds is not None and p.view is not None
    prior = None if p.cautious else _WHAT_IF_PRIOR
    now = p.now
    if rec is not None:
        current = now - rec.last_seen
        if current < 0:
            current = 0.0
        keys = p.view.keys(rec.origin, rec.sightings + 1, gap_bucket(current))
        m5, m60 = p.odds.predict(keys, now, prior=prior)
        gaps = rec.gaps + 1
        w = p.history.tuning.own_weight
        q5 = (rec.within_5m + (current < FIVE_MIN) + w * m5) / (gaps + w)
        q60 = (rec.within_1h + (current < ONE_HOUR) + w * m60) / (gaps + w)
        repeat = gaps >= _ESTABLISHED or rec.origin in _STATIC  # a system prompt is read again and again
        return Candidate(position, "recurring", q5, q60 if q60 > q5 else q5, repeat)
    if origin is None:
        return None
    if origin.startswith("tail") and position > 0:
        parent = p.view.recs[position - 1]
        if parent is not None and parent.slot_volatile():
            p.note(
                position,
                "skip",
                "volatile_slot",
                f"the block here changed on all {parent.children} calls and no such request was continued",
            )
            return None
    code = "tail" if origin.startswith("tail") else "turn" if origin == "turn" else "level_end"
    q5, q60 = p.odds.predict(p.view.keys(origin, 1, ev.parent_gap), now, prior=prior)
    return Candidate(position, code, q5, q60, False)


def _scan(p: _Planner, blocked: int | None) -> None:
    """Find the deepest live entry, the candidates beyond it and the live entries behind it."""
    assert p.view is not None
    view = p.view
    blocks = p.shape.blocks
    recs = view.recs
    origins = view.origins
    if blocked:
        before = blocks[blocked - 1]
        if before.position not in origins:
            origins = {**origins, before.position: before.level if before.level != "messages" else "turn"}
    now = p.now
    live_records: list[tuple[PrefixRecord, int]] = []
    for i, rec in enumerate(recs):
        if rec is not None and rec.visible_at <= now < rec.expires_at and blocks[i].cacheable:
            live_records.append((rec, i))
    p.live = live_records[-1][1] if live_records else None
    lasting = now + FIVE_MIN
    for rec, pos in reversed(live_records):
        if rec.expires_at > lasting or rec.shared():
            p.survivor = pos
            break
    if len(live_records) > 1:
        kept = [
            (rec.child_changes, pos)
            for rec, pos in live_records[:-1]
            if rec.child_changes or rec.origin in ("tools", "system") or rec.entry_ttl == "1h"
        ]
        p.refresh = [pos for _, pos in sorted(kept)]
    start = -1 if p.live is None else p.live
    minimum = p.model.min_cacheable_tokens
    ev = view.evidence
    cum = p.cum
    for i in range(start + 1, len(blocks) if blocked is None else blocked):
        rec = recs[i]
        if rec is None and i not in origins:
            continue
        if not blocks[i].cacheable:
            continue
        candidate = _forecast(p, i, rec, origins.get(i), ev)
        if candidate is None:
            continue
        if cum[i] < minimum:
            if p.explain and candidate.code != "recurring":
                p.note(
                    i,
                    "skip",
                    "below_minimum",
                    f"prefix of {cum[i]:,} tokens is below {p.model.id}'s {minimum:,}-token minimum",
                )
            continue
        if rec is not None and _stopped(p, i, rec):
            if not _hour_untried(p, i, rec):
                continue
            candidate = candidate._replace(q5=0.0)  # only the untried 1-hour bet is on the table
        p.candidates.append(candidate)


def _stopped(p: _Planner, position: int, rec: PrefixRecord) -> bool:
    if not rec.write_paused(p.now):
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


def _hour_untried(p: _Planner, position: int, rec: PrefixRecord) -> bool:
    """Paused 5-minute writes expired unread, but the prefix recurs within the hour: try 1 hour."""
    if rec.entry_ttl != "5m" or rec.within_1h - rec.within_5m < 1:
        return False
    p.note(
        position,
        "skip",
        "five_minutes_too_short",
        "its 5-minute entries expired before the next use, which came within the hour: a 1-hour entry is tried",
    )
    return True


def _marks_for(p: _Planner, option: Option | None) -> dict[int, Ttl]:
    """The planner's marks for one option (the caller's added)."""
    marks: dict[int, Ttl] = dict(p.caller)
    slots = p.slots
    mine: dict[int, Ttl] = {}
    if option is not None:
        mine[p.candidates[option.cand].position] = option.ttl
    if p.live is not None and slots > len(mine):
        reach = [*marks, *mine, *([p.auto_position] if p.auto_position is not None else [])]
        if not any(p.live <= m < p.live + LOOKBACK_BLOCKS for m in reach):
            rec = p.view.recs[p.live] if p.view is not None else None
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
            rec = p.view.recs[position] if p.view is not None else None
            mine.setdefault(position, rec.entry_ttl if rec is not None and rec.entry_ttl else "5m")
    for position, ttl in mine.items():
        marks.setdefault(position, ttl)
    return marks


def _worst(p: _Planner, marks: Mapping[int, Ttl]) -> Decimal:
    """Cost beyond sending the request uncached if only the anchored live entry is read."""
    minimum = p.model.min_cacheable_tokens
    positions = sorted(marks)
    if p.auto_position is not None and p.shape.auto_cache_ttl is not None:
        marks = {**marks, p.auto_position: p.shape.auto_cache_ttl}
        positions = sorted(marks)
    cum, live = p.cum, p.live
    eligible: list[int] = []
    hit = None
    for pos in positions:
        if cum[pos] >= minimum:
            eligible.append(pos)
            if live is not None and live <= pos < live + LOOKBACK_BLOCKS:
                hit = live  # the anchored live entry is read
    if not eligible:
        return Decimal(0)
    read = cum[hit] if hit is not None else 0
    after = last_1h = None  # the deepest write past the read, and the deepest one an hour long
    for pos in eligible:
        if hit is None or pos > hit:
            after = pos
            if marks[pos] == "1h":
                last_1h = pos
    b_tokens = cum[last_1h] if last_1h is not None else read
    write_1h = max(0, b_tokens - read)
    write_5m = max(0, cum[eligible[-1]] - max(b_tokens, read)) if after is not None else 0
    rates = CacheRates.of(p.model, at=p.day, prompt_tokens=p.cum[-1])
    return rates.extra(read=read, write_5m=write_5m, write_1h=write_1h)


def _finish(
    p: _Planner,
    marks: dict[int, Ttl],
    option: Option | None,
    *,
    worst: Decimal = Decimal(0),
) -> CachePlan:
    if p.explain:
        explain(p, marks, option)
    caller = p.caller
    added = tuple([pos for pos in marks if pos not in caller]) if caller else tuple(marks)
    expected = p.live if _reaches(p, marks) else None
    return CachePlan(
        marks=marks,
        auto=p.shape.auto_cache_ttl,
        added=added,
        decisions=tuple(p.decisions),
        expected_read=expected,
        worst_extra_usd=worst,
    )


def _reaches(p: _Planner, marks: Mapping[int, Ttl]) -> bool:
    return p.live is not None and any(p.live <= m < p.live + LOOKBACK_BLOCKS for m in marks)
