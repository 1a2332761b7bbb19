"""The planner's odds that a prefix is used again within 5 minutes and within an hour (pure).

A request carries evidence about its own prefixes before anything is cached: how long it is, how
many blocks it adds beyond the deepest prefix seen before (a turn that pastes in a large document
is rarely continued; a short follow-up often is), how many turns deep its conversation is, how
long that conversation waited before this turn and how many of its earlier turns came quickly, the kind of position (the end of ``tools`` or
``system``, the previous turn, the last blocks), the system prompt it runs under and the task the
caller labelled it with (``task=``: calls of one task share a fate even when their system prompts
differ, e.g. one with retrieved documents in it). For a prefix
seen before: how many times, and after what gap.

:class:`ReuseOdds` turns that evidence into two probabilities, learned online from sightings
(every first, second and third sighting of a tracked prefix is an example; a prefix counts as
seen again whether or not it was cached, so learning costs nothing but arithmetic):

* **within 5 minutes** — a logistic model over conjunctions of the evidence (a dict of weights),
  one AdaGrad step per example when its window closes. Hits and misses are both learned when the
  window closes, never earlier: learning a quick re-sighting at once while misses wait would make
  a young kind look far better than it is. Each kind starts from a prior (``tools`` and ``system``
  ends at even odds, a guess about a conversation's tail low), so a fresh history does not pay
  for guesses.
* **later within the hour**, given no use within 5 minutes — a constant hazard per kind (and
  sighting, and whether the request continues a conversation), estimated from censored
  exposure: examples still inside their hour count for the time they have waited so far, so the
  estimate needs no hour of history to be honest, and starts from a low prior.

Floats are fine here: the odds decide, never account. The step size and priors come from
:class:`~clawback.cache.tuning.Tuning`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from typing import Final, NamedTuple

from clawback.cache.tuning import Tuning

__all__ = [
    "WINDOWS",
    "Evidence",
    "Example",
    "Keys",
    "ReuseOdds",
    "evidence_keys",
    "gap_bucket",
    "kind_key",
    "log_bucket",
]

Key = tuple[object, ...]
Keys = tuple[Key, ...]

_START: Final = 1.0
"""Initial AdaGrad accumulator: the first steps are at most ``STEP`` in log-odds."""
_STATIC_KINDS: Final = frozenset({"tools", "system"})
_FIVE_MIN: Final = 300.0
_LATE: Final = 3300.0
"""Seconds from 5 minutes to an hour."""
_LATE_PSEUDO: Final = 1.0
"""Weight of that prior, in hits."""
WINDOWS: Final = 3
"""5-minute windows after the first 5 minutes whose chance of a use is learned (for keep-alive)."""
_WINDOW_PSEUDO: Final = 2.0
"""Weight, in examples, of the prior chance of a use in the 5 minutes after an entry expires."""
_EVERY_KIND: Final = ("*",)
_MAX_WEIGHTS: Final = 65_536
_MAX_PENDING: Final = 200_000
_GAP_EDGES: Final = (5.0, 20.0, 60.0, 150.0, 300.0, 900.0, 3600.0)

_OPEN, _LATE_PHASE, _DONE = 0, 1, 2


def log_bucket(n: int) -> int:
    """``floor(log2(n + 1))``, capped at 8: 0, 1, 2-3, 4-7, ... 255+."""
    return min((n + 1).bit_length() - 1, 8)


def gap_bucket(gap: float | None) -> int:
    """Buckets of seconds: under 5 s, 20 s, 1 min, 2.5 min, 5 min, 15 min, 1 h, longer; 8 for none."""
    if gap is None:
        return 8
    return bisect_right(_GAP_EDGES, gap)  # the first edge above the gap (7 past the last)


class Evidence(NamedTuple):
    """What one request says about the reuse of its prefixes (the same for all its positions)."""

    length: int
    """Blocks in the request (log bucket)."""
    new: int
    """Blocks after the deepest prefix seen before (log bucket)."""
    continues: bool
    """The deepest prefix seen before belongs to one conversation (not a prefix many share)."""
    parent_gap: int
    """Gap bucket: seconds since that prefix was last seen (8 when none was)."""
    depth: int
    """Turns of the conversation before this one (capped)."""
    root: str
    """The system prompt's (else the tools') prefix hash, ``""`` without one."""
    task: str = ""
    """The caller's label for the kind of work (``task=``), ``""`` without one."""
    quick: int = 0
    """Of the ``depth`` turns before this one, how many came within 5 minutes of the turn before
    them: with ``depth``, the conversation's pace so far, not only its last gap."""


