"""A throwaway PostgreSQL server for the tests, started once per test session by ``tests/pg.sh``.

Without server binaries the PostgreSQL tests skip, unless ``CLAWBACK_REQUIRE_PG=1`` (set by CI),
which turns the skip into a failure. Each test gets its own fresh database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("pg.sh")
# Read at import: the autouse clean_env fixture removes CLAWBACK_* variables from each test.
REQUIRE_PG = os.environ.get("CLAWBACK_REQUIRE_PG", "") not in ("", "0")


def _unavailable(reason: str) -> None:
    if REQUIRE_PG:
        pytest.fail(f"{reason}; CLAWBACK_REQUIRE_PG=1 requires a PostgreSQL server", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a PostgreSQL server private to this test session (database ``postgres``)."""
    check = subprocess.run(["bash", str(SCRIPT), "check"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        _unavailable("PostgreSQL server binaries not found (Debian package postgresql)")
    directory = tempfile.mkdtemp(prefix="clawback-pg-")
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", directory], capture_output=True, text=True, timeout=180, check=False
    )
    if started.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        _unavailable(f"could not start PostgreSQL: {started.stderr.strip()[-500:]}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", directory], capture_output=True, timeout=60, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
