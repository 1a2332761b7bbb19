"""One request as the planner and the history read it, before it is observed (pure).

:func:`view_of` computes, once per call, what both sides need: prefix token counts, the kind of
each position that has one (:func:`origins_of`), the system prompt it runs under
(:func:`root_of`), the record the history holds for each position, and the evidence the request
carries about the reuse of its prefixes (:class:`~clawback.cache.odds.Evidence`, the caller's
task label included). The planner
reads it to plan; the history reads the same view to learn, so what the odds are asked about and
what they learn from are the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from clawback.cache.odds import Evidence, Keys, evidence_keys, gap_bucket, log_bucket
from clawback.cache.prefixes import FIVE_MIN, MAX_DEPTH, PrefixRecord
from clawback.shapes import RequestShape

__all__ = ["LATTICE", "TAIL_DEPTH", "RequestView", "origins_of", "root_of", "tail_offsets", "view_of"]

TAIL_DEPTH: Final = 3
LATTICE: Final = 8
"""Every eighth block of a message is tracked too (to find where requests branch)."""


@dataclass(slots=True)
class RequestView:
    """Prefix tokens, kinds, records and evidence of one request at one moment."""

    key: tuple[object, ...]
    hashes: list[str]
    """Each position's prefix hash."""
    first_message: int
    """The position of the first ``messages`` block (the number of ``tools`` and ``system`` blocks)."""
    cum: list[int]
    origins: dict[int, str]
    root: str
    recs: list[PrefixRecord | None]
    """The history's record for each position (None where it keeps none)."""
    deepest: int | None
    """The deepest position the history has seen before."""
    evidence: Evidence
    depth: int
    """The depth new prefixes of this request get (turns of their conversation before it)."""
    quick: int
    """Of those turns, the ones that came within 5 minutes of the turn before them."""
    memo: dict[tuple[str, int, int], Keys]

    def keys(self, kind: str, sightings: int, gap: int) -> Keys:
        """:func:`~clawback.cache.odds.evidence_keys` for a position of this request (remembered)."""
        k = (kind, sightings if sightings < 3 else 3, gap)
        found = self.memo.get(k)
        if found is None:
            found = self.memo[k] = evidence_keys(self.evidence, kind, sightings, gap)
        return found


def view_key(shape: RequestShape, now: float, task: str = "") -> tuple[object, ...]:
    """What identifies a view: the same prefixes and sizes at the same moment, for the same task."""
    blocks = shape.blocks
    last = blocks[-1] if blocks else None
    return (
        shape.model,
        len(blocks),
        last.prefix_hash if last else "",
        last.tokens if last else 0,
        shape.overhead_tokens,
        now,
        task,
    )


def view_of(
    shape: RequestShape, records: Mapping[str, PrefixRecord], now: float, task: str = ""
) -> RequestView:
    """Read ``shape``, sent for ``task`` (``""``: none), against the history's ``records`` at ``now``."""
    blocks = shape.blocks
    cum: list[int] = []
    hashes: list[str] = []
    recs: list[PrefixRecord | None] = []
    get = records.get
    total = shape.overhead_tokens
    deepest = None
    for i, b in enumerate(blocks):  # one pass (no comprehension calls): this runs on every call
        total += b.tokens
        cum.append(total)
        hashes.append(b.prefix_hash)
        found = get(b.prefix_hash)
        recs.append(found)
        if found is not None:
            deepest = i
    root, first_message = _root(shape)
    n = len(blocks)
    rec = recs[deepest] if deepest is not None else None
    if rec is None or rec.shared():
        depth, continues, parent_gap, quick = 0, False, gap_bucket(None), 0
    else:
        depth = rec.depth + 1 if rec.depth < MAX_DEPTH else MAX_DEPTH
        continues, parent_gap = True, gap_bucket(now - rec.last_seen)
        quick = rec.quick + 1 if now - rec.last_seen < FIVE_MIN else rec.quick
        if quick > depth:
            quick = depth
    fresh = n - 1 - deepest if deepest is not None else n
    evidence = Evidence(log_bucket(n), log_bucket(fresh), continues, parent_gap, depth, root, task, quick)
    return RequestView(
        view_key(shape, now, task),
        hashes,
        first_message,
        cum,
        origins_of(shape),
        root,
        recs,
        deepest,
        evidence,
        depth,
        quick,
        {},
    )


def tail_offsets(shape: RequestShape) -> dict[int, int]:
    """Position → offset from the end (0 = last) of the last three cacheable blocks."""
    out: dict[int, int] = {}
    for block in reversed(shape.blocks):
        if block.cacheable:
            out[block.position] = len(out)
            if len(out) == TAIL_DEPTH:
                break
    return out


_TAILS: Final = tuple(f"tail{i}" for i in range(TAIL_DEPTH))


def origins_of(shape: RequestShape) -> dict[int, str]:
    """Positions whose first sighting is learned from, and the kind of each.

    Kinds: ``tools`` / ``system`` (where that level ends), ``turn`` (the end of the turn before
    the last message) and ``tail0``-``tail2`` (the last three blocks); a level end keeps its kind
    even among the last three blocks.
    """
    blocks = shape.blocks
    out: dict[int, str] = {}
    if not blocks:
        return out
    last_message = blocks[-1].message_index
    prev = blocks[0]
    for b in blocks[1:]:
        level = prev.level
        if level != b.level:
            if level != "messages":
                out[prev.position] = level
        elif (
            level == "messages"
            and b.message_index != prev.message_index
            and prev.message_index is not None
            and b.message_index == last_message
        ):
            out[prev.position] = "turn"
        prev = b
    if prev.level != "messages":
        out[prev.position] = prev.level
    found = 0
    for b in reversed(blocks):
        if b.cacheable:
            if out.get(b.position) not in ("tools", "system"):
                out[b.position] = _TAILS[found]
            found += 1
            if found == TAIL_DEPTH:
                break
    return out


def root_of(shape: RequestShape) -> str:
    """The class root: the prefix hash where ``system`` (else ``tools``) ends, or ``""``."""
    return _root(shape)[0]


def _root(shape: RequestShape) -> tuple[str, int]:
    """The class root and the position of the first ``messages`` block."""
    system = tools = ""
    for b in shape.blocks:
        level = b.level
        if level == "messages":
            return system or tools, b.position
        if level == "system":
            system = b.prefix_hash
        else:
            tools = b.prefix_hash
    return system or tools, len(shape.blocks)
