"""Render an HTML file in headless Chromium: the DOM after scripts ran, and a screenshot.

Tests skip when Chromium is absent, unless ``CLAWBACK_REQUIRE_CHROMIUM=1`` (set by CI), which turns
the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

# read at import: the autouse fixture clears CLAWBACK_* variables before each test runs
REQUIRE = os.environ.get("CLAWBACK_REQUIRE_CHROMIUM", "") not in ("", "0")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    """The Chromium binary, or skip (fail in CI) when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if found:
            return found
    message = "headless Chromium is not installed (Debian: apt-get install chromium)"
    if REQUIRE:
        pytest.fail(message + "; CLAWBACK_REQUIRE_CHROMIUM=1 requires it", pytrace=False)
    pytest.skip(message)


def _run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def dump_dom(html: Path, profile: Path) -> str:
    """The serialised DOM after the page's scripts ran."""
    return _run(chromium(), profile, "--virtual-time-budget=2000", "--dump-dom", html.as_uri()).stdout


def screenshot(html: Path, png: Path, profile: Path, *, size: str = "1100,3800") -> Path:
    """A PNG screenshot of the page."""
    _run(chromium(), profile, f"--window-size={size}", f"--screenshot={png}", html.as_uri())
    return png


def png_rows(png: Path) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct (filtered) scanlines of a PNG: a blank page has very few."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, stride = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour, 1)
            stride = 1 + width * channels * depth // 8
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    rows = {raw[i : i + stride] for i in range(0, len(raw), stride)}
    return width, height, rows
