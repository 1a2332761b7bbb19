"""Item-level SQL of the journal: bulk inserts, keyset pages, chunk assignment, results, output.

Every read is a keyset page (``WHERE line > ? ORDER BY line LIMIT ?``), so no query result ever
holds more than one page of a job in memory, on either dialect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clawback.batch._db import Database

__all__ = [
    "ItemRow",
    "ItemUpdate",
    "assign_chunk",
    "bump_prefixes",
    "chunk_requests",
    "duplicate_ids",
    "insert_items",
    "items_by_key",
    "planning_page",
    "prefix_counts",
]

PAGE = 1000


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def insert_items(db: Database, name: str, rows: Sequence[Sequence[Any]]) -> None:
    """Rows of (line, item_key, user_id JSON, model, params, nbytes, est_tokens, max_tokens, plan, status,
    outcome, result, done_order)."""
    db.executemany(
        "INSERT INTO batch_items (job, line, item_key, user_id, model, params, nbytes, est_tokens, max_tokens, "
        "plan, status, outcome, result, done_order) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(name, *r) for r in rows],
    )


def bump_prefixes(db: Database, name: str, counts: Mapping[str, int]) -> None:
    """Add to the number of requests sharing each prefix hash."""
    db.executemany(
        "INSERT INTO batch_prefixes (job, hash, n) VALUES (?, ?, ?) "
        "ON CONFLICT (job, hash) DO UPDATE SET n = batch_prefixes.n + excluded.n",
        [(name, h, n) for h, n in counts.items()],
    )


def prefix_counts(db: Database, name: str, hashes: Iterable[str]) -> dict[str, int]:
    """How many requests share each of ``hashes`` (chunked IN lists)."""
    wanted = sorted(set(hashes))
    out: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        rows = db.all(
            f"SELECT hash, n FROM batch_prefixes WHERE job = ? AND hash IN ({_marks(part)})", (name, *part)
        )
        out.update({r[0]: int(r[1]) for r in rows})
    return out


def existing_groups(db: Database, name: str, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` already have a group row."""
    wanted = sorted(set(hashes))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        rows = db.all(
            f"SELECT hash FROM batch_groups WHERE job = ? AND hash IN ({_marks(part)})", (name, *part)
        )
        found.update(r[0] for r in rows)
    return found


def add_groups(db: Database, name: str, rows: Sequence[tuple[str, str, int, int, int]]) -> None:
    """Rows of (hash, model, members, prefix_tokens, first_line): new groups or more members."""
    db.executemany(
        "INSERT INTO batch_groups (job, hash, model, n, prefix_tokens, first_line) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (job, hash) DO UPDATE SET n = batch_groups.n + excluded.n",
        [(name, *r) for r in rows],
    )


def planning_page(db: Database, name: str, after: int, limit: int = PAGE) -> list[tuple[Any, ...]]:
    """Valid items after line ``after``: (line, model, params, est_tokens, max_tokens, plan)."""
    return db.all(
        "SELECT line, model, params, est_tokens, max_tokens, plan FROM batch_items "
        "WHERE job = ? AND line > ? AND status = 'pending' ORDER BY line LIMIT ?",
        (name, after, limit),
    )


def set_plans(db: Database, name: str, rows: Sequence[tuple[str | None, int, str | None, str, int]]) -> None:
    """Rows of (params or None to keep, nbytes, group_hash, order_key, line)."""
    db.executemany(
        "UPDATE batch_items SET params = COALESCE(?, params), nbytes = ?, group_hash = ?, order_key = ? "
        "WHERE job = ? AND line = ?",
        [(p, n, g, o, name, line) for p, n, g, o, line in rows],
    )


def duplicate_ids(db: Database, name: str, limit: int = 5) -> list[tuple[str, int, int, int]]:
    """Ids given on more than one line: (id JSON, first line, second line, how many lines)."""
    return [
        (r[0], int(r[1]), int(r[2]), int(r[3]))
        for r in db.all(
            "SELECT user_id, MIN(line), MAX(line), COUNT(*) FROM batch_items WHERE job = ? AND user_id IS NOT NULL "
            "GROUP BY user_id HAVING COUNT(*) > 1 ORDER BY MIN(line) LIMIT ?",
            (name, limit),
        )
    ]


def pending_page(
    db: Database, name: str, after: tuple[str, int], limit: int = PAGE
) -> list[tuple[str, int, int]]:
    """Items waiting for a chunk after ``(order_key, line)``: (order_key, line, nbytes)."""
    key, line = after
    rows = db.all(
        "SELECT order_key, line, nbytes FROM batch_items WHERE job = ? AND status = 'pending' "
        "AND (order_key > ? OR (order_key = ? AND line > ?)) ORDER BY order_key, line LIMIT ?",
        (name, key, key, line, limit),
    )
    return [(r[0], int(r[1]), int(r[2])) for r in rows]


