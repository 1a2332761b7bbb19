"""The fast path: JSON-lines logs and Claude Code transcripts read, validated and loaded inside DuckDB.

Files up to :data:`CHUNK_BYTES` are read where they are (through a link in the store's temporary
folder when DuckDB would take their name for a glob pattern); larger files are cut at line ends
into chunks of about that size there, so memory stays bounded. Groups of about
:data:`GROUP_BYTES` are read by one SQL statement each
(:func:`clawback.audit.fastpath_sql.lines_sql`). Calls of the strict shape go straight into the
``calls`` table; every other line is handed, with its real line number, to the Python reader of
its format, which reads, skips or reports it exactly as it would without the fast path. A file
DuckDB can't read at all (bytes that are not UTF-8) is read by the Python reader whole.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from clawback.audit.duckdb_engine import duckdb
from clawback.audit.fastpath_sql import CLAUDE_CODE, ID_BITS, Shape, calls_select_sql, lines_sql
from clawback.audit.readers.claude_code import NO_USAGE, SYNTHETIC
from clawback.audit.readers.jsonl import REQUEST_KEYS, TASK_KEYS, TIMESTAMP_KEYS, WORKSPACE_KEYS
from clawback.audit.records import AuditRecord, IssueLog
from clawback.audit.store import AuditStore
from clawback.errors import InputFileError
from clawback.safe_input import loads

__all__ = ["CHUNK_BYTES", "GROUP_BYTES", "FastFile", "load_fast", "probe_shape"]

CHUNK_BYTES: Final = 64 << 20
GROUP_BYTES: Final = 256 << 20
_WINDOW: Final = 1 << 20
_PROBE: Final = 64 << 10
_GLOB: Final = re.compile(r"[*?\[\]{}]")
"""Characters that make DuckDB read a path as a pattern."""
_PROBE_LINES: Final = 20
FLUSH_CALLS: Final = 2 * 122_880
"""Calls of the fast path priced into ``calls`` at once (whole row groups, as the store's own batches)."""

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
    """What DuckDB reads: the file itself, or a link or chunk in the temporary folder."""
    fno: int
    line0: int
    """Lines of the file before this piece."""
    size: int
    chunk: bool
    temporary: bool
    """True when ``staged`` is a link or chunk of ours, removed once read."""


def _whole(file: FastFile, folder: Path, fno: int) -> _Piece:
    """A file read as it is (through a link when DuckDB would take its name for a glob pattern)."""
    path = Path(os.path.abspath(file.path))
    if not _GLOB.search(str(path)):
        return _Piece(file, path, fno, 0, file.size, False, False)
    staged = folder / str(fno)
    os.symlink(path, staged)
    return _Piece(file, staged, fno, 0, file.size, False, True)


def _cut(fd: int, start: int, size: int) -> int:
    """The offset just past the last line end before ``start + CHUNK_BYTES`` (or past the next one,
    for a line longer than a chunk; the file's end when there is none)."""
    end = start + CHUNK_BYTES
    if end >= size:
        return size
    low = max(start, end - _WINDOW)
    at = os.pread(fd, end - low, low).rfind(b"\n")
    if at >= 0:
        return low + at + 1
    while end < size:  # one line longer than a chunk: read on to its end
        block = os.pread(fd, _WINDOW, end)
        at = block.find(b"\n")
        if at >= 0:
            return end + at + 1
        end += len(block) or _WINDOW
    return size


def _copy(src: int, dst: int, offset: int, count: int) -> None:
    """``count`` bytes of ``src`` from ``offset`` to ``dst``, in the kernel where it can."""
    copy_range = getattr(os, "copy_file_range", None)
    while count > 0:
        try:
            if copy_range is None:
                raise OSError
            done = copy_range(src, dst, count, offset)
        except OSError:
            done = os.write(dst, os.pread(src, min(count, _WINDOW * 8), offset))
        if done <= 0:
            raise InputFileError("the file got shorter while it was read")
        offset += done
        count -= done


def _chunks(file: FastFile, folder: Path, counter: Iterator[int]) -> Iterator[tuple[Path, int, int]]:
    """(chunk path, its number, its size) of ``file`` cut at line ends; each chunk is written just before it is yielded."""
    fd = os.open(file.path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        start = 0
        while start < size:
            cut = _cut(fd, start, size)
            fno = next(counter)
            staged = folder / str(fno)
            out = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _copy(fd, out, start, cut - start)
            finally:
                os.close(out)
            yield staged, fno, cut - start
            start = cut
    finally:
        os.close(fd)


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
        self._lenient: set[Shape] = set()
        """Shapes whose files held a line with "usage" that isn't JSON: their lines are parsed with ``TRY``."""
        self._pending = 0
        """Calls waiting in the temporary table ``fx`` to be priced into ``calls`` (see :meth:`flush`)."""
        self._keyed = False
        """True when calls with a ``call_key`` wait in ``fx`` (Claude Code's)."""
        self._flushed = False

    def _reader(self, file: FastFile) -> LineFallback:
        found = self._line_readers.get(file.src)
        if found is None:
            found = self._line_readers[file.src] = self.fallback(file)
        return found

    def run(self, fmt: Shape, pieces: Sequence[_Piece]) -> int:
        """Load one group of pieces of one shape; returns how many lines they hold."""
        if not pieces:
            return 0
        try:
            try:
                lines = self._sql(fmt, pieces)
            except duckdb.Error:  # a piece DuckDB can't read (not UTF-8): the others keep the fast path
                lines = 0
                for piece in pieces:
                    try:
                        if len(pieces) == 1:
                            raise
                        lines += self._sql(fmt, [piece])
                    except duckdb.Error:
                        lines += self._python(piece)
        finally:
            for piece in pieces:
                if piece.temporary:
                    piece.staged.unlink(missing_ok=True)
        self._advance(sum(p.size for p in pieces))
        if self._pending >= FLUSH_CALLS:
            self.flush()
        return lines

    def _sql(self, fmt: Shape, pieces: Sequence[_Piece]) -> int:
        con = self.con
        base = self.store.reserve_ids((len(pieces) + 1) << ID_BITS)
        params = {
            "files": [str(p.staged) for p in pieces],
            "base": base,
            "srcs": [p.file.src for p in pieces],
            "line0s": [p.line0 for p in pieces],
        }
        into = "INSERT INTO fx " if self._pending else "CREATE OR REPLACE TEMP TABLE fx AS "
        try:
            if fmt not in self._lenient:
                sql, params["structure"] = lines_sql(fmt, lenient=False)
                try:
                    con.execute(into + sql, params)
                except duckdb.InvalidInputException:  # a line that isn't JSON: TRY every line from now on
                    self._lenient.add(fmt)
            if fmt in self._lenient:
                sql, params["structure"] = lines_sql(fmt)
                con.execute(into + sql, params)
            mine = f"id > {int(base)}"
            counts = {
                str(kind): (int(n), int(lines))
                for kind, n, lines in con.execute(
                    f"SELECT kind, count(*), coalesce(sum(lines), 0) FROM fx WHERE {mine} GROUP BY kind"
                ).fetchall()
            }
            slow = []
            if "slow" in counts:
                slow = con.execute(
                    f"SELECT src, line, text FROM fx WHERE {mine} AND kind = 'slow' ORDER BY id"
                ).fetchall()
            if len(counts) > 1 or "call" not in counts:
                con.execute(f"DELETE FROM fx WHERE {mine} AND kind <> 'call'")
            files = {p.file.src: p.file for p in pieces}
            records = []
            for src, line, text in slow:
                record = self._reader(files[int(src)])(int(line), str(text).encode("utf-8"))
                if record is not None:
                    records.append(record)
            self.store.load(records)
        except BaseException:  # the group is read again another way: none of its rows may stay
            with contextlib.suppress(duckdb.Error):  # no table: it was never made
                con.execute(f"DELETE FROM fx WHERE id > {int(base)}")
            raise
        lines = sum(lines for _, lines in counts.values())
        self.issues.lines_read += lines
        kept = sum(n for kind, (n, _) in counts.items() if kind not in ("nousage", "end"))
        if lines - kept:
            self.issues.skip(NO_USAGE, lines - kept)
        if "synthetic" in counts:
            self.issues.skip(SYNTHETIC, counts["synthetic"][0])
        calls = counts.get("call", (0, 0))[0]
        if calls:
            self._pending += calls
            self._keyed = self._keyed or fmt.fmt == "claude-code"
        self._records(calls + len(records))
        return lines

    def flush(self, *, last: bool = False) -> None:
        """Price the calls waiting in ``fx`` into ``calls`` at once (inserting costs DuckDB several
        µs a row whatever their number, so groups' calls go together, and repeated lines never go).

        When they are all the audit's calls with a ``call_key`` (one flush, the last, and no such
        record read in Python), they are deduplicated on the way
        (:meth:`~clawback.audit.store.AuditStore.insert_settled`); otherwise :meth:`settle` does it.
        """
        if not self._pending:
            return
        con = self.con
        self.store.add_models(str(row[0]) for row in con.execute("SELECT DISTINCT model FROM fx").fetchall())
        if last and not self._flushed and self._keyed and not self.store.keyed:
            self.store.insert_settled(calls_select_sql("fx"))
        else:
            self.store.insert(calls_select_sql("fx"))
            self.store.keyed = self.store.keyed or self._keyed
        con.execute("DROP TABLE fx")
        self._pending = 0
        self._keyed = False
        self._flushed = True

    def _python(self, piece: _Piece) -> int:
        """Every line of ``piece`` through the Python reader (DuckDB could not read it)."""
        read = self._reader(piece.file)
        records = []
        number = piece.line0
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
        return number - piece.line0

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
    # pieces are read, and so numbered, in input order: rows' ids follow their (src, line) order
    # (AuditStore.insert_settled relies on it)
    files = sorted(files, key=lambda f: f.src)
    counter = iter(range(1, 1 << 62))
    for shape in dict.fromkeys(f.shape for f in files):
        group: list[_Piece] = []
        size = 0
        for file in (f for f in files if f.shape == shape):
            if file.size <= CHUNK_BYTES:
                group.append(_whole(file, folder, next(counter)))
                size += file.size
                if size >= GROUP_BYTES:
                    loader.run(shape, group)
                    group, size = [], 0
                continue
            loader.run(shape, group)  # the files before it first
            group, size = [], 0
            line0 = 0  # a big file: chunk by chunk, each chunk's first line number known from the last
            for staged, fno, length in _chunks(file, folder, counter):
                line0 += loader.run(shape, [_Piece(file, staged, fno, line0, length, True, True)])
        loader.run(shape, group)
    loader.flush(last=True)
