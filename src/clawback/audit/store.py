"""The audit's DuckDB database: calls streamed in by batches, priced as they come, grouped into tasks.

Records arrive from the readers one at a time and go to DuckDB through its appender in batches
(the fast path inserts its calls in SQL), so memory stays flat however long the log is. The
database is a file in a temporary folder, compressed by DuckDB as it is written (a few dozen
bytes a call), read back through DuckDB's buffer pool within its memory limit, never checkpointed
at the end, and removed on :meth:`AuditStore.close`; DuckDB spills its own work there too. An
audit whose inputs surely hold few calls keeps them in memory instead, compressed
(:meth:`AuditStore.keep_in_memory`): the same tables, without the cost of writing row groups.

Every call is priced on its way in (:mod:`clawback.audit.pricing_sql`: the dated rates of the
model its name resolves to), so the ``calls`` table holds its exact cost by token kind next to
its tokens. :meth:`AuditStore.settle` keeps one record per call (re-pricing the few it re-dates);
:meth:`AuditStore.prepare` finds prompt templates for unlabelled calls (:mod:`clawback.audit.tasks`)
and names their tasks; ``priced`` is the view of the calls every query reads.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from clawback.audit.duckdb_engine import duckdb
from clawback.audit.pricing_sql import RATES_DDL, priced_select, rate_rows
from clawback.audit.records import AuditRecord
from clawback.audit.tasks import (
    MIN_BRANCHES,
    MIN_TEMPLATE_CALLS,
    MIN_TEMPLATE_SHARE,
    NO_TEMPLATE,
    template_candidates,
    template_name,
)
from clawback.errors import StoreError
from clawback.pricing.catalogue import Catalogue

__all__ = ["BASE_COLUMNS", "CALL_COLUMNS", "OUTSIDE_WINDOW", "UNLABELLED", "AuditStore"]

BATCH: Final = 20_000
UNLABELLED: Final = "(unlabelled)"
_BASE_DDL: Final = """
    id BIGINT, ts TIMESTAMP, src INTEGER, line BIGINT, model VARCHAR,
    label VARCHAR, tolerant BOOLEAN, workspace VARCHAR,
    inp BIGINT, outp BIGINT, rd BIGINT, w5 BIGINT, w1 BIGINT, web BIGINT,
    tier VARCHAR, geo VARCHAR, speed VARCHAR, max_tokens BIGINT, stop VARCHAR,
    agg BOOLEAN, rep_usd DECIMAL(38,12), rep_kind VARCHAR, ts_end TIMESTAMP,
    ckey VARCHAR, relayed BOOLEAN, preview VARCHAR,
    shape VARCHAR, keys VARCHAR[], next_keys VARCHAR[], key_tokens BIGINT[]"""
_CALLS_DDL: Final = f"""
CREATE TABLE calls ({_BASE_DDL},
    model_id VARCHAR, day DATE, shaped BOOLEAN, task VARCHAR,
    c_in DECIMAL(38,9), c_w5 DECIMAL(38,9), c_w1 DECIMAL(38,9), c_rd DECIMAL(38,9), c_out DECIMAL(38,9),
    c_web DECIMAL(38,9), unpriced VARCHAR
)
"""
_INCOMING_DDL: Final = f"CREATE OR REPLACE TEMP TABLE incoming ({_BASE_DDL})"
"""Where the appender puts records, to be priced into ``calls`` by the :data:`_MOVE_ROWS`."""
_MOVE_ROWS: Final = 2 * 122_880
"""Records priced into ``calls`` at once: whole row groups, which DuckDB writes compressed straight to
the file (smaller inserts go through its write-ahead log and stay in memory until a checkpoint)."""
BASE_COLUMNS: Final = (
    "id, ts, src, line, model, label, tolerant, workspace, inp, outp, rd, w5, w1, web, tier, geo, speed, "
    "max_tokens, stop, agg, rep_usd, rep_kind, ts_end, ckey, relayed, preview, shape, keys, next_keys, key_tokens"
)
"""The columns of ``calls`` a record fills (the rest are its price, from :meth:`AuditStore.insert`)."""
CALL_COLUMNS: Final = (
    "id, ts, src, line, model, label, tolerant, workspace, inp, outp, rd, w5, w1, web, tier, geo, speed, "
    "max_tokens, stop, agg, rep_usd, rep_kind, ts_end, ckey, relayed"
)
"""The columns of ``calls`` every record fills (the shape columns are NULL for calls without request data)."""
_PRICED_VIEW: Final = "CREATE OR REPLACE VIEW priced AS SELECT * EXCLUDE (preview, shape, keys, next_keys, key_tokens) FROM calls"
_DB: Final = "audit"
"""The name the store's database file is attached under."""
REPEATED: Final = "repeated line of an API call already counted"
RELAYED_KNOWN: Final = "subagent call relayed in the parent transcript (counted from its own transcript)"
RELAYED_REPEATED: Final = "repeated progress line of a relayed subagent call"
OUTSIDE_WINDOW: Final = "outside --since/--until"
_DEDUPE: Final = """
CREATE OR REPLACE TEMP TABLE dd AS
SELECT id, ckey, relayed,
       row_number() OVER (PARTITION BY ckey, relayed ORDER BY outp DESC, src, line) AS rn,
       first_value(ts) OVER w AS ts0, first_value(src) OVER w AS src0, first_value(line) OVER w AS line0
FROM calls WHERE ckey IS NOT NULL
WINDOW w AS (PARTITION BY ckey, relayed ORDER BY src, line)
"""


