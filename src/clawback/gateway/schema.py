"""The gateway's state tables, as a storage Migrations component (SQLite and PostgreSQL).

* ``clawback_gateway_meta`` — the deployment's salt for key identities (shared by its processes).
* ``clawback_gateway_budget`` — spend (and, in PostgreSQL, money reserved by requests in flight)
  per scope, period and window.
* ``clawback_gateway_rate`` — requests and tokens per scope and UTC minute: the fixed windows of
  the first release, no longer written (g002).
* ``clawback_gateway_bucket`` — each scope's request and token buckets as two theoretical arrival
  times (GCRA, see :mod:`clawback.gateway.ratelimit`), in PostgreSQL (g002).
* ``clawback_gateway_reservation`` — one row per request in flight (PostgreSQL), so money held by
  a process that died is released when the row expires.
* ``clawback_gateway_batch_seen`` — batch results already booked, so reading results twice never
  books their spend twice.

In PostgreSQL two functions make admission and settlement one round trip each and atomic: rows are
locked in a fixed order (rate rows, then budget rows, each sorted), so concurrent processes never
deadlock and never lose an update. ``clawback_gateway_admit2``/``clawback_gateway_settle2`` (g002)
replace the first release's ``clawback_gateway_admit``/``clawback_gateway_settle`` for rate
limits (those stay, so processes of both releases can share one database during an upgrade; batch
bookings still use ``clawback_gateway_settle``, which touches no rate row when given none).
"""

from __future__ import annotations

from clawback.storage.migrations import Migrations, SchemaDb

__all__ = ["GATEWAY_MIGRATIONS"]

GATEWAY_MIGRATIONS = Migrations("gateway")


@GATEWAY_MIGRATIONS.add
def g001_state_tables(db: SchemaDb) -> None:
    """Meta, budget windows, rate windows, reservations and booked batch results."""
    db.execute("CREATE TABLE clawback_gateway_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        db.format(
            "CREATE TABLE clawback_gateway_budget (scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL, "
            "spent {money} NOT NULL DEFAULT 0, reserved {money} NOT NULL DEFAULT 0, "
            "PRIMARY KEY (scope, period, win))"
        )
    )
    db.execute(
        db.format(
            "CREATE TABLE clawback_gateway_rate (scope TEXT NOT NULL, minute {bigint} NOT NULL, "
            "requests {bigint} NOT NULL DEFAULT 0, tokens {bigint} NOT NULL DEFAULT 0, PRIMARY KEY (scope, minute))"
        )
    )
    db.execute(
        db.format(
            "CREATE TABLE clawback_gateway_reservation (id TEXT PRIMARY KEY, amount {money} NOT NULL, "
            "keys {json} NOT NULL, expires_at {timestamp} NOT NULL)"
        )
    )
    db.execute(
        "CREATE TABLE clawback_gateway_batch_seen (batch_id TEXT NOT NULL, custom_id TEXT NOT NULL, "
        "PRIMARY KEY (batch_id, custom_id))"
    )
    if db.dialect == "postgres":
        db.execute(_ADMIT)
        db.execute(_SETTLE)
        db.execute(_EXPIRE)


