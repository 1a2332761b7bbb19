"""The SQL of the fast path: JSON lines split, parsed, checked and typed inside DuckDB (pure text).

:func:`lines_sql` reads a group of files (``$files``; a file's number is its place in that list) and yields
one row per line worth a row, each with its kind:

========= =====================================================================================
kind      what the line is
========= =====================================================================================
call      a billed call of the strict shape: its typed fields follow
synthetic a Claude Code ``<synthetic>`` message (counted, skipped)
nousage   a whole JSON object without usage (counted, skipped; Claude Code only)
blank     a blank line
slow      anything else: the Python reader reads it, with its messages and line number
========= =====================================================================================

In a Claude Code transcript, lines without ``"usage"`` that look like whole JSON objects (``{``
first, ``}`` last) are not parsed: they hold no call; they get no row but are counted from
``lines`` (the file's number of lines, on the row of its first line). Every other line that starts
with ``{`` is parsed once (``json_transform`` of every field the audit reads, as JSON text; the
call a progress line relays is parsed again from its object's text, on progress lines only). Each
field is then checked against the strict shape with cheap tests on its text: strings without
escapes, counts written as plain digits from 0 to 10^15, objects where objects belong, a timestamp
``YYYY-MM-DD[T ]hh:mm:ss[.ffffff]`` with ``Z``, ``+00:00`` or no zone (or, in JSON-lines logs,
epoch seconds/milliseconds) in 2023–2100. A line that fails a test, holds a key the shape doesn't
expect (a request body, an error, a batch result, another alias of a field), or isn't strict JSON
(``NaN``, ``Infinity``, ``,}``, ``,]``) goes to the slow path, which decides.

A JSON-lines :class:`Shape` says which alias of each field a file uses and whether usage sits in
``response`` or at the top level (found from the file's first lines); lines using anything else go
to the slow path too. Keys the shape doesn't expect are found by parsing (escaped key names
included), and must be absent or null (where null reads like absent); an alias that would come
before the shape's own (which the Python reader would pick even when null) is searched for in the
line's text. Known leniency: a line otherwise of the strict shape is read even when it repeats a
key (the first one counts), nests deeper than 128 levels, or holds an integer over 30 digits in a
field the audit doesn't read, where the Python reader would call it malformed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from clawback.safe_input import MAX_YEAR, MIN_YEAR

__all__ = ["CALL_COLUMNS", "CLAUDE_CODE", "ID_BITS", "Shape", "calls_select_sql", "lines_sql"]

_ISO: Final = (
    r'"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'
    r'(?:\.[0-9]{1,6})?(?:Z|\+00:00)?"'
)
"""An ISO timestamp's JSON text (the year's range is checked on the parsed value)."""
_EPOCH: Final = "[1-9][0-9]{0,13}"
_MAX_COUNT: Final = 10**15
_QUOTED_PROGRESS: Final = '"progress"'
_QUOTED_SYNTHETIC: Final = '"<synthetic>"'
_COUNTS: Final = (
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens",
    "server_tool_use.web_search_requests",
)  # fmt: skip
_TEXTS: Final = ("service_tier", "inference_geo", "speed")
_TS_KEYS: Final = ("timestamp", "ts", "time", "created_at", "start_time")
_TASK_KEYS: Final = ("task", "task_label", "label")
_WS_KEYS: Final = ("workspace", "workspace_id", "api_key_id")
ID_BITS: Final = 32
"""A call's id is ``base + (file number << ID_BITS) + line number`` (a piece has fewer lines than 2^32)."""
_JSONL_SLOW: Final = ("request", "request_body", "params", "result", "error", "response_body")


@dataclass(frozen=True, slots=True)
class Shape:
    """Which fields a file's lines use: the format and, for JSON-lines logs, the alias of each field."""

    fmt: str
    ts: str = "timestamp"
    task: str = "task"
    workspace: str = "workspace"
    response: str = "response"
    """Where the usage sits: ``response`` or ``""`` (a bare response object on the line)."""


CLAUDE_CODE: Final = Shape("claude-code")