def _naive_utc(ts: datetime) -> datetime:
    """``ts`` as a naive UTC datetime (DuckDB's TIMESTAMP)."""
    if ts.tzinfo is None:
        return ts
    return (ts if ts.tzinfo is UTC else ts.astimezone(UTC)).replace(tzinfo=None)


class AuditStore:
    """One audit's calls in DuckDB (a temporary on-disk database unless a path is given)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, catalogue: Catalogue, *, cleanup: Path | None = None
    ) -> None:
        self.con = con
        self.catalogue = catalogue
        self._cleanup = cleanup
        self._next_id = 0
        self._models: set[str] = set()
        self.keyed = False
        """True once a record with a ``call_key`` was loaded (deduplication is needed)."""
        self._settled: dict[str, int] = {}
        """Lines skipped by :meth:`insert_settled` (reported by :meth:`settle`)."""
        self._schema()

    def _schema(self) -> None:
        con = self.con
        con.execute(_CALLS_DDL)
        con.execute(_INCOMING_DDL)
        con.execute(RATES_DDL)
        appender = con.appender("rates")
        appender.append_rows(list(rate_rows(self.catalogue)))
        appender.flush()
        con.execute("CREATE OR REPLACE TABLE models (model VARCHAR, model_id VARCHAR)")
        con.execute(_PRICED_VIEW)

    def keep_in_memory(self) -> None:
        """Hold the calls in memory (compressed) instead of in the file: for an audit known to be small.

        Writing row groups to the file costs about 1 µs a call more than keeping them in memory;
        a large audit needs the file (in memory, calls past DuckDB's memory limit would be spilled
        uncompressed). Only before anything is loaded, and only for a store :meth:`open` made.
        """
        if self._cleanup is None or self._next_id or self._models:
            return
        con = self.con
        try:
            con.execute("USE memory")
            con.execute(f"DETACH {_DB}")
            for leftover in self._cleanup.glob("audit.duckdb*"):
                leftover.unlink(missing_ok=True)
            con.execute(f"ATTACH ':memory:' AS {_DB} (COMPRESS)")
            con.execute(f"USE {_DB}")
            self._schema()
        except (OSError, duckdb.Error) as exc:
            raise StoreError(f"cannot create the audit database: {exc}") from exc

    @classmethod
    def open(
        cls,
        catalogue: Catalogue,
        *,
        workdir: Path | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> AuditStore:
        """A fresh store in a temporary folder (under ``workdir`` if given), removed on close."""
        try:
            folder = Path(tempfile.mkdtemp(prefix="clawback-audit-", dir=workdir))
            con = duckdb.connect(":memory:")
            con.execute(f"ATTACH '{folder / 'audit.duckdb'}' AS {_DB}")
            con.execute(f"USE {_DB}")
            con.execute("SET checkpoint_on_detach = 'DISABLED'")
            con.execute("SET checkpoint_threshold = '1TB'")  # a checkpoint costs ~1 µs for each row so far
            con.execute(f"SET temp_directory = '{folder / 'spill'}'")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET TimeZone = 'UTC'")
            if memory_limit:
                con.execute(f"SET memory_limit = '{memory_limit}'")
            if threads:
                con.execute(f"SET threads = {int(threads)}")
        except (OSError, duckdb.Error) as exc:
            raise StoreError(f"cannot create the audit database: {exc}") from exc
        return cls(con, catalogue, cleanup=folder)

    def close(self) -> None:
        """Close the connection and remove the temporary folder (idempotent; the database is never checkpointed)."""
        try:
            if self._cleanup is not None:
                try:
                    self.con.execute("USE memory")
                    self.con.execute(f"DETACH {_DB}")
                except duckdb.Error:
                    pass  # closed already, or never attached (a store on a connection of its own)
            self.con.close()
        finally:
            if self._cleanup is not None:
                shutil.rmtree(self._cleanup, ignore_errors=True)
                self._cleanup = None

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading ---------------------------------------------------------------------------

    @property
    def folder(self) -> Path | None:
        """The store's temporary folder (removed on close), for files the fast path stages."""
        return self._cleanup

    def reserve_ids(self, count: int) -> int:
        """Reserve ``count`` call ids for rows inserted in SQL; returns the first id minus one."""
        base = self._next_id
        self._next_id += count
        return base

    def _row(self, r: AuditRecord) -> tuple[Any, ...]:
        self._next_id += 1
        shape = keys = following = key_tokens = None
        if r.shape is not None:
            shape = json.dumps(r.shape.to_json(), separators=(",", ":"))
            keys, following, key_tokens = (
                template_candidates(r.shape) if r.shape.blocks else (None, None, None)
            )
        ts = _naive_utc(r.ts)
        if r.call_key is not None:
            self.keyed = True
        return (
            self._next_id, ts, r.source, r.line, r.model,
            r.task, r.latency_tolerant, r.workspace,
            r.input_tokens, r.output_tokens, r.cache_read_input_tokens,
            r.cache_write_5m_input_tokens, r.cache_write_1h_input_tokens, r.web_search_requests,
            r.service_tier, r.inference_geo, r.speed, r.max_tokens, r.stop_reason,
            r.aggregated, r.reported_usd, r.reported_kind, r.until and _naive_utc(r.until),
            r.call_key, r.relayed, r.preview, shape, keys, following, key_tokens,
        )  # fmt: skip

    def load(self, records: Iterable[AuditRecord], *, on_batch: Callable[[int], None] | None = None) -> int:
        """Append ``records`` in batches, each priced into ``calls``; returns how many were appended."""
        first = self._next_id
        appender = self.con.appender("incoming")
        pending = waiting = 0
        for record in records:
            appender.append_row(*self._row(record))
            pending += 1
            if pending >= BATCH:
                appender.flush()
                waiting += pending
                if waiting >= _MOVE_ROWS:
                    self._take_incoming()
                    waiting = 0
                if on_batch is not None:
                    on_batch(pending)
                pending = 0
        appender.flush()
        if pending or waiting:
            self._take_incoming()
        if on_batch is not None and pending:
            on_batch(pending)
        return self._next_id - first

    def _take_incoming(self) -> None:
        """Price the batch in ``incoming`` into ``calls`` and empty it."""
        self.add_models(
            str(row[0]) for row in self.con.execute("SELECT DISTINCT model FROM incoming").fetchall()
        )
        self.insert("incoming")
        self.con.execute("DELETE FROM incoming")

    def add_models(self, names: Iterable[str]) -> None:
        """Resolve the model names not seen yet against the catalogue (the ``models`` table)."""
        new = [name for name in dict.fromkeys(names) if name not in self._models]
        if not new:
            return
        appender = self.con.appender("models")
        for name in new:
            info = self.catalogue.get(name)
            appender.append_row(name, info.id if info else None)
        appender.flush()
        self._models.update(new)

    def insert(self, source: str) -> None:
        """``INSERT INTO calls`` the rows of ``source`` (a table or a parenthesised query with the
        :data:`BASE_COLUMNS`, their models added by :meth:`add_models`) with their task and price."""
        usage = f"""(
            SELECT s.*, m.model_id, CAST(s.ts AS DATE) AS day, s.shape IS NOT NULL AS shaped,
                   coalesce(s.label, CASE WHEN s.keys IS NULL THEN '{UNLABELLED}' ELSE '{NO_TEMPLATE}' END) AS task
            FROM {source} s LEFT JOIN models m ON m.model = s.model
        )"""
        self.con.execute(f"INSERT INTO calls BY NAME {priced_select(usage, keep='u.*')}")

    def insert_settled(self, source: str) -> None:
        """:meth:`insert` the rows of the table ``source`` keeping one per API call, as :meth:`settle` would.

        For the only rows with a ``call_key`` of the audit (``keyed`` stays False, so :meth:`settle`
        has nothing left to do): deduplicated before they are priced, in one grouping instead of
        deletes and a re-dated re-insert. The kept row of a call is the one with the most output
        tokens (then the first), dated by the call's first row; relayed calls also held first-hand
        are dropped. The ids of ``source``'s keyed rows follow their (src, line) order (the fast
        path numbers its rows so), which lets the grouping compare plain numbers.
        """
        con = self.con
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE sg AS
            SELECT ckey, relayed, count(*) AS n,
                   arg_min(id, CAST(-outp AS HUGEINT) * 9223372036854775808 + id) AS keep,
                   arg_min(ts, id) AS ts0, arg_min(src, id) AS src0, arg_min(line, id) AS line0
            FROM {source} WHERE ckey IS NOT NULL GROUP BY ckey, relayed
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE sk AS
            SELECT g.*, g.relayed AND EXISTS (SELECT 1 FROM sg d WHERE d.ckey = g.ckey AND NOT d.relayed) AS known
            FROM sg g
            """
        )
        row = con.execute(
            """
            SELECT coalesce(sum(n) FILTER (WHERE known), 0), coalesce(sum(n - 1) FILTER (WHERE NOT relayed), 0),
                   coalesce(sum(n - 1) FILTER (WHERE relayed AND NOT known), 0)
            FROM sk
            """
        ).fetchall()[0]
        for reason, gone in zip((RELAYED_KNOWN, REPEATED, RELAYED_REPEATED), row, strict=True):
            if gone:
                self._settled[reason] = self._settled.get(reason, 0) + int(gone)
        self.insert(
            f"""(
            SELECT s.* REPLACE (k.ts0 AS ts, k.src0 AS src, k.line0 AS line)
            FROM {source} s JOIN sk k ON s.id = k.keep WHERE NOT k.known
            UNION ALL BY NAME
            SELECT * FROM {source} WHERE ckey IS NULL
            )"""
        )
        con.execute("DROP TABLE sk")
        con.execute("DROP TABLE sg")

    def count(self) -> int:
        """Calls (and buckets) loaded so far, after :meth:`settle` one per API call."""
        return int(self.con.execute("SELECT count(*) FROM calls").fetchall()[0][0])

    def settle(self, since: datetime | None = None, until: datetime | None = None) -> dict[str, int]:
        """Keep one record per API call and drop calls outside ``[since, until)``; skipped lines by reason.

        Calls logged over several lines (same ``call_key``) keep the line with the most output tokens
        (a stream's final count), dated by their first line. A relayed call is dropped when a record
        of the audit holds the same call first-hand, and otherwise counted once.
        """
        con = self.con
        skipped, self._settled = self._settled, {}
        if self.keyed:
            con.execute(_DEDUPE)
            for reason, where in (
                (RELAYED_KNOWN, "relayed AND ckey IN (SELECT ckey FROM dd WHERE NOT relayed)"),
                (REPEATED, "NOT relayed AND rn > 1"),
                (RELAYED_REPEATED, "relayed AND rn > 1"),
            ):
                gone = con.execute(
                    f"DELETE FROM calls WHERE id IN (SELECT id FROM dd WHERE {where})"
                ).fetchall()[0][0]
                con.execute(f"DELETE FROM dd WHERE {where}")
                if gone:
                    skipped[reason] = skipped.get(reason, 0) + int(gone)
            redated = ", ".join(
                f"dd.{col}0 AS {col}" if col in ("ts", "src", "line") else f"c.{col}"
                for col in BASE_COLUMNS.split(", ")
            )
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE moved AS SELECT {redated}
                FROM calls c JOIN dd ON c.id = dd.id WHERE c.src <> dd.src0 OR c.line <> dd.line0
                """
            )
            con.execute("DELETE FROM calls WHERE id IN (SELECT id FROM moved)")
            self.insert("moved")  # re-dated: priced again (the day may differ)
            con.execute("DROP TABLE moved")
            con.execute("DROP TABLE dd")
        bounds = [
            f"ts < '{_naive_utc(since)}'" if since else "",
            f"ts >= '{_naive_utc(until)}'" if until else "",
        ]
        outside = " OR ".join(b for b in bounds if b)
        if outside:
            gone = con.execute(f"DELETE FROM calls WHERE {outside}").fetchall()[0][0]
            if gone:
                skipped[OUTSIDE_WINDOW] = int(gone)
        return skipped

    def has_shapes(self) -> bool:
        """True when some call carries request data (shapes): only then can caching be replayed."""
        return bool(self.con.execute("SELECT count(*) FROM calls WHERE shape IS NOT NULL").fetchall()[0][0])

    def relayed_calls(self) -> tuple[int, int]:
        """Relayed calls counted (their own transcript missing) and the files they came from."""
        row = self.con.execute("SELECT count(*), count(DISTINCT src) FROM calls WHERE relayed").fetchall()[0]
        return int(row[0]), int(row[1])

    def records_by_source(self) -> dict[int, int]:
        """Calls (and buckets) kept per input index."""
        return {
            int(s): int(n)
            for s, n in self.con.execute("SELECT src, count(*) FROM calls GROUP BY src").fetchall()
        }

    # -- preparing -------------------------------------------------------------------------

    def prepare(self) -> None:
        """Name the tasks of unlabelled calls with request data from the prompt templates they share."""
        self._find_templates()
        self.con.execute(
            """
            UPDATE calls SET task = n.name FROM tpl_pick p JOIN tpl_names n ON n.key = p.key
            WHERE calls.id = p.id AND calls.label IS NULL
            """
        )

    def _find_templates(self) -> None:
        con = self.con
        unlabelled = con.execute(
            "SELECT count(*) FROM calls WHERE label IS NULL AND keys IS NOT NULL"
        ).fetchall()
        least = max(MIN_TEMPLATE_CALLS, math.ceil(MIN_TEMPLATE_SHARE * int(unlabelled[0][0])))
        con.execute(
            f"""
            CREATE OR REPLACE TABLE tpl_stats AS
            WITH k AS (
                SELECT unnest(keys) AS key, unnest(next_keys) AS nxt, unnest(key_tokens) AS tokens
                FROM calls WHERE label IS NULL AND keys IS NOT NULL
            )
            SELECT key, count(*) AS n, count(DISTINCT nxt) AS branches, max(tokens) AS tokens
            FROM k GROUP BY key HAVING count(*) >= {least} AND count(DISTINCT nxt) >= {MIN_BRANCHES}
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TABLE tpl_pick AS
            WITH k AS (
                SELECT id, unnest(keys) AS key, generate_subscripts(keys, 1) AS depth
                FROM calls WHERE label IS NULL AND keys IS NOT NULL
            )
            SELECT k.id, arg_max(k.key, k.depth) AS key FROM k JOIN tpl_stats s USING (key) GROUP BY k.id
            """
        )
        keys = [row[0] for row in con.execute("SELECT DISTINCT key FROM tpl_pick").fetchall()]
        con.execute("CREATE OR REPLACE TABLE tpl_names (key VARCHAR, name VARCHAR)")
        if keys:
            appender = con.appender("tpl_names")
            appender.append_rows([(key, template_name(key)) for key in keys])
            appender.flush()

    def templates(self) -> dict[str, tuple[str | None, int, int]]:
        """Each template task found: the first words of its prompt (when logged) and its first call's input and line."""
        rows = self.con.execute(
            """
            SELECT n.name, c.preview, c.src, c.line FROM tpl_pick p JOIN calls c ON c.id = p.id
            JOIN tpl_names n ON n.key = p.key
            QUALIFY row_number() OVER (PARTITION BY n.name ORDER BY c.src, c.line) = 1
            """
        ).fetchall()
        return {str(name): (preview, int(src), int(line)) for name, preview, src, line in rows}

    def shaped_calls(self) -> duckdb.DuckDBPyConnection:
        """A cursor over calls with shapes, per model in time order (all workspaces interleaved).

        Columns: ``id, ts, workspace, model_id, task, shape, prompt tokens, output tokens``.
        """
        cursor = self.con.cursor()
        if self._cleanup is not None:
            cursor.execute(f"USE {_DB}")  # a cursor starts in the default (in-memory) database
        cursor.execute(
            """
            SELECT id, ts, workspace, model_id, task, shape, inp + rd + w5 + w1 AS prompt, outp
            FROM calls WHERE shape IS NOT NULL AND model_id IS NOT NULL
            ORDER BY model_id, ts, id
            """
        )
        return cursor
