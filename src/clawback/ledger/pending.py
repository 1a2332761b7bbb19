"""Pending files: records the store could not take yet, kept on local disk so that none is lost.

A writer that cannot write to its store appends each record as one JSON line to its own pending
file ``<dir>/<prefix>.pending-<pid>-<token>.jsonl`` and flushes it to the OS before ``record()``
returns, so the record survives the process being killed. The writer holds an exclusive ``flock``
on its file for as long as it lives; when the store takes the records back, the file is emptied.

Whoever opens the ledger next replays every pending file whose lock is free (its writer is gone):
inserts are idempotent, so a record written twice is stored once. A file with lines that cannot be
parsed is kept, renamed ``….jsonl.bad``, after its good lines are replayed; a torn last line (a
write cut by a kill, whose ``record()`` never returned) is ignored.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from clawback.errors import StoreError, UsageError
from clawback.ledger.record import CallRecord
from clawback.ledger.store import record_json

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "PendingFile",
    "ReplayResult",
    "append_rejected",
    "insert_isolating",
    "is_data_error",
    "refused",
    "replay_pending",
]

log = logging.getLogger("clawback.ledger")


def _lock(fd: int, *, block: bool) -> bool:
    if fcntl is None:  # pragma: no cover - not POSIX
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


class PendingFile:
    """This writer's pending file: append records, read them back in order, empty it when written."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self.path: Path | None = None
        self._fd: int | None = None
        self._done = 0
        self._size = 0
        self.count = 0
        """Records appended and not yet marked written."""

    def _open(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        tmp = self.directory / f".{self.prefix}.opening-{token}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        _lock(fd, block=True)
        path = self.directory / f"{self.prefix}.pending-{token}.jsonl"
        os.replace(tmp, path)
        self.path = path
        return fd

    def append(self, records: Sequence[CallRecord]) -> None:
        """Append ``records`` and hand them to the OS (raises ``OSError`` when the disk refuses).

        A write cut short (disk full) is cut back off, so the file never holds a partial line.
        """
        if self._fd is None:
            self._fd = self._open()
        data = "".join(record_json(r) + "\n" for r in records).encode()
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)
        self.count += len(records)

    def read(self, limit: int) -> tuple[list[CallRecord], int]:
        """Up to ``limit`` unwritten records and the offset to pass to :meth:`mark_written`."""
        if self.path is None or self._done >= self._size:
            return [], self._done
        records: list[CallRecord] = []
        offset = self._done
        with self.path.open("rb") as handle:
            handle.seek(offset)
            while len(records) < limit and offset < self._size:
                line = handle.readline()
                if not line.endswith(b"\n"):
                    break
                offset += len(line)
                try:
                    records.append(CallRecord.from_json(line))
                except UsageError as exc:  # pragma: no cover - only a corrupted disk does this
                    log.error("ledger: skipping an unreadable line of %s: %s", self.path, exc)
        return records, offset

    def mark_written(self, offset: int, count: int) -> None:
        """Record that everything before ``offset`` (``count`` records) is in the store."""
        self._done = offset
        self.count -= count

    @property
    def written_offset(self) -> int:
        """The offset up to which every record is in the store."""
        return self._done

    @property
    def empty(self) -> bool:
        """True when every appended record has been written to the store."""
        return self._done >= self._size

    def reset(self) -> None:
        """Empty the file once every record in it is written (call with appends excluded)."""
        if self._fd is not None and self.empty:
            os.ftruncate(self._fd, 0)
            self._done = self._size = 0
            self.count = 0

    def close(self) -> None:
        """Close the file; remove it if nothing in it is left unwritten (else the next open replays it)."""
        if self._fd is None:
            return
        if self.empty and self.path is not None:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
        self._done = self._size = 0


_DATA_ERRORS = frozenset({"DataError", "IntegrityError", "InterfaceError", "ProgrammingError"})


def is_data_error(exc: BaseException) -> bool:
    """True when ``exc`` may be about the record itself (a bad value) rather than the store.

    A driver's error counts when it is a data, integrity, interface or programming error; any other
    exception raised while turning a record into a row (a bad decimal string, a wrong type) counts
    unless it is about I/O or the store.
    """
    if type(exc).__module__.startswith(("sqlite3", "psycopg")):
        return any(cls.__name__ in _DATA_ERRORS for cls in type(exc).__mro__)
    return not isinstance(exc, OSError | StoreError)


