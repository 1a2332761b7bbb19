"""Ledger records built and written off the calling thread (the client's default, ``ledger_mode="async"``).

The calling thread only appends the settled call (:class:`~clawback.client.settled.Settled`) to a
queue — no JSON, no pricing of the baseline, no database. A background thread wakes when the first
call of a burst arrives, waits ``interval`` seconds so calls gather, then builds their records and
writes them in one transaction through the ledger writer (which never raises: a failing store
sends them to its pending file). The queue is bounded: when ``max_queue`` calls wait, the calling
thread writes the backlog itself, so memory never holds more than that.

Durability: :meth:`Recorder.close` and :meth:`Recorder.flush` write everything queued, and an
``atexit`` hook flushes every live recorder, so **a normal exit loses nothing**. A hard kill
(SIGKILL, a crash, ``os._exit``) loses the records still queued: the calls that returned in the last
``interval`` (50 ms by default) plus the batch being written, never more than ``max_queue``. Use
``ledger_mode="sync"`` where every returned call must have its row even after a kill.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from typing import Protocol

from clawback.ledger.record import CallRecord
from clawback.ledger.writer import LedgerWriter

__all__ = ["Recordable", "Recorder", "flush_all"]

log = logging.getLogger("clawback.ledger")

_BATCH = 500
_LIVE: weakref.WeakSet[Recorder] = weakref.WeakSet()
_REGISTERED = threading.Lock()
_registered = False


class Recordable(Protocol):
    """Anything that builds one ledger record when asked (a settled call)."""

    def record(self) -> CallRecord:
        """The record."""
        ...


def flush_all(timeout: float = 5.0) -> None:
    """Write what every live recorder holds (at exit, and before a new client reads the ledger)."""
    for recorder in list(_LIVE):
        recorder.flush(timeout)


def _register() -> None:
    global _registered
    with _REGISTERED:
        if not _registered:  # after the writers' own hook, so it runs before it (atexit is last-in first-out)
            atexit.register(flush_all)
            _registered = True


class Recorder:
    """A bounded queue of settled calls, recorded in the ledger by a background thread."""

    def __init__(self, writer: LedgerWriter, *, max_queue: int = 1000, interval: float = 0.05) -> None:
        self.writer = writer
        self.max_queue = max_queue
        self.interval = interval
        self._queue: deque[Recordable | CallRecord] = deque()
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = True
        self._closed = False
        self._thread: threading.Thread | None = None
        self.failed = 0
        """Records that could not be built (a bug; logged with their traceback)."""
        _register()
        _LIVE.add(self)

    def submit(self, item: Recordable | CallRecord) -> None:
        """Queue one call's record; never raises, never waits on the ledger unless the queue is full."""
        if self._closed:
            self._write([item])
            return
        self._queue.append(item)
        if self._idle:  # the thread sleeps until there is work: wake it once per burst
            self._idle = False
            self._ensure_thread()
            self._wake.set()
        if len(self._queue) >= self.max_queue:
            self._drain()  # the bound: the caller writes the backlog itself

    @property
    def queued(self) -> int:
        """Calls waiting to be recorded."""
        return len(self._queue)

    def flush(self, timeout: float = 5.0) -> bool:
        """Record everything queued and flush the writer; True when nothing is left."""
        self._drain()
        return self.writer.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Record everything queued, stop the thread and close the writer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(1.0, timeout))
        self._drain()
        _LIVE.discard(self)
        self.writer.close(timeout)

    # -- the background side -------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="clawback-ledger-recorder", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            while not self._stop.wait(self.interval):  # let a burst gather, then write it at once
                self._drain()
                self._idle = True
                if not self._queue:
                    break
                self._idle = False  # a call arrived between the drain and the flag: go round again

    def _drain(self) -> None:
        with self._drain_lock:
            while self._queue:
                batch: list[CallRecord] = []
                while self._queue and len(batch) < _BATCH:
                    item = self._queue.popleft()
                    built = self._build(item)
                    if built is not None:
                        batch.append(built)
                self.writer.record_many(batch)

    def _write(self, items: list[Recordable | CallRecord]) -> None:
        self.writer.record_many([r for r in map(self._build, items) if r is not None])

    def _build(self, item: Recordable | CallRecord) -> CallRecord | None:
        if isinstance(item, CallRecord):
            return item
        try:
            return item.record()
        except Exception:  # a bug must not lose the records queued behind this one
            self.failed += 1
            log.exception("ledger: could not build a call's record")
            return None
