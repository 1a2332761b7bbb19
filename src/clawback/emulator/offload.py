"""Running CPU-heavy preparation off the event loop, so one big request never stalls the others.

Small bodies (under ``threshold`` bytes) are prepared inline: that is cheaper than any hand-off.
Bigger ones go to a worker *process* — a thread would not do, because JSON decoding and the
tokenizer's regular expressions hold the GIL for the whole of a 30 MB body. The worker is
``python -m clawback.emulator.worker``, started on first use (not through ``multiprocessing``,
which would re-import the embedding program's main module), fed the catalogue once, run at a
lower priority than the server (:data:`WORKER_NICENESS`), and stopped by :meth:`Offloader.close`.
The body's bytes are written to it as they are (no pickling of the body); only the small call
description and the result are pickled. A dead worker is replaced; where no process can be
started the work runs in a thread, which is still correct, only less fair.

Protocol (private to this module, both directions): frames of an 8-byte big-endian length and
that many bytes. First frame to the worker: the pickled catalogue. Then per call: a pickled
``(function, args, tail)`` and the raw body; the worker answers one pickled ``(ok, value)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeVar

from clawback.pricing.catalogue import Catalogue

__all__ = ["DEFAULT_THRESHOLD", "WORKER_NICENESS", "Offloader", "read_frame", "write_frame"]

DEFAULT_THRESHOLD = 256 * 1024
"""Bodies at least this big (bytes) are prepared in the worker process."""
WORKER_NICENESS = 10
"""The worker runs at a lower priority than the server, which must keep answering small requests."""

T = TypeVar("T")
log = logging.getLogger("clawback.emulator")
_LENGTH = struct.Struct("!Q")


def _write_all(out: IO[bytes], data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = out.write(view)
        view = view[written or 0 :]


def write_frame(out: IO[bytes], data: bytes | memoryview) -> None:
    """Write one frame: its length, then ``data``."""
    _write_all(out, _LENGTH.pack(len(data)))
    _write_all(out, data)


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            raise EOFError("the preparation worker's pipe closed")
        got += n
    return bytes(buffer)


def read_frame(stream: IO[bytes]) -> bytes:
    """Read one frame (EOFError when the pipe closes first)."""
    (size,) = _LENGTH.unpack(_read_exact(stream, _LENGTH.size))
    return _read_exact(stream, size)


class _Worker:
    """One worker process and the pipes to it (used from one thread at a time)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clawback.emulator.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        write_frame(self.stdin, pickle.dumps(catalogue))

    def call(
        self, fn: Callable[..., Any], raw: bytes | bytearray, args: tuple[Any, ...], tail: tuple[Any, ...]
    ) -> Any:
        write_frame(self.stdin, pickle.dumps((fn, args, tail)))
        write_frame(self.stdin, memoryview(raw))
        ok, value = pickle.loads(read_frame(self.stdout))
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.stdout.close()


class Offloader:
    """Runs ``fn(raw, *args, catalogue, *tail)`` inline for small bodies and in the worker for big ones."""

    def __init__(self, catalogue: Catalogue, *, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.catalogue = catalogue
        self.threshold = threshold
        self.offloaded = 0
        self._worker: _Worker | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._no_process = False

    async def run(
        self, fn: Callable[..., T], raw: bytes | bytearray, *args: Any, tail: tuple[Any, ...] = ()
    ) -> T:
        """``fn(raw, *args, catalogue, *tail)``; in the worker when ``raw`` reaches the threshold."""
        if len(raw) < self.threshold:
            return fn(raw, *args, self.catalogue, *tail)
        self.offloaded += 1
        if self._threads is None:
            self._threads = ThreadPoolExecutor(1, thread_name_prefix="emulator-offload")
        loop = asyncio.get_running_loop()
        result: T = await loop.run_in_executor(self._threads, self._call, fn, raw, args, tail)
        return result

    def _call(
        self, fn: Callable[..., T], raw: bytes | bytearray, args: tuple[Any, ...], tail: tuple[Any, ...]
    ) -> T:
        with self._lock:
            for attempt in (1, 2):
                worker = self._start()
                if worker is None:
                    return fn(raw, *args, self.catalogue, *tail)
                try:
                    result: T = worker.call(fn, raw, args, tail)
                    return result
                except (EOFError, OSError, pickle.PickleError) as exc:
                    log.warning("emulator: the preparation worker failed (%s); starting a new one", exc)
                    self._stop_worker()
                    if attempt == 2:
                        return fn(raw, *args, self.catalogue, *tail)
        raise AssertionError("unreachable")

    def _start(self) -> _Worker | None:
        if self._worker is None and not self._no_process:
            try:
                self._worker = _Worker(self.catalogue)
            except OSError as exc:
                log.warning("emulator: no worker process (%s); preparing big bodies in a thread", exc)
                self._no_process = True
        return self._worker

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                worker.stop()

    def close(self) -> None:
        """Stop the worker process and the thread that talks to it (if they were started)."""
        with self._lock:
            self._stop_worker()
        threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)
