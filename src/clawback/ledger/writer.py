"""The write path: ``record()`` never raises into the caller and never waits on a failing store.

Two modes (see docs/ledger.md):

* ``sync`` (default): ``record()`` inserts and commits before it returns, so every call that has
  returned to its caller has its row (SQLite in WAL mode: one prepared INSERT, no fsync).
* ``async``: ``record()`` queues the record; a background thread writes queued records every
  ``flush_interval_s`` or ``batch_size`` records. Bound: a hard kill loses at most the records
  still queued, never more than ``max_queue``; past that ``record()`` sends them to the pending
  file before returning.

On a failure (locked or full database, server down) the writer counts it, logs one warning per
outage, drops the connection and goes *degraded*: from then on ``record()`` appends records to a
local pending file (flushed to the OS, so a kill doesn't lose them) without touching the store,
and a background thread reconnects with backoff, writes the pending records, and returns the
writer to normal. Only if the pending file can't be written either are records held in memory
(at most ``max_queue``, the rest counted as ``dropped`` and logged as errors).

Locks are always taken in the order drain → store → state; the state lock is held only briefly.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Literal

from clawback.ledger.options import LedgerStats, Maintenance, Mode, WriterOptions
from clawback.ledger.pending import (
    PendingFile,
    append_rejected,
    insert_isolating,
    refused,
    replay_pending,
)
from clawback.ledger.record import CallRecord
from clawback.ledger.store import LedgerStore

__all__ = ["LedgerStats", "LedgerWriter", "Maintenance", "Mode", "WriterOptions"]  # options re-exported

log = logging.getLogger("clawback.ledger")

_Outcome = Literal["idle", "more", "failed"]


_LIVE: weakref.WeakSet[LedgerWriter] = weakref.WeakSet()
_ATEXIT = threading.Lock()
_atexit_registered = False


def _close_all_at_exit() -> None:
    for writer in list(_LIVE):
        # A degraded writer's records are already safe in its pending file: don't wait on the store.
        writer.close(timeout=0 if writer.stats.degraded else 2.0)


def _track(writer: LedgerWriter) -> None:
    global _atexit_registered
    with _ATEXIT:
        if not _atexit_registered:
            atexit.register(_close_all_at_exit)
            _atexit_registered = True
    _LIVE.add(writer)


class LedgerWriter:
    """Writes records to a store, never failing or blocking the caller on a store failure."""

    def __init__(
        self,
        connect: Callable[[], LedgerStore],
        pending: PendingFile,
        *,
        options: WriterOptions | None = None,
        store: LedgerStore | None = None,
        scrub: Callable[[str], str] = str,
        maintenance: Maintenance | None = None,
    ) -> None:
        self.options = options or WriterOptions()
        self._connect = connect
        self._pending = pending
        self._scrub = scrub
        self._maintenance = maintenance
        self._next_maintenance = 0.0
        self._maintained_at_written = 0
        self._drain_lock = threading.Lock()
        self._store_lock = threading.Lock()
        self._state = threading.Lock()
        self._wake = threading.Event()
        self._queue: deque[CallRecord] = deque()
        self._memory: deque[CallRecord] = deque()
        self._store: LedgerStore | None = None
        self._thread: threading.Thread | None = None
        self._degraded = False  # records go to the pending file until it is drained
        self._outage = False  # a store failure was logged and its recovery isn't yet
        self._closing = self._closed = False
        self._written = self._failed = self._spilled = self._dropped = self._rejected = 0
        self._last_error: str | None = None
        self._last_warning = 0.0
        _track(self)
        if store is not None:
            self._store = store
        else:
            self._ensure_store()
        if self._store is None:
            self._degraded = True
        if self.options.mode == "async" or self._degraded or maintenance is not None:
            self._ensure_thread()

    # -- the caller's side ---------------------------------------------------------------

    def record(self, record: CallRecord) -> None:
        """Write ``record`` (sync) or queue it (async); never raises, never waits on a failing store."""
        try:
            if self._closed:
                self._record_after_close(record)
            elif self.options.mode == "async":
                self._record_async(record)
            else:
                self._record_sync(record)
        except Exception:  # pragma: no cover - a bug here must still not fail the API call
            log.exception("ledger: unexpected error while recording a call")

    def record_many(self, records: Sequence[CallRecord]) -> None:
        """Write ``records`` in one transaction (sync) or queue them (async); never raises.

        What :meth:`record` promises for one record holds for each: in sync mode every record is
        committed, or in the pending file, when this returns.
        """
        if not records:
            return
        try:
            if self._closed:
                for record in records:
                    self._record_after_close(record)
            elif self.options.mode == "async":
                for record in records:
                    self._record_async(record)
            else:
                self._record_many_sync(records)
        except Exception:  # pragma: no cover - a bug here must still not fail the caller
            log.exception("ledger: unexpected error while recording calls")

    def _record_many_sync(self, records: Sequence[CallRecord]) -> None:
        with self._state:
            if self._degraded:
                self._spill(records)
                return
        if not self._write(records):
            with self._state:
                self._spill(records)

    def _record_async(self, record: CallRecord) -> None:
        with self._state:
            if not self._degraded and len(self._queue) < self.options.max_queue:
                self._queue.append(record)
                if len(self._queue) >= self.options.batch_size:
                    self._wake.set()
                return
            self._spill([record])

    def _record_sync(self, record: CallRecord) -> None:
        with self._state:
            if self._degraded:
                self._spill([record])
                return
        if not self._store_lock.acquire(timeout=self.options.lock_wait_s):
            with self._state:
                self._spill([record])
            return
        try:
            store = self._store
            if store is None:
                with self._state:
                    self._spill([record])
                return
            try:
                store.insert(record)
            except Exception as exc:
                if refused(exc, store.ping):
                    self._reject([record], exc)
                    return
                self._on_failure(exc)
                with self._state:
                    self._spill([record])
                return
            with self._state:
                self._written += 1
        finally:
            self._store_lock.release()

    def _record_after_close(self, record: CallRecord) -> None:
        with self._state:
            self._spill([record])
            self._pending.close()
        log.warning("ledger: record() after close(); the record waits in a pending file")

    @property
    def stats(self) -> LedgerStats:
        """A snapshot of the counters."""
        with self._state:
            return LedgerStats(
                written=self._written,
                failed_attempts=self._failed,
                pending=len(self._queue) + self._pending.count + len(self._memory),
                queued=len(self._queue),
                spilled=self._spilled,
                rejected=self._rejected,
                dropped=self._dropped,
                degraded=self._degraded,
                last_error=self._last_error,
            )

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything queued or pending; True when nothing is left, False on timeout."""
        if timeout <= 0:
            return self.stats.pending == 0
        deadline = time.monotonic() + timeout
        delay = self.options.retry_min_s
        while True:
            outcome = self._drain_safely()
            if outcome == "idle":
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if outcome == "failed":
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, self.options.retry_max_s)

    def close(self, timeout: float = 5.0) -> None:
        """Flush (up to ``timeout`` seconds), stop the background thread and close the store.

        Records that could not be written stay in the pending file, written on the next open;
        ``timeout=0`` makes no write attempt at all.
        """
        if self._closed or self._closing:
            return
        self._closing = True
        flushed = self.flush(timeout)
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, timeout))
        with self._store_lock:
            self._drop_store()
        if self._maintenance is not None:
            with contextlib.suppress(Exception):
                self._maintenance.close()
        with self._state:
            if self._queue:
                self._spill(list(self._queue))
                self._queue.clear()
            if self._memory:  # held in memory because the pending file could not be written either
                self._dropped += len(self._memory)
                log.error(
                    "ledger: %d record(s) lost at close: neither the ledger nor the pending file in %s "
                    "could be written",
                    len(self._memory),
                    self._pending.directory,
                )
                self._memory.clear()
            left = self._pending.count
            self._pending.close()
            self._closed = True
        _LIVE.discard(self)
        if not flushed and left:
            where = self._pending.path or self._pending.directory
            log.warning(
                "ledger: %d record(s) not written yet; they wait in %s for the next open", left, where
            )

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- failure handling (state lock held by the caller of _spill) -------------------------

    def _spill(self, records: Sequence[CallRecord]) -> None:
        try:
            self._pending.append(records)
            self._spilled += len(records)
        except OSError as exc:
            room = max(0, self.options.max_queue - len(self._memory))
            self._memory.extend(records[:room])
            lost = len(records) - min(room, len(records))
            self._dropped += lost
            if lost:
                log.error("ledger: dropped %d record(s): pending file and memory are full (%s)", lost, exc)
        if not self._degraded:
            self._degraded = True
            self._wake.set()
        self._ensure_thread()

    def _on_failure(self, exc: BaseException) -> None:
        """Count and log a failed store operation and drop the connection (store lock held)."""
        message = self._scrub(f"{type(exc).__name__}: {exc}".strip())
        with self._state:
            self._failed += 1
            self._last_error = message
            now = time.monotonic()
            if not self._outage or now - self._last_warning >= self.options.warn_every_s:
                self._last_warning = now
                pending = len(self._queue) + self._pending.count + len(self._memory)
                log.warning(
                    "ledger: cannot write to the ledger (%s); records wait in a pending file "
                    "and are retried in the background (%d pending)",
                    message,
                    pending,
                )
            self._degraded = self._outage = True
        self._drop_store()
        self._wake.set()
        self._ensure_thread()

    def _drop_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                store.close()

    def _ensure_store(self) -> LedgerStore | None:
        """The store, (re)connecting and replaying abandoned pending files if needed (store lock held or init)."""
        if self._store is not None:
            return self._store
        try:
            store = self._connect()
        except Exception as exc:
            self._on_failure(exc)
            return None
        try:
            replay_pending(
                self._pending.directory,
                self._pending.prefix,
                store.insert_many,
                reject=self._reject,
                probe=store.ping,
            )
        except Exception as exc:
            self._store = store
            self._on_failure(exc)
            return None
        self._store = store
        return store

    # -- the background side -------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._run, name="clawback-ledger-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        delay = self.options.retry_min_s
        outcome: _Outcome = "idle"
        while not self._closing:
            if outcome == "failed":
                timeout: float | None = delay
            elif outcome == "more":
                timeout = 0
            elif self.options.mode == "async":
                timeout = self.options.flush_interval_s
            else:
                timeout = None
            if self._maintenance is not None:
                due = max(0.0, self._next_maintenance - time.monotonic())
                timeout = due if timeout is None else min(timeout, due)
            woken = self._wake.wait(timeout)
            self._wake.clear()
            if self._closing:
                break
            if woken or outcome != "idle" or self._degraded or self.options.mode == "async":
                outcome = self._drain_safely()
                failed = outcome == "failed"
                if failed:  # a failure wakes the thread (see _on_failure): honour the backoff instead
                    self._wake.clear()
                delay = min(delay * 2, self.options.retry_max_s) if failed else self.options.retry_min_s
            self._maybe_maintain()

    def _drain_safely(self) -> _Outcome:
        """A drain pass that never kills the thread: an unexpected error is logged and retried."""
        try:
            return self._drain_once()
        except Exception:
            log.exception("ledger: unexpected error while writing pending records; retrying")
            return "failed"

    def _maybe_maintain(self) -> None:
        """Run the upkeep at most once per interval, and only after new records were written."""
        if self._maintenance is None or self._closing or time.monotonic() < self._next_maintenance:
            return
        self._next_maintenance = time.monotonic() + self.options.maintenance_interval_s
        written = self._written
        if written == self._maintained_at_written:
            return
        try:
            self._maintenance.run()
            self._maintained_at_written = written
        except Exception as exc:  # upkeep is best effort; the next round tries again
            log.debug("ledger: upkeep failed: %s", self._scrub(str(exc)))

    def _write(self, records: Sequence[CallRecord]) -> bool:
        with self._store_lock:
            store = self._ensure_store()
            if store is None:
                return False
            try:
                written = insert_isolating(store.insert_many, records, self._reject, store.ping)
            except Exception as exc:
                self._on_failure(exc)
                return False
        with self._state:
            self._written += written
        return True

    def _reject(self, records: Sequence[CallRecord], exc: BaseException) -> None:
        """Keep records the store refuses as values aside, so one bad record never blocks the rest."""
        message = self._scrub(f"{type(exc).__name__}: {exc}")
        try:
            where: object = append_rejected(self._pending.directory, self._pending.prefix, records, exc)
        except OSError as err:
            where = f"nowhere ({err})"
            with self._state:
                self._dropped += len(records)
        with self._state:
            self._rejected += len(records)
        log.error("ledger: the store refused %d record(s) (%s); kept in %s", len(records), message, where)

    def _drain_once(self) -> _Outcome:
        """One pass: held-back records, then the pending file, then the queue."""
        with self._drain_lock:
            with self._store_lock:
                if self._ensure_store() is None:
                    return "failed"
            if not self._drain_memory() or not self._drain_pending() or not self._drain_queue():
                return "failed"
            with self._state:
                if self._pending.empty and not self._memory and not self._queue:
                    self._pending.reset()
                    self._degraded = False
                    if self._outage:
                        self._outage = False
                        log.info("ledger: writing to the ledger again; every pending record is written")
                    return "idle"
            return "more"

    def _drain_memory(self) -> bool:
        with self._state:
            held = list(self._memory)
        if not held:
            return True
        if not self._write(held):
            return False
        with self._state:
            for _ in held:
                self._memory.popleft()
        return True

    def _drain_pending(self) -> bool:
        while True:
            records, offset = self._pending.read(self.options.batch_size * 5)
            if offset == self._pending.written_offset:
                return True
            if records and not self._write(records):
                return False
            with self._state:
                self._pending.mark_written(offset, len(records))

    def _drain_queue(self) -> bool:
        while True:
            with self._state:
                batch = list(islice(self._queue, self.options.batch_size))
            if not batch:
                return True
            if not self._write(batch):
                with self._state:
                    self._spill(list(self._queue))
                    self._queue.clear()
                return False
            with self._state:
                for _ in batch:
                    self._queue.popleft()
