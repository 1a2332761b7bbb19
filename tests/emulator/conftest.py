"""Fixtures: an SDK client bound to a fresh emulator with a manual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clawback.emulator.testing import EmulatorSession, emulator_client


@pytest.fixture
def emu() -> Iterator[EmulatorSession]:
    """A sync ``anthropic.Anthropic`` against an emulator over loopback HTTP (manual clock)."""
    with emulator_client() as session:
        yield session
