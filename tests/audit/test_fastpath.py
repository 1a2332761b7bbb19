"""The DuckDB fast path reads exactly what the Python readers read: same calls, same counts, same line numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawback.audit.loading import LoadOptions, load_inputs
from clawback.audit.records import IssueLog
from clawback.audit.store import AuditStore
from clawback.pricing import load_catalogue

CATALOGUE = load_catalogue()
COLUMNS = (
    "ts, src, line, model, label, tolerant, workspace, inp, outp, rd, w5, w1, web, tier, geo, speed, stop, "
    "ckey, relayed, max_tokens, shape IS NOT NULL"
)


def _load(path: Path, fmt: str, fast: bool, tmp: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    issues = IssueLog()
    with AuditStore.open(CATALOGUE, workdir=tmp) as store:
        load_inputs(store, [str(path)], CATALOGUE, LoadOptions(format=fmt, fast=fast), issues)
        rows = store.con.execute(f"SELECT {COLUMNS} FROM calls ORDER BY src, line, relayed").fetchall()
    return rows, issues.to_json()


def assert_same(path: Path, fmt: str, tmp: Path) -> list[tuple[Any, ...]]:
    """Both paths give the same calls and issues; returns the calls (the fast path's, by SQL or not)."""
    fast_rows, fast_issues = _load(path, fmt, True, tmp)
    slow_rows, slow_issues = _load(path, fmt, False, tmp)
    assert fast_rows == slow_rows
    assert fast_issues == slow_issues
    return fast_rows


# -- values: mostly valid, now and then not ------------------------------------------------------


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else ``bad``."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 0 else good)


counts = mostly(
    st.integers(0, 10**6),
    st.sampled_from([0, 10**15, 10**15 + 1, -1, 2**64, 1.5, 2.0, True, "7", None]),
)
texts = mostly(
    st.sampled_from(["triage", "prod", "é中", "s-1", "claude-sonnet-5-5"]),
    st.one_of(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
        st.sampled_from(['a"b', "back\\slash", "", "<synthetic>"]),
    ),
)
maybe_text = mostly(texts, st.sampled_from([None, 5, True, ["x"], {"a": 1}]))
iso = mostly(
    st.sampled_from(["2026-11-10T09:00:01Z", "2026-11-10T09:00:01.5Z", "2026-11-10T09:00:01.123456Z"]),
    st.sampled_from([
        "2026-11-10T09:00:01.1234567Z", "2026-11-10 09:00:01", "2026-11-10T09:00:01+00:00",
        "2026-11-10T10:00:01+01:00", "2026-11-10", "2026-02-30T00:00:00Z", "2026-11-10T24:00:00Z",
        "1999-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "yesterday",
    ]),
)  # fmt: skip
stamps = mostly(iso, st.sampled_from([1762765201, 1762765201500, 1762765201.5, 0, -5, 10**20, True, None]))
models = mostly(
    st.sampled_from(["claude-sonnet-5-5", "claude-haiku-4-5-20251001", "acme-llm-2"]),
    st.sampled_from(["", None, 5, "<synthetic>"]),
)


@st.composite
def usages(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, "x", 5, [], {}]))
    use: dict[str, Any] = {}
    for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        if draw(st.integers(0, 5)):
            use[key] = draw(counts)
    if draw(st.booleans()):
        use["cache_creation"] = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={"ephemeral_5m_input_tokens": counts, "ephemeral_1h_input_tokens": counts},
                ),
                st.sampled_from([None, 5, "x"]),
            )
        )
    if draw(st.integers(0, 5)) == 0:
        use["server_tool_use"] = draw(
            st.one_of(st.fixed_dictionaries({"web_search_requests": counts}), st.just({}))
        )
    for key in ("service_tier", "inference_geo", "speed"):
        if draw(st.integers(0, 3)) == 0:
            use[key] = draw(st.one_of(st.sampled_from(["standard", "batch", "us", "fast", ""]), maybe_text))
    return use


