"""What a write is worth: the deepest prefix to write and its TTL, by expected saving (pure).

The planner hands over its candidates (positions past the live entry, each with the odds that
its prefix is used again within 5 minutes and within an hour) and the prefix token counts;
:func:`write_options` returns every (deepest write, TTL) whose expected saving is positive, best
first, in input-token equivalents (floats: they decide, never account).

* Writing ``n`` tokens costs ``n x premium`` beyond plain input (0.25 for 5 minutes, 1 for an hour
  on current models); a read saves ``read_saving`` per token (0.9, or 0.95 on Sonnet/Opus 5.5).
  Writes are billed from the live entry the call reads up to the deepest breakpoint, so writing
  ``C`` writes every candidate before it too: a candidate's segment is worth
  ``segment x (read_saving x reads - premium)``, where ``reads`` is the chance that ``C`` *or a
  deeper* prefix is read (reading a deeper prefix reads this one).
* **An hour keeps the whole prefix readable.** A conversation that pauses for 5 to 60 minutes loses
  every 5-minute entry it built: its next turn writes the whole prefix again. An hour-long write of
  ``C`` keeps it; so an hour is also credited, for the chance of a use in that window, with the
  tokens between the deepest entry that outlives 5 minutes anyway (an hour entry, a prefix others
  keep warm) and the live entry: they would be lost with a 5-minute write, and are read with an
  hour's.
* A prefix with a long history may be read more than once per write (refreshes): up to
  ``READS_CAP`` expected reads.

Keep-alive pings are not an option here: they are decided when an entry is about to expire, from
what has (not) happened since (:mod:`clawback.cache.keepalive`); an option priced on the pings a
median gap would need promised reads the pings then did not always buy.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Final, NamedTuple

from clawback.cache.economics import Ratios
from clawback.shapes import Ttl

__all__ = ["READS_CAP", "Candidate", "Option", "write_options"]

READS_CAP: Final = 4.0


class Candidate(NamedTuple):  # tuples: built several times per planned call
    """A position the planner could write, with its odds."""

    position: int
    code: str
    """``recurring`` (seen before), ``level_end``, ``turn`` or ``tail``."""
    q5: float
    q60: float
    repeat: bool
    """Its own history is long enough to count on several reads per write."""


class Option(NamedTuple):
    """One way to write: the deepest candidate (an index into the candidates) and the TTL."""

    value: float
    ttl: Ttl
    cand: int


def _reads(q: float, repeat: bool) -> float:
    """Expected reads per write: one chance, or a run of refreshes for a prefix with a long history."""
    if not repeat:
        return q
    return READS_CAP if q >= 1 - 1 / (READS_CAP + 1) else q / (1 - q)


def write_options(
    cands: Sequence[Candidate],
    cum: Sequence[int],
    r: Ratios,
    *,
    live: int | None,
    survivor: int | None,
) -> list[Option]:
    """Every (deepest write, TTL) worth more than it costs, best first.

    ``live`` is the deepest live entry the call reads; ``survivor`` the deepest one expected to
    outlive 5 minutes without this call's help (its tokens are not lost by a pause).
    """
    if not cands:
        return []
    n = len(cands)
    r5: list[float] = []
    r60: list[float] = []
    late: list[float] = []
    for c in cands:  # one loop, not three comprehensions (each is a call of its own on this hot path)
        r5.append(_reads(c.q5, c.repeat))
        r60.append(_reads(c.q60, c.repeat))
        late.append(c.q60 - c.q5)
    for i in range(n - 2, -1, -1):
        if r5[i + 1] > r5[i]:
            r5[i] = r5[i + 1]
        if r60[i + 1] > r60[i]:
            r60[i] = r60[i + 1]
        if late[i + 1] > late[i]:
            late[i] = late[i + 1]
    base = cum[live] if live is not None else 0
    kept = base - (cum[survivor] if survivor is not None else 0)
    saving, p5, p60 = r.read_saving, r.premium_5m, r.premium_1h
    out: list[Option] = []
    t5 = t60 = 0.0
    prev = base
    for i, c in enumerate(cands):
        end = cum[c.position]
        seg = end - prev
        prev = end
        t5 += seg * (saving * r5[i] - p5)
        t60 += seg * (saving * r60[i] - p60)
        if t5 > 0:
            out.append(Option(t5, "5m", i))
        hour = t60 + (saving * late[i] * kept if kept > 0 and late[i] > 0 else 0.0)
        if hour > 0:
            out.append(Option(hour, "1h", i))
    # best value first, ties by candidate then TTL: sorts are stable, reverse=True included
    out.sort(key=_BY_CANDIDATE)
    out.sort(key=_BY_VALUE, reverse=True)
    return out


_BY_CANDIDATE = itemgetter(2, 1)
_BY_VALUE = itemgetter(0)