def assign_chunk(db: Database, name: str, seq: int, *, prefix: str, lines: Sequence[int]) -> None:
    """Put ``lines`` into chunk ``seq``; their custom_id is ``prefix`` followed by their key."""
    db.executemany(
        "UPDATE batch_items SET status = 'assigned', chunk = ?, attempts = attempts + 1, "
        "custom_id = ? || item_key WHERE job = ? AND line = ?",
        [(seq, prefix, name, line) for line in lines],
    )


def chunk_requests(
    db: Database, name: str, seq: int, after: int, *, limit: int = PAGE
) -> list[tuple[int, str, str]]:
    """The chunk's requests after line ``after``: (line, custom_id, params JSON)."""
    rows = db.all(
        "SELECT line, custom_id, params FROM batch_items WHERE job = ? AND chunk = ? AND status = 'assigned' "
        "AND line > ? ORDER BY line LIMIT ?",
        (name, seq, after, limit),
    )
    return [(int(r[0]), r[1], r[2]) for r in rows]


@dataclass(frozen=True, slots=True)
class ItemRow:
    """What collecting a result needs to know about its item."""

    line: int
    key: str
    model: str | None
    chunk: int | None
    status: str
    attempts: int


def items_by_key(db: Database, name: str, keys: Iterable[str]) -> dict[str, ItemRow]:
    """The items with these keys."""
    wanted = sorted(set(keys))
    out: dict[str, ItemRow] = {}
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        rows = db.all(
            f"SELECT line, item_key, model, chunk, status, attempts FROM batch_items "
            f"WHERE job = ? AND item_key IN ({_marks(part)})",
            (name, *part),
        )
        for r in rows:
            out[r[1]] = ItemRow(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]))
    return out


def leftovers(db: Database, name: str, seq: int, limit: int = PAGE) -> list[ItemRow]:
    """Items of chunk ``seq`` still waiting for a result."""
    rows = db.all(
        "SELECT line, item_key, model, chunk, status, attempts FROM batch_items "
        "WHERE job = ? AND chunk = ? AND status = 'assigned' ORDER BY line LIMIT ?",
        (name, seq, limit),
    )
    return [ItemRow(int(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in rows]


@dataclass(frozen=True, slots=True)
class ItemUpdate:
    """A result applied to one item: final (with outcome and payload) or back to pending."""

    line: int
    final: bool
    outcome: str | None = None
    result: str | None = None
    usage: str | None = None
    cost: str | None = None
    batch_id: str | None = None


def apply_updates(
    db: Database, name: str, seq: int, updates: Sequence[ItemUpdate], *, done_order: int
) -> None:
    """Record results for items of chunk ``seq`` (only those still assigned to it)."""
    finals = [u for u in updates if u.final]
    retries = [u for u in updates if not u.final]
    db.executemany(
        "UPDATE batch_items SET status = 'final', outcome = ?, result = ?, usage = ?, cost = ?, batch_id = ?, "
        "done_order = ? WHERE job = ? AND line = ? AND chunk = ? AND status = 'assigned'",
        [(u.outcome, u.result, u.usage, u.cost, u.batch_id, done_order, name, u.line, seq) for u in finals],
    )
    db.executemany(
        "UPDATE batch_items SET status = 'pending', chunk = NULL, result = ?, batch_id = ? "
        "WHERE job = ? AND line = ? AND chunk = ? AND status = 'assigned'",
        [(u.result, u.batch_id, name, u.line, seq) for u in retries],
    )


def cancel_items(db: Database, name: str, where: str, params: Sequence[Any], *, done_order: int) -> int:
    """End the matching unsent items ``canceled``; how many."""
    return db.execute(
        "UPDATE batch_items SET status = 'final', outcome = 'canceled', "
        'result = COALESCE(result, \'{"type":"canceled","message":"the job was canceled before this request was sent"}\'), '
        f"done_order = ? WHERE job = ? AND {where}",
        (done_order, name, *params),
    )


def output_page(
    db: Database, name: str, status: str, after: tuple[int, int], *, limit: int = PAGE
) -> list[tuple[Any, ...]]:
    """Finished items in output order after ``(done_order, line)``.

    Rows: (done_order, line, user_id JSON, outcome, attempts, result, cost, custom_id, batch_id).
    """
    order, line = after
    return db.all(
        "SELECT done_order, line, user_id, outcome, attempts, result, cost, custom_id, batch_id FROM batch_items "
        "WHERE job = ? AND status = ? AND (done_order > ? OR (done_order = ? AND line > ?)) "
        "ORDER BY done_order, line LIMIT ?",
        (name, status, order, order, line, limit),
    )


def mark_written(db: Database, name: str, lines: Sequence[int]) -> None:
    """Items now in the output file."""
    db.executemany(
        "UPDATE batch_items SET status = 'written' WHERE job = ? AND line = ? AND status = 'final'",
        [(name, line) for line in lines],
    )