def evidence_keys(ev: Evidence, kind: str, sightings: int, gap: int) -> Keys:
    """The conjunctions one position's odds are the sum of (the first one names its kind).

    ``kind`` is the position's origin (``tools``, ``system``, ``turn``, ``tail0``...``mid``),
    ``sightings`` how many times its prefix has been sent, this request included (capped at 3),
    ``gap`` the bucket of its own last gap (for a first sighting, the conversation's).
    """
    s = sightings if sightings < 3 else 3
    memo = (ev, kind, s, gap)
    found = _KEYS_MEMO.get(memo)
    if found is not None:
        return found
    quick, slow = ev.quick, ev.depth - ev.quick
    keys: Keys = (
        kind_key(kind, s, ev.continues),
        ("n", kind, s, ev.continues, ev.new),
        ("l", kind, s, ev.continues, ev.length),
        ("g", kind, s, gap),
        ("d", kind, s, ev.depth),
        ("p", kind, s, ev.continues, quick if quick < 3 else 3, slow if slow < 3 else 3),
    )
    if ev.root:
        keys += (("r", ev.root, kind, s),)
    if ev.task:
        keys += (("t", ev.task, kind, s),)
    if len(_KEYS_MEMO) >= _KEYS_MEMO_LIMIT:
        _KEYS_MEMO.clear()
    _KEYS_MEMO[memo] = keys
    return keys


_KEYS_MEMO: dict[tuple[Evidence, str, int, int], Keys] = {}
_KEYS_MEMO_LIMIT = 4096
"""The keys of recent evidence (the same few recur call after call); full, the memo starts over."""


def kind_key(kind: str, sightings: int, continues: bool) -> Key:
    """The first of a position's keys: its kind, sightings (capped at 3) and whether it continues a conversation."""
    return ("o", kind, sightings if sightings < 3 else 3, continues)


class Example:
    """One sighting being watched: seen again within 5 minutes? later within the hour?"""

    __slots__ = ("gap", "keys", "phase", "start")

    def __init__(self, keys: Keys, start: float) -> None:
        self.keys = keys
        self.start = start
        self.gap: float | None = None
        self.phase = _OPEN


