"""Fixtures: a pass-through gateway in front of a fresh emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.support import Stack, stack


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Stack]:
    """A pass-through gateway (no config) in front of an emulator with a manual clock."""
    with stack(tmp_path) as s:
        yield s
