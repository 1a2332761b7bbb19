"""Running CPU-heavy preparation off the event loop, so one big request never stalls the others.

Small bodies (under ``threshold`` bytes) are prepared inline: that is cheaper than any hand-off.
Bigger ones go to a worker *process* — a thread would not do, because JSON decoding and the
tokenizer's regular expressions hold the GIL for the whole of a 30 MB body. The pool is created
on first use (spawned, so it holds no copy of the server's threads or sockets), fed the catalogue
once, and closed with :meth:`Offloader.close`. Where processes cannot be started the work falls
back to a thread, which is still correct, only less fair.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from clawback.pricing.catalogue import Catalogue

__all__ = ["DEFAULT_THRESHOLD", "Offloader"]

DEFAULT_THRESHOLD = 256 * 1024
"""Bodies at least this big (bytes) are prepared in the worker process."""

T = TypeVar("T")
log = logging.getLogger("clawback.emulator")
_CATALOGUE: Catalogue | None = None


def _init_worker(catalogue: Catalogue) -> None:
    global _CATALOGUE
    _CATALOGUE = catalogue


def _call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    assert _CATALOGUE is not None, "worker not initialised"
    return fn(*args[:-1], _CATALOGUE, *args[-1])


class Offloader:
    """Runs ``fn(*args, catalogue, *tail)`` inline for small inputs and in a worker for big ones."""

    def __init__(self, catalogue: Catalogue, *, threshold: int = DEFAULT_THRESHOLD, workers: int = 1) -> None:
        self.catalogue = catalogue
        self.threshold = threshold
        self.workers = workers
        self._pool: Executor | None = None
        self.offloaded = 0

    async def run(self, size: int, fn: Callable[..., T], *args: Any, tail: tuple[Any, ...] = ()) -> T:
        """``fn(*args, catalogue, *tail)``; in the worker when ``size`` reaches the threshold."""
        if size < self.threshold:
            return fn(*args, self.catalogue, *tail)
        self.offloaded += 1
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), _call, fn, (*args, tail))
        except BrokenProcessPool:
            log.warning("emulator: the preparation worker died; starting a new one")
            self.close()
            return await loop.run_in_executor(self._executor(), _call, fn, (*args, tail))

    def _executor(self) -> Executor:
        if self._pool is None:
            try:
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(self.catalogue,),
                )
            except (OSError, ValueError, NotImplementedError) as exc:  # no processes here
                log.warning("emulator: no worker process (%s); preparing big bodies in a thread", exc)
                _init_worker(self.catalogue)
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="emulator-prepare")
        return self._pool

    def close(self) -> None:
        """Stop the worker (if one was started)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