# -- tests on one field's JSON text (NULL: the key is absent or null) --------------------------------


def _plain(j: str) -> str:
    """A string without escapes (so without quotes inside), absent or null."""
    return f"({j} IS NULL OR (prefix({j}, '\"') AND NOT contains({j}, '\\')))"


def _nonempty(j: str) -> str:
    """A non-empty string without escapes."""
    return f"(prefix({j}, '\"') AND {j} <> '\"\"' AND NOT contains({j}, '\\'))"


def _not_escaped(j: str) -> str:
    """Anything but a string with escapes (metadata's fields and the response's type)."""
    return f"({j} IS NULL OR NOT prefix({j}, '\"') OR NOT contains({j}, '\\'))"


def _bool(j: str) -> str:
    return f"({j} IS NULL OR {j} IN ('true', 'false'))"


def _count(j: str) -> str:
    """Plain digits from 0 to 10^15 (``u_<name>``, the text cast, must print back as the text)."""
    u = "u" + j[1:]
    return f"({j} IS NULL OR ({u} <= {_MAX_COUNT} AND CAST({u} AS VARCHAR) = {j}))"


def _col(name: str) -> str:
    return name.replace(".", "_")


def _unquoted(col: str) -> str:
    """The text inside the quotes of the JSON string in ``col`` (``col[2:-2]``, which DuckDB slices
    character by character; ``substring`` takes a fast path over ASCII). Used bare where a call's
    checks guarantee a string without escapes (or NULL); the value on any other line is never read."""
    return f"substring({col}, 2, length({col}) - 2)"


def _text(col: str) -> str:
    """The value of a JSON string (checked: no escapes) held in column ``col``, NULL for anything else."""
    return f"(CASE WHEN prefix({col}, '\"') THEN {_unquoted(col)} END)"


_USAGE_STRUCT: Final = {
    "input_tokens": "JSON", "output_tokens": "JSON", "cache_read_input_tokens": "JSON",
    "cache_creation_input_tokens": "JSON",
    "cache_creation": {"ephemeral_5m_input_tokens": "JSON", "ephemeral_1h_input_tokens": "JSON"},
    "server_tool_use": {"web_search_requests": "JSON"},
    "service_tier": "JSON", "inference_geo": "JSON", "speed": "JSON",
}  # fmt: skip
_META_STRUCT: Final = {"task": "JSON", "workspace": "JSON", "latency_tolerant": "JSON"}
"""``metadata``: read as an object; an object without these fields (or not an object) is for the slow path."""
_MESSAGE_STRUCT: Final = {"id": "JSON", "model": "JSON", "stop_reason": "JSON", "usage": _USAGE_STRUCT}


def _usage_picks(u: str) -> list[str]:
    """Columns ``j_<field>`` with the JSON text of each usage field of the struct ``u``, and ``usage_ok``.

    A nested object (``cache_creation``, ``server_tool_use``) read as a struct can't tell ``{}`` from
    a value of another type: both give empty fields. The fast path takes it only absent, null, or
    with a field it knows; anything else is for the slow path to judge.
    """
    cols = [f"CAST({u}.{name} AS VARCHAR) AS j_{_col(name)}" for name in (*_COUNTS, *_TEXTS)]
    cc, stu = f"{u}.cache_creation", f"{u}.server_tool_use"
    cols.append(
        f"""({u}.input_tokens IS NOT NULL OR {u}.output_tokens IS NOT NULL)
            AND ({cc} IS NULL OR {cc}.ephemeral_5m_input_tokens IS NOT NULL OR {cc}.ephemeral_1h_input_tokens IS NOT NULL)
            AND ({stu} IS NULL OR {stu}.web_search_requests IS NOT NULL) AS usage_ok"""
    )
    return cols


def _usage_casts(u: str) -> str:
    """``u_<count>``: each count's text in the struct ``u`` cast to UBIGINT (NULL when it isn't a
    whole number), beside its text (:func:`_usage_picks`), which DuckDB computes once."""
    return ", ".join(f"TRY_CAST(CAST({u}.{c} AS VARCHAR) AS UBIGINT) AS u_{_col(c)}" for c in _COUNTS)


