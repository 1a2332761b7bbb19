"""The routing config a client follows, re-read when its file changes.

``clawback eval --write-verdict`` and ``clawback route`` write verdicts into the routing file while
services that route by it keep running. A :class:`RoutingSource` checks the file's modification
time, size and inode at most every ``check_every`` seconds (one ``stat``; nothing on the calls between)
and reloads it when they change, so a long-running client follows a new verdict within seconds,
without a restart. A file that fails to load after a change keeps the config in force and logs a
warning: a bad edit never fails or mis-routes a call. A default file that disappears stops routing;
an explicitly given one that disappears keeps its last config.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from clawback.errors import ClawbackError
from clawback.routing.config import load_routing_config
from clawback.routing.route import RoutingConfig

__all__ = ["RoutingSource"]

log = logging.getLogger("clawback.client")

_Stamp = tuple[int, int, int] | None


def _stamp(path: Path) -> _Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)  # the inode: verdicts are written by atomic rename


class RoutingSource:
    """A routing config file, loaded now and reloaded when it changes."""

    def __init__(
        self,
        path: Path,
        *,
        explicit: bool,
        check_every: float | None = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.explicit = explicit
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = _stamp(path)
        # an explicitly given file must load now (a bad one is the caller's error); the default may be absent
        self.config: RoutingConfig | None = (
            load_routing_config(path) if explicit or self._stamp is not None else None
        )
        self._checked = clock()
        self.reloads = 0

    def current(self) -> RoutingConfig | None:
        """The config in force, reloaded first when the file changed since the last check."""
        if self.check_every is None:
            return self.config
        now = self._clock()
        if now - self._checked < self.check_every or not self._lock.acquire(blocking=False):
            return self.config
        try:
            self._checked = now
            stamp = _stamp(self.path)
            if stamp != self._stamp:
                self._reload(stamp)
        finally:
            self._lock.release()
        return self.config

    def _reload(self, stamp: _Stamp) -> None:
        if stamp is None:
            self._stamp = None
            if not self.explicit:
                self.config = None
                log.info("routing config %s is gone: calls keep the model they ask for", self.path)
            return
        try:
            config = load_routing_config(self.path)
        except (ClawbackError, OSError) as exc:
            log.warning(
                "routing config %s changed but did not load (keeping the one in force): %s", self.path, exc
            )
            self._stamp = stamp  # do not retry the same broken file on every check
            return
        self._stamp = stamp
        self.config = config
        self.reloads += 1
        log.info("routing config %s reloaded", self.path)
