"""Batch ``custom_id`` values: the API's rules, how clawback builds them and how it reads them back (pure).

The API accepts 1–64 characters of ``[a-zA-Z0-9_-]``, unique within a batch. clawback never sends
a user's id alone: every ``custom_id`` it generates carries the job and the chunk it belongs to, so
a batch found by listing the workspace can be proved to be ours from its results::

    <tag:6><chunk:4><key>            e.g. k3v9qa0002-ticket-17   or   k3v9qa0002_2n

* ``tag`` — six lower-case base-36 characters chosen when the job is created;
* ``chunk`` — the chunk's sequence number in base 36, four characters (1,679,615 chunks per job);
* ``key`` — ``-`` followed by the user's id when it is a string that already fits the rules (so the
  console shows recognisable ids), or ``_`` followed by the input line number in base 36 for any
  other id (too long, bad characters, a number, or no id at all). The leading ``-``/``_`` keeps the
  two forms apart, so a user id ``"_2n"`` can never collide with line ``2n``.

A retried item goes out in a later chunk, so even a retry never reuses a ``custom_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CHUNK_WIDTH",
    "CUSTOM_ID_PATTERN",
    "MAX_CUSTOM_ID",
    "TAG_WIDTH",
    "ParsedCustomId",
    "chunk_prefix",
    "custom_id",
    "is_valid_custom_id",
    "item_key",
    "new_tag",
    "parse_custom_id",
]

MAX_CUSTOM_ID: Final = 64
TAG_WIDTH: Final = 6
CHUNK_WIDTH: Final = 4
CUSTOM_ID_PATTERN: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TAG = re.compile(r"^[0-9a-z]{6}$")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_MAX_USER_ID = MAX_CUSTOM_ID - TAG_WIDTH - CHUNK_WIDTH - 1
_MAX_CHUNK = 36**CHUNK_WIDTH - 1


def _base36(value: int) -> str:
    if value < 0:
        raise ValueError(f"cannot encode a negative number: {value}")
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
        if value == 0:
            return out


def is_valid_custom_id(value: object) -> bool:
    """True when ``value`` is a string the API accepts as a ``custom_id``."""
    return isinstance(value, str) and CUSTOM_ID_PATTERN.match(value) is not None


def new_tag(entropy: bytes) -> str:
    """A job tag from at least four random bytes (the caller supplies them: no I/O here)."""
    if len(entropy) < 4:
        raise ValueError("a job tag needs at least 4 bytes of entropy")
    return _base36(int.from_bytes(entropy[:8], "big") % 36**TAG_WIDTH).rjust(TAG_WIDTH, "0")


def item_key(user_id: str | int | None, line: int) -> str:
    """The part of every ``custom_id`` that names one input item (stable across retries)."""
    if isinstance(user_id, str) and len(user_id) <= _MAX_USER_ID and is_valid_custom_id(user_id):
        return f"-{user_id}"
    return f"_{_base36(line)}"


def chunk_prefix(tag: str, chunk: int) -> str:
    """The first ten characters of every ``custom_id`` in chunk ``chunk`` of the job tagged ``tag``."""
    if not _TAG.match(tag):
        raise ValueError(f"bad job tag {tag!r}")
    if not 0 <= chunk <= _MAX_CHUNK:
        raise ValueError(f"chunk number {chunk} is out of range")
    return f"{tag}{_base36(chunk).rjust(CHUNK_WIDTH, '0')}"


def custom_id(tag: str, chunk: int, key: str) -> str:
    """The ``custom_id`` of the item with ``key`` in chunk ``chunk`` of the job tagged ``tag``."""
    value = chunk_prefix(tag, chunk) + key
    if not is_valid_custom_id(value):
        raise ValueError(f"item key {key!r} does not make a valid custom_id")
    return value


@dataclass(frozen=True, slots=True)
class ParsedCustomId:
    """A ``custom_id`` read back: which job tag, chunk and item key it names."""

    tag: str
    chunk: int
    key: str


def parse_custom_id(value: str) -> ParsedCustomId | None:
    """The parts of a clawback ``custom_id``, or None if the value is not one."""
    head = TAG_WIDTH + CHUNK_WIDTH
    if not is_valid_custom_id(value) or len(value) < head + 2 or value[head] not in "-_":
        return None
    tag, chunk_text = value[:TAG_WIDTH], value[TAG_WIDTH:head]
    if not _TAG.match(tag) or not all(ch in _DIGITS for ch in chunk_text):
        return None
    return ParsedCustomId(tag, int(chunk_text, 36), value[head:])
