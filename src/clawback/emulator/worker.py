"""The preparation worker's entry point: ``python -m clawback.emulator.worker`` (see :mod:`.offload`).

Reads calls from standard input and answers on a private copy of standard output; anything the
prepared code might print goes to standard error instead. Not imported by the package itself.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from typing import Any

from clawback.emulator.offload import WORKER_NICENESS, read_frame, write_frame

__all__: list[str] = []


def _serve() -> None:
    """The worker's loop: read calls from standard input, answer on (a private copy of) standard output."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything printed goes to stderr, never into the protocol
    stdin = os.fdopen(os.dup(0), "rb", buffering=0)
    catalogue = pickle.loads(read_frame(stdin))
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)  # on a busy machine the server's own loop comes first
    while True:
        try:
            fn, args, tail = pickle.loads(read_frame(stdin))
            raw = read_frame(stdin)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, fn(raw, *args, catalogue, *tail))
        except Exception as exc:
            answer = (False, exc)
        try:
            data = pickle.dumps(answer)
        except Exception as exc:
            data = pickle.dumps((False, RuntimeError(f"unpicklable result: {exc}")))
        write_frame(out, data)


if __name__ == "__main__":
    _serve()