def _usage_ok() -> str:
    """The usage fields of the strict shape: counts in plain digits, texts without escapes."""
    return " AND ".join(
        ["usage_ok", *(_count(f"j_{_col(c)}") for c in _COUNTS), *(_plain(f"j_{t}") for t in _TEXTS)]
    )


def _split(plain: bool, lenient: bool) -> str:
    """Every line of the staged files worth a row, classified before parsing (``plain``: Claude Code).

    The filter uses only cheap tests (DuckDB repeats a filter's expressions where it pushes it down):
    a Claude Code line without ``"usage"`` that looks like a whole object is dropped here and
    counted from ``lines``; the first line of each file always stays (it carries ``lines``). In a
    JSON-lines log every line that starts with ``{`` is parsed (one without usage fails the checks).
    """
    whole = "(prefix(line, '{') AND (suffix(line, '}') OR suffix(line, E'}\\r')))"
    # every line with "usage" has usage" (searched from its rarer first letter); a line with only
    # the latter is parsed and found without usage: rare, and cheaper than searching every kept line twice
    usage = "contains(line, 'usage\"')"
    keep = f"n = 1 OR {usage} OR NOT {whole}" if plain else "n < total OR line <> ''"
    parse = "prefix(line, '{')"
    if plain:
        # a whole line past the first was kept for its usage": parsing decides
        kind = f"""CASE WHEN n = total AND line = '' THEN 'end'
                 WHEN (n = 1 OR NOT {whole}) AND NOT contains(line, '"usage"') THEN
                     CASE WHEN {whole} THEN 'nousage' WHEN regexp_full_match(line, '[ \\t\\r\\x0b\\x0c]*') THEN 'blank' ELSE 'slow' END
                 WHEN {parse} THEN 'parse'
                 ELSE 'slow' END"""
    else:
        kind = f"""CASE WHEN n = total AND line = '' THEN 'end'
                 WHEN {parse} THEN 'parse'
                 WHEN regexp_full_match(line, '[ \\t\\r\\x0b\\x0c]*') THEN 'blank'
                 ELSE 'slow' END"""
    # the transform of a line that is not to be parsed is that of NULL (a CASE around the transform
    # would copy its whole struct); without TRY a line parsed is never NULL
    transform = "json_transform(CASE WHEN cls = 'parse' THEN line END, $structure)"
    if lenient:
        parse = f"""p0 AS (SELECT fno, n, line, cls, lines, TRY({transform}) AS v FROM c),
    p AS (SELECT fno, n, line, CASE WHEN cls = 'parse' AND v IS NULL THEN 'slow' ELSE cls END AS cls, lines, v FROM p0)"""
    else:
        parse = f"p AS (SELECT fno, n, line, cls, lines, {transform} AS v FROM c)"
    return f"""
    f0 AS (SELECT CAST(list_position($files, filename) AS INTEGER) AS fno, string_split(content, E'\\n') AS ls
           FROM read_text($files)),
    f AS (SELECT fno, ls, len(ls) AS total, len(ls) - CASE WHEN ls[-1] = '' THEN 1 ELSE 0 END AS lines FROM f0),
    l AS (SELECT fno, unnest(ls) AS line, generate_subscripts(ls, 1) AS n, total, lines FROM f),
    l2 AS (SELECT * FROM l WHERE {keep}),
    c AS (SELECT fno, n, line, CASE WHEN n = 1 THEN lines END AS lines, {kind} AS cls FROM l2),
    {parse}"""


def _typed(ts: str) -> str:
    """The typed columns of a call from the picked JSON texts (``j_*``, ``u_*``); ``s5``, ``w1``, ``total_w``."""

    def count(name: str) -> str:
        return f"coalesce(CAST(u_{_col(name)} AS BIGINT), 0)"

    return f"""{ts} AS ts, {_unquoted("j_model")} AS model,
        {count("input_tokens")} AS inp, {count("output_tokens")} AS outp, {count("cache_read_input_tokens")} AS rd,
        {count("cache_creation.ephemeral_5m_input_tokens")} AS s5,
        {count("cache_creation.ephemeral_1h_input_tokens")} AS w1,
        CAST(u_cache_creation_input_tokens AS BIGINT) AS total_w,
        {count("server_tool_use.web_search_requests")} AS web,
        {_unquoted("j_service_tier")} AS tier, nullif({_unquoted("j_inference_geo")}, '') AS geo,
        {_unquoted("j_speed")} AS speed, {_unquoted("j_stop")} AS stop"""