@st.composite
def jsonl_lines(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 30))
    if kind == 0:
        return draw(st.sampled_from(["", "   ", "{broken", "[1, 2]", '"text"', '{"usage": 1,}', "\ufeff{}"]))
    line: dict[str, Any] = {}
    keys = mostly(
        st.just(["timestamp"]),
        st.lists(st.sampled_from(["timestamp", "ts", "time"]), max_size=2, unique=True),
    )
    for key in draw(keys):
        line[key] = draw(stamps)
    for group in (("task", "task_label", "label"), ("workspace", "workspace_id", "api_key_id")):
        chosen = mostly(
            st.lists(st.just(group[0]), max_size=1), st.lists(st.sampled_from(group), max_size=2, unique=True)
        )
        for key in draw(chosen):
            line[key] = draw(maybe_text)
    if draw(st.integers(0, 3)) == 0:
        line["latency_tolerant"] = draw(st.sampled_from([True, False, None, "yes", 1]))
    if draw(st.integers(0, 3)) == 0:
        line["metadata"] = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "task": maybe_text,
                        "workspace": maybe_text,
                        "latency_tolerant": st.sampled_from([True, 1, None]),
                    },
                ),
                st.sampled_from([None, "x", []]),
            )
        )
    response: dict[str, Any] = {"model": draw(models), "usage": draw(usages())}
    if draw(st.integers(0, 4)) == 0:
        response["stop_reason"] = draw(st.one_of(st.sampled_from(["end_turn", "max_tokens"]), maybe_text))
    if draw(st.integers(0, 10)) == 0:
        response["type"] = draw(st.sampled_from(["error", "message", 5]))
    where = draw(st.integers(0, 20))
    if where == 0:
        line.update(response)  # a bare response
    elif where == 1:
        line["result"] = draw(
            st.sampled_from([{"type": "succeeded", "message": response}, {"type": "errored"}])
        )
    elif where == 2:
        line["request"] = {
            "model": "claude-haiku-5-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        }
        line["response"] = response
    elif where == 3:
        line["response"] = draw(st.sampled_from([None, "x", 5]))
    else:
        line["response"] = response
    if draw(st.integers(0, 30)) == 0:
        line["error"] = {"type": "overloaded_error"}
    return json.dumps(line, ensure_ascii=draw(st.booleans()))


@st.composite
def claude_code_lines(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 20))
    if kind == 0:
        return draw(
            st.sampled_from([
                "", "{broken", "[1]", '{"type": "user", "message": {"role": "user"}}',
                # not JSON, yet with "usage": parsed to NULL by TRY, then read (and reported) in Python
                '{"type": "assistant", "message": {"usage": {"input_tokens": 1}',
                '{"type": "assistant", "message": {"model": "m", "usage": {"input_tokens": NaN}}}',
                '{"type": "assistant", "message": {"usage": {"input_tokens": 1},}}',
                # usage" without "usage": parsed, and found without usage
                '{"type": "user", "total_usage": {"input_tokens": 1}, "message": {"role": "user"}}',
            ])
        )  # fmt: skip
    if kind == 1:
        return json.dumps(
            {"type": "user", "timestamp": draw(stamps), "message": {"role": "user", "content": "usage"}}
        )
    ids = mostly(st.sampled_from(["msg_a", "msg_b", "msg_c"]), st.sampled_from(["", None, 5]))
    message = {"id": draw(ids), "model": draw(models), "usage": draw(usages())}
    if draw(st.booleans()):
        message["stop_reason"] = draw(st.one_of(st.just("end_turn"), maybe_text))
    if kind in (2, 3):  # a subagent's call relayed in its parent's transcript
        inner: dict[str, Any] = {
            "message": message,
            "requestId": draw(st.sampled_from(["req_a", "req_z", None])),
        }
        if draw(st.booleans()):
            inner["timestamp"] = draw(stamps)
        # now and then what holds the relayed call is not an object at all
        relayed = mostly(st.just(inner), st.sampled_from([None, "x", 5, [inner], {}]))
        data = mostly(
            st.fixed_dictionaries({"type": st.just("agent_progress"), "message": relayed}),
            st.sampled_from([None, "x", 7, []]),
        )
        line = {
            "type": draw(st.sampled_from(["progress", "progress", "other"])),
            "timestamp": draw(stamps),
            "sessionId": draw(maybe_text),
            "data": draw(data),
        }
        if draw(st.integers(0, 10)) == 0:  # a progress line that also holds a call of its own
            line["message"] = message
            line["requestId"] = "req_own"
        return json.dumps(line, ensure_ascii=draw(st.booleans()))  # fmt: skip
    line: dict[str, Any] = {
        "type": "assistant",
        "timestamp": draw(stamps),
        "requestId": draw(mostly(st.sampled_from(["req_a", "req_b", "req_c"]), st.sampled_from([None, 7]))),
        "sessionId": draw(maybe_text),
        "message": message,
    }
    if draw(st.booleans()):
        line["isSidechain"] = draw(st.sampled_from([True, False, None, "yes"]))
    if draw(st.integers(0, 3)) == 0:
        line["agentId"] = draw(st.sampled_from(["a1", "acompact-9", None, 3]))
    return json.dumps(line, ensure_ascii=draw(st.booleans()))


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(lines=st.lists(jsonl_lines(), min_size=1, max_size=25))
def test_jsonl_lines_read_the_same_either_way(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same(path, "jsonl", tmp_path)


@SETTINGS
@given(lines=st.lists(claude_code_lines(), min_size=1, max_size=25))
def test_claude_code_lines_read_the_same_either_way(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "session.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert_same(path, "claude-code", tmp_path)


@pytest.mark.parametrize(
    "raw",
    [
        b'\xef\xbb\xbf{"timestamp": "2026-11-10T09:00:01Z", "response": {"model": "m", "usage": {"input_tokens": 1}}}\n',
        b'{"timestamp": "2026-11-10T09:00:01Z", "response": {"model": "m", "usage": {"input_tokens": 1}}}\r\n\r\n',
        b'{"timestamp": "2026-11-10T09:00:01Z", "response": {"model": "\xff", "usage": {"input_tokens": 1}}}\n'
        b'{"timestamp": "2026-11-10T09:00:02Z", "response": {"model": "m", "usage": {"input_tokens": 2}}}',
    ],
    ids=["bom", "crlf-and-blank", "not-utf8"],
)
def test_edge_bytes_read_the_same_either_way(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(raw)
    rows = assert_same(path, "jsonl", tmp_path)
    assert rows, "the valid line is read"


def test_a_file_cut_into_chunks_keeps_its_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file larger than a chunk is read in pieces; line numbers run on across them."""
    from clawback.audit import fastpath

    monkeypatch.setattr(fastpath, "CHUNK_BYTES", 400)
    good = '{"timestamp": "2026-11-10T09:00:%02dZ", "task": "t", "response": {"model": "m", "usage": {"input_tokens": %d}}}'
    lines = [good % (i % 60, i) for i in range(40)]
    lines[17] = '{"timestamp": "2026-11-10T09:00:00Z", "response": {'
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = assert_same(path, "jsonl", tmp_path)
    assert [r[2] for r in rows] == [i + 1 for i in range(40) if i != 17]
    _, issues = _load(path, "jsonl", True, tmp_path)
    assert [(i["line"], i["reason"]) for i in issues["malformed_shown"]] == [(18, "not valid JSON")]


def test_a_file_whose_name_reads_as_a_glob_pattern_is_read_as_itself(tmp_path: Path) -> None:
    good = '{"timestamp": "2026-11-10T09:00:01Z", "response": {"model": "m", "usage": {"input_tokens": %d}}}'
    odd = tmp_path / "log[1]*?.jsonl"
    odd.write_text(good % 1 + "\n")
    (tmp_path / "log1x.jsonl").write_text(good % 2 + "\n")  # a file the pattern would match
    rows = assert_same(odd, "jsonl", tmp_path)
    assert [r[7] for r in rows] == [1]


REQUEST = json.dumps({"model": "x", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]})


def _line(**fields: Any) -> str:
    usage = {"input_tokens": 5, "output_tokens": 2}
    line: dict[str, Any] = {"response": {"model": "claude-sonnet-5-5", "usage": usage}}
    line.update(fields)
    return json.dumps(line)


@pytest.mark.parametrize(
    "lines",
    [
        # the shape's timestamp is "ts": an earlier alias wins in the Python reader even when null
        [_line(ts="2026-11-10T09:00:01Z"), _line(timestamp=None, ts="2026-11-10T09:00:02Z")],
        [_line(ts="2026-11-10T09:00:01Z"), _line(ts="2026-11-10T09:00:02Z", time="2026-11-10T09:00:03Z")],
        # a later alias is read when the shape's own is missing, and not when it is null
        [_line(timestamp="2026-11-10T09:00:01Z", task="t"), _line(timestamp="2026-11-10T09:00:02Z", label="x")],
        [_line(timestamp="2026-11-10T09:00:01Z", task="t"), _line(timestamp="2026-11-10T09:00:02Z", label=None)],
        [_line(timestamp="2026-11-10T09:00:01Z", task=None, label="y", workspace_id="w")],
        [_line(timestamp="2026-11-10T09:00:01Z", task="error", workspace="request")],  # words as values
        # keys the shape doesn't expect, null or not, escaped or not
        [_line(timestamp="2026-11-10T09:00:01Z", error=None, result=None, request=None)],
        [_line(timestamp="2026-11-10T09:00:01Z", error={"type": "overloaded_error"})],
        [
            _line(timestamp="2026-11-10T09:00:01Z"),
            _line(timestamp="2026-11-10T09:00:02Z").replace('"response"', f'"re\\u0071uest": {REQUEST}, "response"'),
            _line(timestamp="2026-11-10T09:00:03Z").replace('"response"', '"\\u0065rror": {}, "response"'),
        ],
        [
            _line(timestamp="2026-11-10T09:00:01Z").replace('"usage"', '"error": null, "usage"'),
            _line(timestamp="2026-11-10T09:00:02Z").replace('"usage"', '"error": {"type": "x"}, "usage"'),
        ],
        # metadata: an object with or without the fields the audit reads, or not an object
        [_line(timestamp="2026-11-10T09:00:01Z", metadata=m) for m in ({}, {"x": 1}, {"task": None}, "x", [], 5)],
        [_line(timestamp="2026-11-10T09:00:01Z", metadata={"task": "m", "workspace": "w", "latency_tolerant": True})],
    ],
    ids=[
        "earlier-null", "later-ts", "later-task", "later-null", "null-and-later", "words-as-values",
        "unexpected-null", "error", "escaped-keys", "response-error", "metadata-odd", "metadata",
    ],
)  # fmt: skip
def test_aliases_and_unexpected_keys_read_the_same_either_way(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same(path, "jsonl", tmp_path)


def _cc(
    ts: str,
    mid: str,
    rid: str,
    out: int,
    *,
    inp: int = 3,
    relayed: bool = False,
    model: str = "claude-sonnet-5-5",
) -> str:
    message = {"id": mid, "model": model, "usage": {"input_tokens": inp, "output_tokens": out}}
    if relayed:
        return json.dumps({"type": "progress", "timestamp": ts, "sessionId": "s",
                           "data": {"type": "agent_progress", "message": {"message": message, "requestId": rid}}})  # fmt: skip
    return json.dumps(
        {"type": "assistant", "timestamp": ts, "requestId": rid, "sessionId": "s", "message": message}
    )


def _two_transcripts(tmp_path: Path) -> Path:
    folder = tmp_path / "projects"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        "\n".join([
            _cc("2026-11-10T23:59:58Z", "msg_1", "req_1", 1, inp=1),  # a stream: the first line dates it
            _cc("2026-11-11T00:00:01Z", "msg_1", "req_1", 9, inp=2),
            _cc("2026-11-11T00:00:02Z", "msg_1", "req_1", 9, inp=3),  # a tie: the earlier line wins
            _cc("2026-11-11T00:00:03Z", "msg_2", "req_2", 4, relayed=True),  # held first-hand in b
            _cc("2026-11-11T00:00:04Z", "msg_2", "req_2", 5, relayed=True),
            _cc("2026-11-11T00:00:05Z", "msg_3", "req_3", 6, relayed=True),  # only relayed, repeated
            _cc("2026-11-11T00:00:06Z", "msg_3", "req_3", 7, relayed=True, model="claude-haiku-4-5-20251001"),
            _cc("2026-11-11T00:00:07Z", "msg_4", "", 2),
        ]),
        encoding="utf-8",
    )  # fmt: skip
    (folder / "b.jsonl").write_text(
        "\n".join([
            _cc("2026-11-11T00:00:09Z", "msg_2", "req_2", 5),
            _cc("2026-11-11T00:00:10Z", "msg_1", "req_1", 9, inp=7),  # the same call in another file
            _cc("2026-11-11T00:00:11Z", "msg_4", "", 3),
        ]),
        encoding="utf-8",
    )  # fmt: skip
    return folder


def _load_all(path: Path, fast: bool, tmp: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    issues = IssueLog()
    with AuditStore.open(CATALOGUE, workdir=tmp) as store:
        load_inputs(store, [str(path)], CATALOGUE, LoadOptions(format="claude-code", fast=fast), issues)
        rows = store.con.execute(
            f"SELECT {COLUMNS}, c_in + c_out, day FROM calls ORDER BY src, line, relayed"
        ).fetchall()
    return rows, issues.to_json()


@pytest.mark.parametrize("flush", [1, 1 << 20], ids=["flushed-by-groups", "deduplicated-on-insert"])
def test_repeated_and_relayed_calls_kept_once_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flush: int
) -> None:
    """Calls deduplicated before they are priced (one flush) or after (several) match the Python path."""
    from clawback.audit import fastpath

    monkeypatch.setattr(fastpath, "FLUSH_CALLS", flush)
    monkeypatch.setattr(fastpath, "GROUP_BYTES", 1)  # a group per file
    folder = _two_transcripts(tmp_path)
    fast_rows, fast_issues = _load_all(folder, True, tmp_path)
    slow_rows, slow_issues = _load_all(folder, False, tmp_path)
    assert fast_rows == slow_rows
    assert fast_issues == slow_issues
    assert len(fast_rows) == 4  # msg_1 (dated by its first line), msg_2 first-hand, msg_3 relayed, msg_4
    first = fast_rows[0]
    assert (first[1], first[2], first[7], first[8]) == (0, 1, 2, 9)
    assert str(first[-1]) == "2026-11-10"


def test_a_call_in_a_small_file_and_a_chunked_one_is_kept_as_the_python_reader_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big file is read chunk by chunk while the small files before it wait for their group: those
    are read first, so rows are numbered in input order and a call held in both keeps the earlier
    file's line (and its date), as the Python reader keeps it."""
    from clawback.audit import fastpath

    folder = _two_transcripts(tmp_path)
    small = (folder / "a.jsonl").stat().st_size
    pad = json.dumps({"type": "user", "message": {"role": "user", "content": "x" * 200}})
    big = folder / "b.jsonl"
    big.write_text(big.read_text(encoding="utf-8") + ("\n" + pad) * 40, encoding="utf-8")
    monkeypatch.setattr(fastpath, "CHUNK_BYTES", small + 10)  # a.jsonl whole, b.jsonl in chunks
    monkeypatch.setattr(fastpath, "GROUP_BYTES", 1 << 30)  # a.jsonl waits in a group
    fast_rows, fast_issues = _load_all(folder, True, tmp_path)
    slow_rows, slow_issues = _load_all(folder, False, tmp_path)
    assert fast_rows == slow_rows
    assert fast_issues == slow_issues
    first = fast_rows[0]
    assert (first[1], first[2], first[7], first[8]) == (
        0,
        1,
        2,
        9,
    )  # a.jsonl's stream, dated by its first line
