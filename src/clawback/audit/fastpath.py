"""The fast path: JSON-lines logs and Claude Code transcripts read, validated and loaded inside DuckDB.

Files are staged in the store's temporary folder under numbered names (a symbolic link for a file
up to :data:`CHUNK_BYTES`; larger files are cut at line ends into chunks of about that size, so
memory stays bounded) and read in groups of about :data:`GROUP_BYTES` by one SQL statement each
(:func:`clawback.audit.fastpath_sql.lines_sql`). Calls of the strict shape go straight into the
``calls`` table; every other line is handed, with its real line number, to the Python reader of
its format, which reads, skips or reports it exactly as it would without the fast path. A file
DuckDB can't read at all (bytes that are not UTF-8) is read by the Python reader whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb

from clawback.audit.fastpath_sql import CLAUDE_CODE, Shape, calls_insert_sql, lines_sql
from clawback.audit.readers.claude_code import NO_USAGE, SYNTHETIC
from clawback.audit.readers.jsonl import REQUEST_KEYS, TASK_KEYS, TIMESTAMP_KEYS, WORKSPACE_KEYS
from clawback.audit.records import AuditRecord, IssueLog
from clawback.audit.store import AuditStore
from clawback.errors import InputFileError
from clawback.safe_input import loads

__all__ = ["CHUNK_BYTES", "GROUP_BYTES", "FastFile", "load_fast", "probe_shape"]

CHUNK_BYTES: Final = 32 << 20
GROUP_BYTES: Final = 64 << 20
_PROBE: Final = 64 << 10
_PROBE_LINES: Final = 20

LineFallback = Callable[[int, bytes], AuditRecord | None]


@dataclass(frozen=True, slots=True)
class FastFile:
    """One input for the fast path: its index in the audit, where it is, its format and its name."""

    src: int
    path: Path
    shape: Shape
    name: str
    size: int


def _first(line: dict[str, object], keys: tuple[str, ...], default: str) -> str:
    return next((k for k in keys if k in line), default)


def probe_shape(path: Path, fmt: str) -> Shape | None:
    """The shape of a file's lines (which alias of each field), or None when the fast path can't help.

    A Claude Code transcript has one shape. A JSON-lines log's first lines with usage decide; a log
    whose lines carry request bodies (shapes are built in Python) is better read in Python.
    """
    if fmt == "claude-code":
        return CLAUDE_CODE
    try:
        with path.open("rb") as handle:
            head = handle.read(_PROBE)
    except OSError:
        return None
    for raw in head.splitlines()[:_PROBE_LINES]:
        if b'"usage"' not in raw:
            continue
        try:
            line = loads(raw)
        except InputFileError:
            continue
        if not isinstance(line, dict):
            continue
        if any(key in line for key in REQUEST_KEYS):
            return None
        return Shape(
            "jsonl",
            ts=_first(line, TIMESTAMP_KEYS, "timestamp"),
            task=_first(line, TASK_KEYS, "task"),
            workspace=_first(line, WORKSPACE_KEYS, "workspace"),
            response="response" if "response" in line else "",
        )
    return Shape("jsonl")


@dataclass(frozen=True, slots=True)
class _Piece:
    file: FastFile
    staged: Path
    line0: int
    """Lines of the file before this piece."""
    size: int
    chunk: bool


def _pieces(file: FastFile, folder: Path, counter: Iterator[int]) -> Iterator[_Piece]:
    """``file`` staged whole (a link) or, past :data:`CHUNK_BYTES`, as chunks cut at line ends."""
    if file.size <= CHUNK_BYTES:
        staged = folder / str(next(counter))
        os.symlink(os.path.abspath(file.path), staged)
        yield _Piece(file, staged, 0, file.size, False)
        return
    line0 = 0
    with file.path.open("rb") as handle:
        rest = b""
        while True:
            block = handle.read(CHUNK_BYTES)
            data = rest + block
            if not data:
                return
            cut = data.rfind(b"\n") + 1 if block else len(data)
            if cut == 0:  # one line longer than a chunk: read on to its end
                rest = data
                continue
            piece, rest = data[:cut], data[cut:]
            staged = folder / str(next(counter))
            staged.write_bytes(piece)
            yield _Piece(file, staged, line0, len(piece), True)
            line0 += piece.count(b"\n")
            if not block:
                return


class _Loader:
    """One fast-path load: groups staged pieces, runs the SQL, hands the rest to the Python readers."""

    def __init__(
        self,
        store: AuditStore,
        issues: IssueLog,
        fallback: Callable[[FastFile], LineFallback],
        progress: object,
    ) -> None:
        self.store = store
        self.con = store.con
        self.issues = issues
        self.fallback = fallback
        self.progress = progress
        self._line_readers: dict[int, LineFallback] = {}
        self.con.execute("CREATE OR REPLACE TEMP TABLE fmap (fno INTEGER, src INTEGER, line0 BIGINT)")

    def _reader(self, file: FastFile) -> LineFallback:
        found = self._line_readers.get(file.src)
        if found is None:
            found = self._line_readers[file.src] = self.fallback(file)
        return found

    def run(self, fmt: Shape, pieces: Sequence[_Piece]) -> None:
        """Load one group of pieces of one shape."""
        if not pieces:
            return
        try:
            try:
                self._sql(fmt, pieces)
            except duckdb.Error:  # a piece DuckDB can't read (not UTF-8): the others keep the fast path
                for piece in pieces:
                    try:
                        if len(pieces) == 1:
                            raise
                        self._sql(fmt, [piece])
                    except duckdb.Error:
                        self._python(piece)
        finally:
            for piece in pieces:
                piece.staged.unlink(missing_ok=True)
        self._advance(sum(p.size for p in pieces))

    def _sql(self, fmt: Shape, pieces: Sequence[_Piece]) -> None:
        con = self.con
        con.execute("DELETE FROM fmap")
        con.executemany(
            "INSERT INTO fmap VALUES (?, ?, ?)", [(int(p.staged.name), p.file.src, p.line0) for p in pieces]
        )
        sql, structure = lines_sql(fmt)
        con.execute(sql, {"files": [str(p.staged) for p in pieces], "structure": structure})
        counts = dict(con.execute("SELECT kind, count(*) FROM fx GROUP BY kind").fetchall())
        lines = int(con.execute("SELECT coalesce(sum(lines), 0) FROM fx").fetchall()[0][0])
        self.issues.lines_read += lines
        kept = sum(int(n) for kind, n in counts.items() if kind not in ("nousage", "end"))
        if lines - kept:
            self.issues.skip(NO_USAGE, lines - kept)
        if counts.get("synthetic"):
            self.issues.skip(SYNTHETIC, int(counts["synthetic"]))
        calls = int(counts.get("call", 0))
        if calls:
            con.execute(calls_insert_sql(self.store.reserve_ids(calls)))
            if fmt.fmt == "claude-code":
                self.store.keyed = True
        by_fno = {int(p.staged.name): p for p in pieces}
        slow = con.execute("SELECT fno, n, line FROM fx WHERE kind = 'slow' ORDER BY fno, n").fetchall()
        con.execute("DROP TABLE fx")
        records = []
        for fno, n, line in slow:
            piece = by_fno[int(fno)]
            record = self._reader(piece.file)(piece.line0 + int(n), str(line).encode("utf-8"))
            if record is not None:
                records.append(record)
        self.store.load(records)
        self._records(calls + len(records))

    def _python(self, piece: _Piece) -> None:
        """Every line of ``piece`` through the Python reader (DuckDB could not read it)."""
        read = self._reader(piece.file)
        records = []
        try:
            with piece.staged.open("rb") as handle:
                for number, raw in enumerate(handle, start=piece.line0 + 1):
                    self.issues.lines_read += 1
                    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                        raw = raw[3:]
                    if raw.strip():
                        record = read(number, raw)
                        if record is not None:
                            records.append(record)
        except OSError as exc:
            raise InputFileError(f"cannot read {piece.file.name}: {exc.strerror or exc}") from exc
        self.store.load(records)
        self._records(len(records))

    def _advance(self, size: int) -> None:
        report = getattr(self.progress, "read_bytes", None)
        if report is not None:
            report(size)

    def _records(self, count: int) -> None:
        report = getattr(self.progress, "advance", None)
        if report is not None and count:
            report(count)


def load_fast(
    store: AuditStore,
    files: Sequence[FastFile],
    issues: IssueLog,
    fallback: Callable[[FastFile], LineFallback],
    progress: object = None,
) -> None:
    """Load ``files`` (JSON-lines or Claude Code) into ``store``; lines the SQL can't vouch for go to ``fallback``."""
    if store.folder is None:
        raise InputFileError("the fast path needs the audit's temporary folder")
    folder = store.folder / "fast"
    folder.mkdir(exist_ok=True)
    loader = _Loader(store, issues, fallback, progress)
    counter = iter(range(1, 1 << 62))
    for shape in dict.fromkeys(f.shape for f in files):
        group: list[_Piece] = []
        size = 0
        for file in (f for f in files if f.shape == shape):
            for piece in _pieces(file, folder, counter):
                if piece.chunk:  # a big file: chunk by chunk (a chunk's first line number is known only then)
                    loader.run(shape, group)
                    group, size = [], 0
                    loader.run(shape, [piece])
                    continue
                group.append(piece)
                size += piece.size
                if size >= GROUP_BYTES:
                    loader.run(shape, group)
                    group, size = [], 0
        loader.run(shape, group)
    store.con.execute("DROP TABLE IF EXISTS fmap")