def _finish(prelude: str = "") -> str:
    """The kind of each line from ``s`` (picked texts with ``sig_ok`` and the typed columns of
    :func:`_typed`) and the columns of calls."""
    return f"""
    k AS (
        SELECT *, CASE
            WHEN cls <> 'parse' THEN cls
            {prelude}
            WHEN sig_ok AND (total_w IS NULL OR s5 + w1 <= total_w) AND ts IS NOT NULL
                 AND year(ts) BETWEEN {MIN_YEAR} AND {MAX_YEAR} THEN 'call'
            ELSE 'slow' END AS kind
        FROM s
    )
    SELECT $base + (CAST(fno AS BIGINT) << {ID_BITS}) + n AS id, CAST($srcs[fno] AS INTEGER) AS src,
           CAST($line0s[fno] AS BIGINT) + n AS line, kind, lines, CASE WHEN kind = 'slow' THEN line END AS text,
           ts, model, task AS label, tolerant, workspace, inp, outp, rd,
           CASE WHEN total_w > s5 + w1 THEN total_w - w1 ELSE s5 END AS w5, w1, web, tier, geo, speed, stop,
           ckey, relayed
    FROM k"""


_ISO_TS: Final = f"TRY_CAST({_unquoted('j_ts')} AS TIMESTAMP)"
"""The time of an ISO timestamp's JSON text already checked against :data:`_ISO`."""


def _claude_code() -> tuple[str, dict[str, Any]]:
    # a relayed call sits in ``data.message`` of a progress line: kept as JSON text, parsed again
    # only on progress lines (the others would pay for its empty struct on every line)
    structure = {
        "type": "JSON", "timestamp": "JSON", "requestId": "JSON", "sessionId": "JSON", "isSidechain": "JSON",
        "agentId": "JSON", "message": _MESSAGE_STRUCT, "data": {"message": "JSON"},
    }  # fmt: skip
    inner = json.dumps({"timestamp": "JSON", "requestId": "JSON", "message": _MESSAGE_STRUCT})
    relayed = (  # a line with usage of its own is read as that call, whatever it relays
        f"CASE WHEN v.message.usage IS NULL AND CAST(v.type AS VARCHAR) = '{_QUOTED_PROGRESS}' "
        f"THEN json_transform(v.data.message, '{inner}') END"
    )
    relay_ts = "CASE WHEN w.timestamp IS NULL OR CAST(w.timestamp AS VARCHAR) = 'null' THEN v.timestamp ELSE w.timestamp END"
    checks = " AND ".join(
        [
            f"regexp_full_match(j_ts, '{_ISO}')", _nonempty("j_model"), _plain("j_mid"), _plain("j_rid"),
            _plain("j_stop"), _plain("j_sid"), _bool("j_side"), _plain("j_agent"), _usage_ok(),
        ]
    )  # fmt: skip
    prelude = (
        f"WHEN NOT (direct OR relay) THEN 'nousage' WHEN j_model = '{_QUOTED_SYNTHETIC}' THEN 'synthetic'"
    )
    sql = f"""
    q1 AS (SELECT fno, n, cls, line, lines, v, v.message.usage IS NOT NULL AS direct, {relayed} AS w FROM p),
    q AS (
        SELECT fno, n, cls, line, lines, v, direct, w.message.usage IS NOT NULL AS relay,
               CASE WHEN direct THEN v.message ELSE w.message END AS m,
               CAST(CASE WHEN direct THEN v.requestId ELSE w.requestId END AS VARCHAR) AS j_rid,
               CAST(CASE WHEN direct THEN v.timestamp ELSE {relay_ts} END AS VARCHAR) AS j_ts
        FROM q1
    ),
    r AS (
        SELECT fno, n, cls, line, lines, direct, relay, j_rid, j_ts, {", ".join(_usage_picks("m.usage"))},
               {_usage_casts("m.usage")},
               CAST(m.model AS VARCHAR) AS j_model, CAST(m.id AS VARCHAR) AS j_mid,
               CAST(m.stop_reason AS VARCHAR) AS j_stop, CAST(v.sessionId AS VARCHAR) AS j_sid,
               CAST(CASE WHEN direct THEN v.isSidechain END AS VARCHAR) AS j_side,
               CAST(CASE WHEN direct THEN v.agentId END AS VARCHAR) AS j_agent
        FROM q
    ),
    s AS (
        SELECT *, {checks} AS sig_ok, {_typed(_ISO_TS)},
               coalesce({_unquoted("j_sid")}, '') AS workspace, NULL::BOOLEAN AS tolerant, relay AS relayed,
               CASE WHEN relay THEN 'claude-code/subagent'
                    WHEN prefix({_unquoted("j_agent")}, 'acompact') THEN 'claude-code/compaction'
                    WHEN j_side = 'true' THEN 'claude-code/subagent' ELSE 'claude-code/main' END AS task,
               CASE WHEN coalesce({_unquoted("j_mid")}, '') <> '' OR coalesce({_unquoted("j_rid")}, '') <> ''
                    THEN coalesce({_unquoted("j_mid")}, '') || '|' || coalesce({_unquoted("j_rid")}, '') END AS ckey
        FROM r
    ),
    {_finish(prelude)}"""
    return sql, structure