_ADMIT = """
CREATE OR REPLACE FUNCTION clawback_gateway_admit(
    p_id TEXT, p_amount NUMERIC, p_scopes TEXT[], p_periods TEXT[], p_wins TEXT[], p_limits NUMERIC[],
    p_rscopes TEXT[], p_minute BIGINT, p_rpm BIGINT[], p_tpm BIGINT[], p_expires TIMESTAMPTZ)
RETURNS TABLE (o_index INT, o_kind TEXT, o_spent NUMERIC, o_reserved NUMERIC) LANGUAGE plpgsql AS $$
DECLARE
    n_rate INT := coalesce(array_length(p_rscopes, 1), 0);
    n_budget INT := coalesce(array_length(p_scopes, 1), 0);
    r_req BIGINT; r_tok BIGINT; b_spent NUMERIC; b_reserved NUMERIC;
BEGIN
    FOR i IN 1..n_rate LOOP
        INSERT INTO clawback_gateway_rate (scope, minute) VALUES (p_rscopes[i], p_minute) ON CONFLICT DO NOTHING;
        SELECT g.requests, g.tokens INTO r_req, r_tok FROM clawback_gateway_rate g
            WHERE g.scope = p_rscopes[i] AND g.minute = p_minute FOR UPDATE;
        IF p_rpm[i] IS NOT NULL AND r_req >= p_rpm[i] THEN
            RETURN QUERY SELECT i, 'requests'::TEXT, r_req::NUMERIC, 0::NUMERIC; RETURN;
        END IF;
        IF p_tpm[i] IS NOT NULL AND r_tok >= p_tpm[i] THEN
            RETURN QUERY SELECT i, 'tokens'::TEXT, r_tok::NUMERIC, 0::NUMERIC; RETURN;
        END IF;
    END LOOP;
    FOR i IN 1..n_budget LOOP
        INSERT INTO clawback_gateway_budget (scope, period, win) VALUES (p_scopes[i], p_periods[i], p_wins[i])
            ON CONFLICT DO NOTHING;
        SELECT b.spent, b.reserved INTO b_spent, b_reserved FROM clawback_gateway_budget b
            WHERE b.scope = p_scopes[i] AND b.period = p_periods[i] AND b.win = p_wins[i] FOR UPDATE;
        IF b_spent + b_reserved + p_amount > p_limits[i] THEN
            RETURN QUERY SELECT i, 'budget'::TEXT, b_spent, b_reserved; RETURN;
        END IF;
    END LOOP;
    FOR i IN 1..n_rate LOOP
        UPDATE clawback_gateway_rate g SET requests = g.requests + 1 WHERE g.scope = p_rscopes[i] AND g.minute = p_minute;
    END LOOP;
    IF n_budget > 0 THEN
        FOR i IN 1..n_budget LOOP
            UPDATE clawback_gateway_budget b SET reserved = b.reserved + p_amount
                WHERE b.scope = p_scopes[i] AND b.period = p_periods[i] AND b.win = p_wins[i];
        END LOOP;
        INSERT INTO clawback_gateway_reservation (id, amount, keys, expires_at) VALUES (
            p_id, p_amount, jsonb_build_object('scopes', p_scopes, 'periods', p_periods, 'wins', p_wins), p_expires);
    END IF;
    RETURN;
END $$
"""

_SETTLE = """
CREATE OR REPLACE FUNCTION clawback_gateway_settle(
    p_id TEXT, p_actual NUMERIC, p_scopes TEXT[], p_periods TEXT[], p_wins TEXT[],
    p_rscopes TEXT[], p_minute BIGINT, p_tokens BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    held NUMERIC := 0;
BEGIN
    IF p_id IS NOT NULL THEN
        DELETE FROM clawback_gateway_reservation WHERE id = p_id RETURNING amount INTO held;
        held := coalesce(held, 0);
    END IF;
    FOR i IN 1..coalesce(array_length(p_scopes, 1), 0) LOOP
        INSERT INTO clawback_gateway_budget AS b (scope, period, win, spent) VALUES (p_scopes[i], p_periods[i], p_wins[i], p_actual)
            ON CONFLICT (scope, period, win) DO UPDATE
            SET spent = b.spent + p_actual, reserved = greatest(0, b.reserved - held);
    END LOOP;
    IF p_tokens > 0 THEN
        FOR i IN 1..coalesce(array_length(p_rscopes, 1), 0) LOOP
            INSERT INTO clawback_gateway_rate AS r (scope, minute, tokens) VALUES (p_rscopes[i], p_minute, p_tokens)
                ON CONFLICT (scope, minute) DO UPDATE SET tokens = r.tokens + p_tokens;
        END LOOP;
    END IF;
END $$
"""

_EXPIRE = """
CREATE OR REPLACE FUNCTION clawback_gateway_expire(p_now TIMESTAMPTZ) RETURNS INT LANGUAGE plpgsql AS $$
DECLARE
    rec RECORD; n INT := 0;
BEGIN
    FOR rec IN DELETE FROM clawback_gateway_reservation WHERE expires_at < p_now RETURNING amount, keys LOOP
        n := n + 1;
        FOR i IN 0..jsonb_array_length(rec.keys->'scopes') - 1 LOOP
            UPDATE clawback_gateway_budget b SET reserved = greatest(0, b.reserved - rec.amount)
                WHERE b.scope = rec.keys->'scopes'->>i AND b.period = rec.keys->'periods'->>i
                AND b.win = rec.keys->'wins'->>i;
        END LOOP;
    END LOOP;
    DELETE FROM clawback_gateway_rate WHERE minute < (extract(epoch FROM p_now)::BIGINT / 60) - 60;
    RETURN n;
END $$
"""


@GATEWAY_MIGRATIONS.add
def g002_rate_buckets(db: SchemaDb) -> None:
    """Rate limits as token buckets (GCRA): one row per scope instead of one per scope and minute."""
    db.execute(
        "CREATE TABLE clawback_gateway_bucket (scope TEXT PRIMARY KEY, "
        "requests_tat DOUBLE PRECISION NOT NULL DEFAULT 0, tokens_tat DOUBLE PRECISION NOT NULL DEFAULT 0)"
    )
    if db.dialect == "postgres":
        db.execute(_ADMIT2)
        db.execute(_SETTLE2)


def _between(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end)]