def refused(exc: BaseException, probe: Callable[[], None]) -> bool:
    """True when the store refused a value: a data error, and the connection still answers ``probe``.

    Drivers raise some of the same classes for a broken connection; the probe tells them apart,
    so a connection failure never sends records to the rejected file.
    """
    if not is_data_error(exc):
        return False
    try:
        probe()
    except Exception:
        return False
    return True


Reject = Callable[[Sequence[CallRecord], BaseException], None]


def insert_isolating(
    insert_many: Callable[[Sequence[CallRecord]], None],
    records: Sequence[CallRecord],
    reject: Reject,
    probe: Callable[[], None],
) -> int:
    """Insert ``records``; if the batch fails on a bad value, insert one by one and ``reject`` the bad.

    Returns how many were written. Errors that are not about a value (the store is down) propagate.
    """
    try:
        insert_many(records)
        return len(records)
    except Exception as exc:
        if not refused(exc, probe):
            raise
        if len(records) == 1:
            reject(records, exc)
            return 0
    written = 0
    for record in records:
        try:
            insert_many([record])
            written += 1
        except Exception as exc:
            if not refused(exc, probe):
                raise
            reject([record], exc)
    return written


def append_rejected(directory: Path, prefix: str, records: Sequence[CallRecord], exc: BaseException) -> Path:
    """Keep records the store refused as values in ``<prefix>.rejected.jsonl`` (ASCII JSON lines)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{prefix}.rejected.jsonl"
    reason = f"{type(exc).__name__}: {exc}"[:500]
    lines = "".join(
        json.dumps({"error": reason, "record": r.to_json()}, ensure_ascii=True, default=str) + "\n"
        for r in records
    )
    with path.open("a", encoding="ascii") as out:
        out.write(lines)
    return path


def _no_probe() -> None:
    return None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay found: files replayed, records written, unparseable lines kept aside."""

    files: int = 0
    records: int = 0
    bad_lines: int = 0


def _parse_lines(data: bytes) -> tuple[list[CallRecord], int]:
    records: list[CallRecord] = []
    bad = 0
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(CallRecord.from_json(line))
        except (UsageError, UnicodeDecodeError):
            if i < len(lines) - 1:  # the last line has no newline: a torn write, never returned
                bad += 1
    return records, bad


def replay_pending(
    directory: Path,
    prefix: str,
    insert_many: Callable[[Sequence[CallRecord]], None],
    *,
    batch: int = 500,
    reject: Reject | None = None,
    probe: Callable[[], None] | None = None,
) -> ReplayResult:
    """Write the records of every abandoned pending file of ``prefix`` and remove the files.

    A file still locked by a live writer is left alone. A record the store refuses as a value goes
    to ``reject`` (by default the rejected file beside it). If the store itself fails, the error
    propagates and the file stays for the next attempt.
    """
    if reject is None:

        def reject(records: Sequence[CallRecord], exc: BaseException) -> None:
            where = append_rejected(directory, prefix, records, exc)
            log.error("ledger: %d record(s) refused by the store kept in %s: %s", len(records), where, exc)

    files = records = bad_lines = 0
    pattern = f"{glob.escape(prefix)}.pending-*.jsonl"
    for path in sorted(directory.glob(pattern)) if directory.is_dir() else ():
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            continue
        with handle:
            if not _lock(handle.fileno(), block=False) or os.fstat(handle.fileno()).st_nlink == 0:
                continue
            found, bad = _parse_lines(handle.read())
            for start in range(0, len(found), batch):
                insert_isolating(insert_many, found[start : start + batch], reject, probe or _no_probe)
            if bad:
                path.replace(path.with_name(path.name + ".bad"))
                log.warning("ledger: %d unreadable line(s) in %s kept in %s.bad", bad, path, path.name)
            else:
                path.unlink(missing_ok=True)
        files += 1
        records += len(found)
        bad_lines += bad
    if records:
        log.info("ledger: replayed %d pending record(s) from %d file(s)", records, files)
    return ReplayResult(files, records, bad_lines)