def _unexpected(shape: Shape) -> tuple[list[str], list[str]]:
    """(keys that must be absent or null, keys whose mere presence sends a line to the slow path).

    The Python reader takes the first alias of a field present in a line, even a null one: an alias
    listed after the shape's own must be absent or null (else it would be read when the shape's own
    is missing), and one listed before it must be absent altogether.
    """
    later: list[str] = []
    earlier: list[str] = []
    for keys, own in ((_TS_KEYS, shape.ts), (_TASK_KEYS, shape.task), (_WS_KEYS, shape.workspace)):
        at = keys.index(own) if own in keys else len(keys)
        earlier += keys[:at]
        later += [k for k in keys[at:] if k != own]
    nulls = [*_JSONL_SLOW, *later] + ([] if shape.response else ["response"])
    return nulls, earlier


def _jsonl(shape: Shape) -> tuple[str, dict[str, Any]]:
    message: dict[str, Any] = {
        "type": "JSON", "model": "JSON", "stop_reason": "JSON", "error": "JSON", "usage": _USAGE_STRUCT,
    }  # fmt: skip
    nulls, earlier = _unexpected(shape)
    structure: dict[str, Any] = dict.fromkeys(nulls, "JSON")
    structure.update({
        shape.ts: "JSON", shape.task: "JSON", shape.workspace: "JSON", "latency_tolerant": "JSON", "metadata": _META_STRUCT,
    })  # fmt: skip
    if shape.response:
        structure[shape.response] = message
        m = f"v.{shape.response}"
    else:
        structure.update(message)
        m = "v"
    absent = " AND ".join(
        f'v."{key}" IS NULL' for key in dict.fromkeys([*nulls, "error"]) if key in structure
    )
    if shape.response:
        absent += f" AND {m}.error IS NULL"
    n = "CAST(j_ts AS BIGINT)"
    ts = (
        f"CASE WHEN prefix(j_ts, '\"') THEN {_ISO_TS} "
        f"ELSE make_timestamp(CASE WHEN {n} > 100000000000 THEN {n} * 1000 ELSE {n} * 1000000 END) END"
    )
    plain = {"ts": f'v."{shape.ts}"', "task": f'v."{shape.task}"', "ws": f'v."{shape.workspace}"',
             "tol": "v.latency_tolerant", "mtask": "v.metadata.task", "mws": "v.metadata.workspace",
             "mtol": "v.metadata.latency_tolerant", "type": f"{m}.type", "model": f"{m}.model",
             "stop": f"{m}.stop_reason"}  # fmt: skip
    picks = [
        *(f"CAST({expr} AS VARCHAR) AS j_{name}" for name, expr in plain.items()),
        *_usage_picks(f"{m}.usage"),
        _usage_casts(f"{m}.usage"),
        f"({absent}) AS absent_ok",
        "v.metadata IS NULL OR v.metadata.task IS NOT NULL OR v.metadata.workspace IS NOT NULL "
        "OR v.metadata.latency_tolerant IS NOT NULL AS meta_ok",
    ]
    checks = [
        f"regexp_full_match(j_ts, '(?:{_ISO}|{_EPOCH})')", _plain("j_task"), _plain("j_ws"), _bool("j_tol"),
        "meta_ok", _not_escaped("j_mtask"), _not_escaped("j_mws"),
        _not_escaped("j_type"), _nonempty("j_model"), _plain("j_stop"), _usage_ok(), "absent_ok",
        "coalesce(j_type, '') <> '\"error\"'",
    ]  # fmt: skip
    if earlier:
        checks.append(f"""NOT regexp_matches(line, '"(?:{"|".join(earlier)})"')""")
    sql = f"""
    r AS (SELECT fno, n, cls, line, lines, {", ".join(picks)} FROM p),
    s AS (
        SELECT *, {" AND ".join(checks)} AS sig_ok, {_typed(ts)},
               coalesce(nullif({_text("j_task")}, ''), nullif({_text("j_mtask")}, '')) AS task,
               coalesce(nullif({_text("j_ws")}, ''), nullif({_text("j_mws")}, ''), '') AS workspace,
               CASE WHEN j_tol IN ('true', 'false') THEN j_tol = 'true'
                    WHEN j_mtol IN ('true', 'false') THEN j_mtol = 'true' END AS tolerant,
               NULL::VARCHAR AS ckey, false AS relayed
        FROM r
    ),
    {_finish()}"""
    return sql, structure


