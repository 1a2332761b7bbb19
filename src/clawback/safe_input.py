"""One safe input layer for every file and body clawback reads (pure but for :func:`read_input`).

Untrusted input meets clawback in the CLI (request bodies, usage objects, price and config files,
batch lines, logs) and in its servers. Everything here turns what would be a crash — a
``RecursionError`` from JSON nested a thousand levels, a ``UnicodeEncodeError`` from a lone
surrogate, an ``InvalidOperation`` from a 300-digit number, an ``OverflowError`` from year 9999, a
read that blocks forever on a FIFO — into an :class:`~clawback.errors.InputFileError` (a
:class:`~clawback.errors.UsageError`: exit 2, HTTP 400) whose one-line message names what is wrong.

- :func:`loads` parses JSON text or bytes: BOM-tolerant, strict UTF-8, no ``NaN``/``Infinity``
  (nor a float that overflows to it), nesting bounded (:data:`MAX_DEPTH`), integers bounded in
  length, and no lone surrogates. :func:`loads_toml` does the same for TOML.
- :func:`check_json` applies the same bounds to an already parsed value (iteratively).
- :func:`decode` turns bytes into text the same way.
- :func:`read_input` reads a path (or ``-`` for standard input) exactly once, refusing
  directories and devices, reading a FIFO once, and bounding the size; :func:`read_text`
  decodes what it read; :func:`read_document`
  reads and parses a JSON or TOML file (chosen by its suffix) in one step.
- :func:`bounded_decimal` / :func:`bounded_int` / :func:`check_year` bound numbers and dates;
  :func:`parse_int` reads an integer from text (a query parameter) within bounds.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import stat
import sys
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from clawback.errors import InputFileError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_YEAR",
    "MIN_YEAR",
    "bounded_decimal",
    "bounded_int",
    "check_json",
    "check_year",
    "decode",
    "loads",
    "loads_toml",
    "parse_int",
    "read_document",
    "read_input",
    "read_text",
]

MAX_DEPTH = 128
"""Deepest JSON nesting accepted (the Messages API's own bodies need a dozen levels)."""
MAX_INT_DIGITS = 30
"""Longest integer literal accepted (token counts and limits need far fewer digits)."""
MAX_BYTES = 256 * 1024 * 1024
"""Largest single input read whole into memory (the Batches API's own limit is 256 MB)."""
FIFO_WAIT_S = 30.0
"""How long a FIFO may stay silent before reading it gives up (``CLAWBACK_FIFO_WAIT`` overrides)."""
MIN_YEAR = 2023
MAX_YEAR = 2100
"""Dates in logs outside this range are malformed, not a 2,000-year window."""

_BOM = b"\xef\xbb\xbf"


def _where(what: str) -> str:
    return f"{what}: " if what else ""


def _is(what: str) -> str:
    return f"{what} is " if what else ""


def decode(data: bytes | bytearray | memoryview, what: str = "") -> str:
    """UTF-8 text of ``data`` with a leading BOM dropped; the error names the first bad byte's offset."""
    raw = bytes(data)
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{_is(what)}not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x})"
        ) from None


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits")
    return int(text)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""Valid UTF-8 decodes to no surrogate: only a ``\\udXXX`` escape can put one in a parsed string."""


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:24]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_int=_int, parse_float=_float)


def loads(data: str | bytes | bytearray, what: str = "", *, max_depth: int = MAX_DEPTH) -> Any:
    """Parsed JSON, or :class:`InputFileError` naming ``what`` and the fault, never another exception.

    Numbers are finite: ``NaN``, ``Infinity`` and literals too large for a float (``1e400``) are refused.
    """
    text = decode(data, what) if isinstance(data, bytes | bytearray) else data.removeprefix("\ufeff")
    if not text.strip():
        raise InputFileError(f"{_is(what)}empty (no JSON in it)")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise InputFileError(f"{_where(what)}JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise InputFileError(f"{_is(what)}not valid JSON: {str(exc).splitlines()[0]}") from None
    if text.count("[") + text.count("{") > max_depth or _SURROGATE_ESCAPE.search(text):
        check_json(value, what, max_depth=max_depth)  # otherwise neither can be present: skip the walk
    return value


def loads_toml(
    data: str | bytes | bytearray, what: str = "", *, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """A parsed TOML document, with the same guarantees as :func:`loads`."""
    text = decode(data, what) if isinstance(data, bytes | bytearray) else data.removeprefix("\ufeff")
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise InputFileError(f"{_where(what)}TOML nested deeper than {max_depth} levels") from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{_is(what)}not valid TOML: {first}") from None
    check_json(value, what, max_depth=max_depth)
    return value


def read_document(path: str | Path, what: str = "", *, limit: int = MAX_BYTES) -> Any:
    """The parsed contents of a JSON (``.json`` suffix, or ``-``) or TOML file, read once.

    Every fault — missing, a directory, not UTF-8, nested too deep, not valid — is an
    :class:`InputFileError` whose message starts with ``what`` (default: the path).
    """
    label = what or str(path)
    data = read_input(path, label, limit=limit)
    if str(path) == "-" or Path(path).suffix.lower() in (".json", ".jsonl"):
        return loads(data, label)
    return loads_toml(data, label)


def _surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_json(value: Any, what: str = "", *, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` itself when its nesting, strings and numbers are within bounds; else InputFileError."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)  # exact types first: what json.loads builds, checked without ABCs
        if kind is str or (kind is not dict and kind is not list and isinstance(item, str)):
            if not item.isascii() and _surrogate(item):
                raise InputFileError(f"{_where(what)}text holds a lone surrogate (not valid Unicode)")
        elif kind is dict or kind is list or isinstance(item, Mapping | list | tuple):
            if depth > max_depth:
                raise InputFileError(f"{_where(what)}JSON nested deeper than {max_depth} levels")
            if kind is dict or isinstance(item, Mapping):
                for key, sub in item.items():
                    if type(key) is str and not key.isascii() and _surrogate(key):
                        raise InputFileError(
                            f"{_where(what)}a key holds a lone surrogate (not valid Unicode)"
                        )
                    if type(sub) in _CONTAINERS or isinstance(sub, str | Mapping | list | tuple):
                        stack.append((sub, depth + 1))
            else:
                stack.extend(
                    (sub, depth + 1)
                    for sub in item
                    if type(sub) in _CONTAINERS or isinstance(sub, str | Mapping | list | tuple)
                )
    return value


_CONTAINERS = frozenset({str, dict, list})


def read_input(path: str | Path, what: str = "", *, limit: int = MAX_BYTES) -> bytes:
    """The bytes of ``path`` (``-`` is standard input), read once.

    A directory, device or socket is refused with a one-line error. A FIFO is read once, to its
    end (so format detection never reopens it and waits for a second writer that never comes),
    and never waits forever: if nothing arrives within :data:`FIFO_WAIT_S` seconds (no writer),
    that is a one-line error. More than ``limit`` bytes is refused.
    """
    label = what or str(path)
    if str(path) == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        p = Path(path)
        try:
            mode = os.stat(p).st_mode
        except FileNotFoundError:
            raise InputFileError(f"cannot read {label}: no such file") from None
        except OSError as exc:
            raise InputFileError(f"cannot read {label}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(mode):
            raise InputFileError(f"cannot read {label}: it is a directory, not a file")
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise InputFileError(f"cannot read {label}: not a regular file (a device or socket)")
        try:
            if stat.S_ISFIFO(mode):
                data = _read_fifo(p, label, limit)
            else:
                with open(p, "rb") as fh:
                    data = fh.read(limit + 1)
        except OSError as exc:
            raise InputFileError(f"cannot read {label}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputFileError(f"cannot read {label}: larger than {limit:,} bytes")
    return data


def read_text(path: str | Path, what: str = "", *, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of ``path`` (BOM dropped), read once: :func:`read_input` then :func:`decode`."""
    label = what or str(path)
    return decode(read_input(path, label, limit=limit), label)