class ReuseOdds:
    """Learned odds of a use within 5 minutes (logistic) and later within the hour (hazard)."""

    __slots__ = (
        "_late",
        "_late_exposure",
        "_pending_1h",
        "_pending_5m",
        "_pending_windows",
        "_prior_guess",
        "_prior_static",
        "_settled_until",
        "_step",
        "_weights",
        "_window",
    )

    def __init__(self, tuning: Tuning | None = None) -> None:
        t = tuning if tuning is not None else Tuning()
        self._step = t.step
        self._prior_guess = _logit(t.prior_guess)
        self._prior_static = _logit(t.prior_static)
        self._late_exposure = _LATE_PSEUDO * _LATE / -math.log1p(-t.late_prior)
        """The late prior as exposure: ``_LATE_PSEUDO`` hits in this many seconds."""
        self._weights: dict[Key, list[float]] = {}
        """key -> [weight, sum of squared gradients]"""
        self._late: dict[Key, list[float]] = {}
        """kind key -> [late hits, closed exposure, open examples, sum of their late-phase starts]"""
        self._window: dict[tuple[Key, int], list[float]] = {}
        """(kind key, window) -> [uses in the window, examples unused before it]"""
        self._settled_until = math.inf
        """Nothing closes before this time."""
        self._pending_5m: deque[Example] = deque()
        self._pending_windows: tuple[deque[Example], ...] = tuple(deque() for _ in range(WINDOWS))
        self._pending_1h: deque[Example] = deque()

    def __len__(self) -> int:
        return len(self._weights)

    # -- predicting ----------------------------------------------------------------------------

    def predict(self, keys: Keys, now: float, *, prior: float | None = None) -> tuple[float, float]:
        """Chances of a use within 5 minutes and within an hour (the second never below the first).

        ``prior`` replaces the kind's starting odds while nothing about it has been learned (e.g.
        0.5 for what-if advice on a fresh history).
        """
        weights = self._weights
        head = keys[0]
        w = weights.get(head)
        z = w[0] if w is not None else _logit(prior) if prior is not None else self._prior(head)
        for key in keys[1:]:
            w = weights.get(key)
            if w is not None:
                z += w[0]
        q5 = _sigmoid(z)
        return q5, q5 + (1.0 - q5) * self.late(head, now)

    def late(self, head: Key, now: float) -> float:
        """Chance of a use between 5 minutes and an hour for a kind, given none within 5 minutes."""
        row = self._late.get(head)
        hits, exposure = _LATE_PSEUDO, self._late_exposure
        if row is not None:
            hits += row[0]
            exposure += row[1] + max(0.0, row[2] * now - row[3])
        return 1.0 - math.exp(-hits / exposure * _LATE)

    def next_window(self, head: Key, window: int, now: float) -> float:
        """Chance of a use in the next 5 minutes for a prefix of this kind unused for ``5 x (window + 1)``.

        Learned per window for the first ``WINDOWS`` windows after the first 5 minutes (uses
        often come just after an entry expires, rarely later); 0 after them.
        """
        if window >= WINDOWS:
            return 0.0
        late = self.late(head, now)
        # before evidence: the kind's late uses all in the first window (where they cluster), or
        # spread evenly over the hour in later ones; then every kind's rate in this window; then
        # this kind's own
        prior = late if window == 0 else 1.0 - (1.0 - late) ** (_FIVE_MIN / _LATE)
        for key in ((_EVERY_KIND, window), (head, window)):
            row = self._window.get(key)
            if row is not None:
                prior = (row[0] + _WINDOW_PSEUDO * prior) / (row[1] + _WINDOW_PSEUDO)
        return prior

    # -- learning ------------------------------------------------------------------------------

    def sighted(self, keys: Keys, at: float) -> Example:
        """Start watching a sighting; pass the example to :meth:`seen_again` at the next one."""
        example = Example(keys, at)
        if at + _FIVE_MIN < self._settled_until:
            self._settled_until = at + _FIVE_MIN
        self._pending_5m.append(example)
        self._pending_1h.append(example)
        for pending in (self._pending_5m, self._pending_1h):
            if len(pending) > _MAX_PENDING:
                self._close(pending.popleft(), hour=pending is self._pending_1h)
        return example

    def seen_again(self, example: Example, gap: float) -> None:
        """The prefix was sent again ``gap`` seconds after the example's sighting."""
        if example.gap is not None:
            return
        example.gap = gap
        if example.phase == _LATE_PHASE:
            self._leave_late(
                example, hit=gap < _FIVE_MIN + _LATE, waited=min(gap, _FIVE_MIN + _LATE) - _FIVE_MIN
            )

    def settle(self, now: float) -> None:
        """Learn from every example whose 5-minute, 10-minute or 1-hour window has closed by ``now``."""
        if now < self._settled_until:
            return
        self._settle(now)
        heads = [self._pending_5m, self._pending_1h, *self._pending_windows]
        ends = [_FIVE_MIN, _FIVE_MIN + _LATE, *((w + 2) * _FIVE_MIN for w in range(WINDOWS))]
        self._settled_until = min(
            (pending[0].start + end for pending, end in zip(heads, ends, strict=True) if pending),
            default=math.inf,
        )

    def _settle(self, now: float) -> None:
        for hour, pending, limit in (
            (False, self._pending_5m, _FIVE_MIN),
            (True, self._pending_1h, _FIVE_MIN + _LATE),
        ):
            while pending and pending[0].start + limit <= now:
                self._close(pending.popleft(), hour=hour)
        for window, pending in enumerate(self._pending_windows):
            end = (window + 2) * _FIVE_MIN
            while pending and pending[0].start + end <= now:
                example = pending.popleft()
                hit = example.gap is not None and example.gap < end
                for key in ((_EVERY_KIND, window), (example.keys[0], window)):
                    row = self._window.get(key)
                    if row is None:
                        if len(self._window) >= _MAX_WEIGHTS:
                            self._window.clear()
                        row = self._window[key] = [0.0, 0.0]
                    row[0] += hit
                    row[1] += 1
                if not hit and window + 1 < WINDOWS:
                    self._pending_windows[window + 1].append(example)

    def _close(self, example: Example, *, hour: bool) -> None:
        if not hour:
            hit = example.gap is not None and example.gap < _FIVE_MIN
            self._learn(example.keys, hit)
            if example.gap is None:
                example.phase = _LATE_PHASE
                self._pending_windows[0].append(example)
                row = self._late_row(example.keys[0])
                row[2] += 1
                row[3] += example.start + _FIVE_MIN
            else:
                example.phase = _DONE
        elif example.phase == _LATE_PHASE:
            self._leave_late(example, hit=False, waited=_LATE)

    def _leave_late(self, example: Example, *, hit: bool, waited: float) -> None:
        row = self._late_row(example.keys[0])
        row[0] += hit
        row[1] += waited
        row[2] -= 1
        row[3] -= example.start + _FIVE_MIN
        example.phase = _DONE

    def _late_row(self, head: Key) -> list[float]:
        row = self._late.get(head)
        if row is None:
            if len(self._late) >= _MAX_WEIGHTS:
                self._late.clear()
            row = self._late[head] = [0.0, 0.0, 0.0, 0.0]
        return row

    def _learn(self, keys: Keys, hit: bool) -> None:
        weights = self._weights
        rows = []
        z = 0.0
        for i, key in enumerate(keys):
            w = weights.get(key)
            if w is None:
                if len(weights) >= _MAX_WEIGHTS:
                    del weights[next(iter(weights))]
                w = weights[key] = [self._prior(key) if i == 0 else 0.0, _START]
            rows.append(w)
            z += w[0]
        g = _sigmoid(z) - (1.0 if hit else 0.0)
        g2 = g * g
        step = self._step * g
        for w in rows:
            w[1] += g2
            w[0] -= step / math.sqrt(w[1])

    def _prior(self, head: Key) -> float:
        """The starting log-odds of a kind."""
        return self._prior_static if head[1] in _STATIC_KINDS else self._prior_guess


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