def lines_sql(shape: Shape, *, lenient: bool = True) -> tuple[str, str]:
    """A query of the classified lines of ``$files``, and the ``$structure`` parameter to pass.

    Each row has the call's ``id`` (``$base`` plus its place: file number and line), input
    index and line number (``$srcs`` and ``$line0s``: each file's input index and lines before
    it), its ``kind``, ``lines`` (on a file's first row), the ``text`` of a slow line, and the
    columns of :data:`CALL_COLUMNS` a call of the fast path fills.

    With ``lenient``, a line that starts with ``{`` but isn't JSON (or that DuckDB can't
    transform) is parsed to NULL by ``TRY`` (DuckDB re-reads a vector with a failing line row by
    row) and becomes ``slow``. Without it such a line fails the whole statement (then run it again
    lenient), and the others are parsed about 7% faster.
    """
    body, structure = _claude_code() if shape.fmt == "claude-code" else _jsonl(shape)
    return f"WITH {_split(shape.fmt == 'claude-code', lenient)}, {body}", json.dumps(structure)


CALL_COLUMNS: Final = (
    "id, ts, src, line, model, label, tolerant, workspace, inp, outp, rd, w5, w1, web, tier, geo, speed, "
    "stop, ckey, relayed"
)
"""The columns of the store's ``calls`` a call of the fast path fills (the others are NULL or false)."""


def calls_select_sql(table: str) -> str:
    """The rows of ``table`` (of :func:`lines_sql`, calls only) as records with every base column of
    the store's ``calls``, for :meth:`~clawback.audit.store.AuditStore.insert`."""
    return f"""(
    SELECT {CALL_COLUMNS}, NULL::BIGINT AS max_tokens, false AS agg, NULL::DECIMAL(38,12) AS rep_usd,
           NULL::VARCHAR AS rep_kind, NULL::TIMESTAMP AS ts_end, NULL::VARCHAR AS preview,
           NULL::VARCHAR AS shape, NULL::VARCHAR[] AS keys, NULL::VARCHAR[] AS next_keys,
           NULL::BIGINT[] AS key_tokens
    FROM {table}
    )"""