def _read_fifo(path: Path, label: str, limit: int) -> bytes:
    """A FIFO read to its end; opening never blocks, and silence past the wait is an error."""
    try:
        wait = float(os.environ.get("CLAWBACK_FIFO_WAIT") or FIFO_WAIT_S)
    except ValueError:
        wait = FIFO_WAIT_S
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(max(0.0, wait) * 1000):
            raise InputFileError(
                f"cannot read {label}: it is a FIFO and nothing was written to it in {wait:g} s "
                "(start the writer first, or give a regular file)"
            )
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def bounded_decimal(
    value: str | int | float | Decimal, what: str, *, max_digits: int = 40, minimum: Decimal | None = None
) -> Decimal:
    """A finite Decimal of at most ``max_digits`` significant digits (and at least ``minimum``)."""
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InputFileError(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise InputFileError(f"{what} must be a finite number, got {str(value)[:40]!r}")
    digits = len(number.as_tuple().digits)
    exponent = number.as_tuple().exponent
    if digits > max_digits or (isinstance(exponent, int) and abs(exponent) > max_digits):
        raise InputFileError(f"{what} is out of range ({digits} digits)")
    if minimum is not None and number < minimum:
        raise InputFileError(f"{what} must be at least {minimum}, got {number}")
    return number


def bounded_int(value: Any, what: str, *, minimum: int = 0, maximum: int = 10**15) -> int:
    """An int within ``[minimum, maximum]`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputFileError(f"{what} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise InputFileError(f"{what} must be between {minimum:,} and {maximum:,}, got {str(value)[:40]}")
    return value


def parse_int(text: str, what: str, *, minimum: int = 0, maximum: int = 10**15) -> int:
    """The integer written in ``text`` (ASCII digits, optional ``-``) within ``[minimum, maximum]``.

    Refuses without converting anything longer than :data:`MAX_INT_DIGITS` digits, so a
    5,000-digit query parameter costs nothing (``int()`` would raise past 4,300 digits).
    """
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_INT_DIGITS:
        raise InputFileError(f"{what}: Input should be an integer from {minimum:,} to {maximum:,}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise InputFileError(f"{what}: Input should be an integer from {minimum:,} to {maximum:,}")
    return value


def check_year(when: date | datetime, what: str = "date") -> date | datetime:
    """``when`` itself when its year is within MIN_YEAR..MAX_YEAR, else InputFileError."""
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise InputFileError(f"{what} {when.isoformat()[:10]} is outside {MIN_YEAR}–{MAX_YEAR}")
    return when