# g002's functions share these parts of g001's, word for word (g001's own text never changes)
_BUDGET_CHECKS = _between(
    _ADMIT, "    FOR i IN 1..n_budget LOOP\n        INSERT", "    FOR i IN 1..n_rate LOOP\n        UPDATE"
).replace("b_spent, b_reserved; RETURN;", "b_spent, b_reserved, 0.0::DOUBLE PRECISION; RETURN;")
_RESERVE_AND_END = _ADMIT[_ADMIT.index("    IF n_budget > 0 THEN") :]
_SETTLE_BUDGETS = _between(_SETTLE, "    IF p_id IS NOT NULL THEN", "    IF p_tokens > 0 THEN")


_ADMIT2 = (
    """
CREATE OR REPLACE FUNCTION clawback_gateway_admit2(
    p_id TEXT, p_amount NUMERIC, p_scopes TEXT[], p_periods TEXT[], p_wins TEXT[], p_limits NUMERIC[],
    p_rscopes TEXT[], p_now DOUBLE PRECISION, p_rpm BIGINT[], p_tpm BIGINT[], p_expires TIMESTAMPTZ)
RETURNS TABLE (o_index INT, o_kind TEXT, o_spent NUMERIC, o_reserved NUMERIC, o_wait DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    n_rate INT := coalesce(array_length(p_rscopes, 1), 0);
    n_budget INT := coalesce(array_length(p_scopes, 1), 0);
    r_req DOUBLE PRECISION; r_tok DOUBLE PRECISION; wait DOUBLE PRECISION;
    b_spent NUMERIC; b_reserved NUMERIC;
BEGIN
    FOR i IN 1..n_rate LOOP
        INSERT INTO clawback_gateway_bucket (scope) VALUES (p_rscopes[i]) ON CONFLICT DO NOTHING;
        SELECT g.requests_tat, g.tokens_tat INTO r_req, r_tok FROM clawback_gateway_bucket g
            WHERE g.scope = p_rscopes[i] FOR UPDATE;
        IF p_rpm[i] IS NOT NULL THEN
            IF p_rpm[i] <= 0 THEN
                RETURN QUERY SELECT i, 'requests'::TEXT, 0::NUMERIC, 0::NUMERIC, 60.0::DOUBLE PRECISION; RETURN;
            END IF;
            wait := greatest(r_req, p_now) + 60.0 / p_rpm[i] - p_now - 60.0;
            IF wait > 1e-9 THEN
                RETURN QUERY SELECT i, 'requests'::TEXT, 0::NUMERIC, 0::NUMERIC, wait; RETURN;
            END IF;
        END IF;
        IF p_tpm[i] IS NOT NULL THEN
            IF p_tpm[i] <= 0 THEN
                RETURN QUERY SELECT i, 'tokens'::TEXT, 0::NUMERIC, 0::NUMERIC, 60.0::DOUBLE PRECISION; RETURN;
            END IF;
            wait := r_tok - p_now - 60.0;
            IF wait >= -1e-9 THEN
                RETURN QUERY SELECT i, 'tokens'::TEXT, 0::NUMERIC, 0::NUMERIC, greatest(wait, 0.0); RETURN;
            END IF;
        END IF;
    END LOOP;
"""
    + _BUDGET_CHECKS
    + """    FOR i IN 1..n_rate LOOP
        IF p_rpm[i] IS NOT NULL THEN
            UPDATE clawback_gateway_bucket g SET requests_tat = greatest(g.requests_tat, p_now) + 60.0 / p_rpm[i]
                WHERE g.scope = p_rscopes[i];
        END IF;
    END LOOP;
"""
    + _RESERVE_AND_END
)


_SETTLE2 = (
    """
CREATE OR REPLACE FUNCTION clawback_gateway_settle2(
    p_id TEXT, p_actual NUMERIC, p_scopes TEXT[], p_periods TEXT[], p_wins TEXT[],
    p_rscopes TEXT[], p_now DOUBLE PRECISION, p_tokens BIGINT, p_tpm BIGINT[])
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    held NUMERIC := 0;
BEGIN
"""
    + _SETTLE_BUDGETS
    + """    IF p_tokens > 0 THEN
        FOR i IN 1..coalesce(array_length(p_rscopes, 1), 0) LOOP
            IF p_tpm[i] IS NOT NULL AND p_tpm[i] > 0 THEN
                INSERT INTO clawback_gateway_bucket AS r (scope, tokens_tat)
                    VALUES (p_rscopes[i], p_now + p_tokens * 60.0 / p_tpm[i])
                    ON CONFLICT (scope) DO UPDATE SET tokens_tat = greatest(r.tokens_tat, p_now) + p_tokens * 60.0 / p_tpm[i];
            END IF;
        END LOOP;
    END IF;
END $$
"""
)
