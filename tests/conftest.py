"""Test-wide fixtures: a clean environment, private data directories, the shared data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import pg_database, pg_url  # noqa: F401  (PostgreSQL fixtures)

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLAWBACK_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No CLAWBACK_* or ANTHROPIC_* variable or user config file leaks in; data goes to a private folder."""
    for name in list(os.environ):
        if name.startswith(("CLAWBACK_", "ANTHROPIC_")) and name != "CLAWBACK_SHARED_DIR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAWBACK_HOME", str(tmp_path / "clawback-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    return


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (real public data and docs); tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent")
    return SHARED


def shared_file(*parts: str) -> Path:
    """A file under ``../shared``, or skip the test."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path
