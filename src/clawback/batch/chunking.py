"""Splitting a job into batches that respect the API's limits (pure).

A batch holds at most 100,000 requests and 256 MB of request body. clawback counts each request
as the bytes it adds to the ``create`` body — its ``params`` JSON plus the ``custom_id`` and the
framing around them — and keeps a margin below the byte limit. By default it also stops a batch at
10,000 requests: memory then stays flat however large the job (the create body is built one batch
at a time), batches run in parallel, and a crash or a cancel touches less work. ``--batch-size``
raises it to the API's 100,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TypeVar

from clawback.errors import UsageError

T = TypeVar("T")

__all__ = [
    "API_MAX_BATCH_BYTES",
    "API_MAX_BATCH_REQUESTS",
    "ITEM_FRAMING_BYTES",
    "Limits",
    "split_into_chunks",
]

API_MAX_BATCH_REQUESTS: Final = 100_000
API_MAX_BATCH_BYTES: Final = 256 * 1000 * 1000
ITEM_FRAMING_BYTES: Final = 100
"""``{"custom_id":"<64>","params":}`` and the comma: what one request adds around its params."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How large one batch and one request may be."""

    max_requests: int = 10_000
    max_bytes: int = 240 * 1000 * 1000
    max_request_bytes: int = 32 * 1000 * 1000

    def __post_init__(self) -> None:
        if not 1 <= self.max_requests <= API_MAX_BATCH_REQUESTS:
            raise UsageError(
                f"batch size must be between 1 and {API_MAX_BATCH_REQUESTS:,} requests, got {self.max_requests:,}"
            )
        if not 1024 <= self.max_bytes <= API_MAX_BATCH_BYTES:
            raise UsageError(
                f"batch bytes must be between 1,024 and {API_MAX_BATCH_BYTES:,}, got {self.max_bytes:,}"
            )
        if not 1 <= self.max_request_bytes <= self.max_bytes - ITEM_FRAMING_BYTES - 16:
            raise UsageError(
                f"the request size limit ({self.max_request_bytes:,} bytes) must fit in one batch "
                f"({self.max_bytes:,} bytes)"
            )

    def fits_alone(self, nbytes: int) -> bool:
        """True when a request of ``nbytes`` params bytes can be sent at all."""
        return nbytes <= self.max_request_bytes


def split_into_chunks(sizes: Iterable[tuple[T, int]], limits: Limits) -> Iterator[list[T]]:
    """Group ``(item, params_bytes)`` pairs, in the order given, into batches within ``limits``.

    Yields lists of item references; every item lands in exactly one list. Items larger than
    ``limits.max_request_bytes`` are a caller error (inputs are validated first).
    """
    body_overhead = 16  # {"requests":[ ... ]}
    current: list[T] = []
    used = body_overhead
    for item, nbytes in sizes:
        cost = nbytes + ITEM_FRAMING_BYTES
        if not limits.fits_alone(nbytes):
            raise ValueError(f"item {item} ({nbytes:,} bytes) is over the request size limit")
        if current and (len(current) >= limits.max_requests or used + cost > limits.max_bytes):
            yield current
            current, used = [], body_overhead
        current.append(item)
        used += cost
    if current:
        yield current
