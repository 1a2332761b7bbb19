"""The batch journal's tables, as ordered named migrations (component ``batch``).

Never edit or reorder an applied migration: add a new function at the end. JSON is stored as
TEXT in both dialects (PostgreSQL's JSONB would reorder keys, and key order is part of what the
prompt cache matches); money is TEXT holding exact decimal strings; times are epoch seconds.

Item ``status`` is the life of one input line: ``pending`` (waiting for a chunk), ``assigned`` (in
a chunk), ``final`` (has its outcome, not yet in the output file) and ``written``.
"""

from __future__ import annotations

from clawback.storage.migrations import Migrations, SchemaDb

__all__ = ["MIGRATIONS"]

MIGRATIONS = Migrations("batch")


@MIGRATIONS.add
def create_batch_jobs(db: SchemaDb) -> None:
    """One row per job."""
    db.execute(
        db.format(
            "CREATE TABLE batch_jobs ("
            "name TEXT PRIMARY KEY, tag TEXT NOT NULL UNIQUE, created_at {real} NOT NULL, "
            "input_path TEXT NOT NULL, output_path TEXT NOT NULL, options TEXT NOT NULL, "
            "state TEXT NOT NULL, cancel_requested INTEGER NOT NULL DEFAULT 0, "
            "estimate TEXT, items {bigint} NOT NULL DEFAULT 0, invalid {bigint} NOT NULL DEFAULT 0, "
            "next_chunk INTEGER NOT NULL DEFAULT 1, done_counter {bigint} NOT NULL DEFAULT 0, "
            "out_offset {bigint} NOT NULL DEFAULT 0, out_lines {bigint} NOT NULL DEFAULT 0, "
            "last_error TEXT, updated_at {real} NOT NULL, finished_at {real})"
        )
    )


@MIGRATIONS.add
def create_batch_items(db: SchemaDb) -> None:
    """One row per non-blank input line."""
    db.execute(
        db.format(
            "CREATE TABLE batch_items ("
            "job TEXT NOT NULL, line {bigint} NOT NULL, item_key TEXT NOT NULL, user_id TEXT, "
            "model TEXT, params TEXT, nbytes {bigint} NOT NULL DEFAULT 0, est_tokens {bigint} NOT NULL DEFAULT 0, "
            "max_tokens {bigint} NOT NULL DEFAULT 0, plan TEXT, group_hash TEXT, order_key TEXT NOT NULL DEFAULT '', "
            "status TEXT NOT NULL, chunk INTEGER, attempts INTEGER NOT NULL DEFAULT 0, "
            "outcome TEXT, result TEXT, usage TEXT, cost TEXT, custom_id TEXT, batch_id TEXT, "
            "done_order {bigint}, PRIMARY KEY (job, line))"
        )
    )
    db.execute("CREATE INDEX batch_items_key ON batch_items (job, item_key)")
    db.execute("CREATE INDEX batch_items_status ON batch_items (job, status, order_key, line)")
    db.execute("CREATE INDEX batch_items_chunk ON batch_items (job, chunk, status, line)")
    db.execute("CREATE INDEX batch_items_user ON batch_items (job, user_id)")
    db.execute("CREATE INDEX batch_items_done ON batch_items (job, status, done_order, line)")


@MIGRATIONS.add
def create_batch_chunks(db: SchemaDb) -> None:
    """One row per chunk (one Message Batch, once created)."""
    db.execute(
        db.format(
            "CREATE TABLE batch_chunks ("
            "job TEXT NOT NULL, seq INTEGER NOT NULL, phase TEXT NOT NULL, size INTEGER NOT NULL, "
            "nbytes {bigint} NOT NULL, batch_id TEXT, anchor TEXT, next_check_at {real} NOT NULL DEFAULT 0, "
            "delay {real} NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0, "
            "cancel_sent INTEGER NOT NULL DEFAULT 0, adopted INTEGER NOT NULL DEFAULT 0, "
            "intent_at {real}, create_attempts INTEGER NOT NULL DEFAULT 0, excluded TEXT NOT NULL DEFAULT '[]', "
            "batch_created_at TEXT, status TEXT, counts TEXT, totals TEXT, last_error TEXT, "
            "PRIMARY KEY (job, seq))"
        )
    )
    db.execute("CREATE INDEX batch_chunks_batch ON batch_chunks (batch_id)")


@MIGRATIONS.add
def create_batch_prefixes(db: SchemaDb) -> None:
    """How many requests share each candidate prefix, and each chosen group's warm-up."""
    db.execute(
        db.format(
            "CREATE TABLE batch_prefixes (job TEXT NOT NULL, hash TEXT NOT NULL, n {bigint} NOT NULL, "
            "PRIMARY KEY (job, hash))"
        )
    )
    db.execute(
        db.format(
            "CREATE TABLE batch_groups (job TEXT NOT NULL, hash TEXT NOT NULL, model TEXT NOT NULL, "
            "n {bigint} NOT NULL, prefix_tokens {bigint} NOT NULL, first_line {bigint} NOT NULL, "
            "warm_state TEXT, warm_attempts INTEGER NOT NULL DEFAULT 0, warm_totals TEXT, "
            "PRIMARY KEY (job, hash))"
        )
    )


@MIGRATIONS.add
def create_batch_events(db: SchemaDb) -> None:
    """The append-only record of every intent and every outcome."""
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    db.execute(
        db.format(
            f"CREATE TABLE batch_events (id {key}, job TEXT NOT NULL, at {{real}} NOT NULL, "
            "chunk INTEGER, kind TEXT NOT NULL, data TEXT)"
        )
    )
    db.execute("CREATE INDEX batch_events_job ON batch_events (job, id)")
