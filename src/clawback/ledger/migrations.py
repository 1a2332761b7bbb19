"""The ledger's schema, as an ordered list of small named migrations (SQLite and PostgreSQL).

Table ``clawback_calls``: one row per API call. ``record`` holds the whole versioned JSON record
(the source of truth); the other columns copy the fields that queries filter and sum on. Money
(``total_usd``) is TEXT holding a decimal string in SQLite and NUMERIC in PostgreSQL: exact in both.
"""

from __future__ import annotations

from clawback.storage.migrations import Migrations, SchemaDb

__all__ = ["CALLS_TABLE", "LEDGER_MIGRATIONS"]

CALLS_TABLE = "clawback_calls"
LEDGER_MIGRATIONS = Migrations("ledger")


@LEDGER_MIGRATIONS.add
def m001_create_calls(db: SchemaDb) -> None:
    """The calls table."""
    db.execute(
        db.format(
            """
            CREATE TABLE clawback_calls (
                id TEXT PRIMARY KEY,
                ts {timestamp} NOT NULL,
                task TEXT,
                api_key_id TEXT,
                requested_model TEXT NOT NULL,
                served_model TEXT,
                input_tokens {bigint} NOT NULL DEFAULT 0,
                output_tokens {bigint} NOT NULL DEFAULT 0,
                cache_read_tokens {bigint} NOT NULL DEFAULT 0,
                cache_write_5m_tokens {bigint} NOT NULL DEFAULT 0,
                cache_write_1h_tokens {bigint} NOT NULL DEFAULT 0,
                total_usd {money},
                unpriced_reason TEXT,
                latency_ms {real},
                stop_reason TEXT,
                error_type TEXT,
                service_tier TEXT,
                request_id TEXT,
                record {json} NOT NULL
            )
            """
        )
    )


@LEDGER_MIGRATIONS.add
def m002_index_ts_and_task(db: SchemaDb) -> None:
    """Indexes for time ranges and per-task reads."""
    db.execute("CREATE INDEX clawback_calls_ts ON clawback_calls (ts)")
    db.execute("CREATE INDEX clawback_calls_task_ts ON clawback_calls (task, ts)")


@LEDGER_MIGRATIONS.add
def m003_source_and_baseline(db: SchemaDb) -> None:
    """What made each call (client, batch, eval, gateway) and what it would have cost unchanged."""
    db.execute("ALTER TABLE clawback_calls ADD COLUMN source TEXT")
    db.execute(db.format("ALTER TABLE clawback_calls ADD COLUMN baseline_usd {money}"))
    db.execute("CREATE INDEX clawback_calls_source_ts ON clawback_calls (source, ts)")
