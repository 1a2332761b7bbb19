"""Importing the ledger loads no database driver; the pure parts load no I/O library."""

from __future__ import annotations

import json
import subprocess
import sys


def _top_modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {m.split(".")[0] for m in json.loads(out)}


def test_importing_the_ledger_loads_no_driver() -> None:
    loaded = _top_modules_after("import clawback.ledger, clawback.storage")
    assert not loaded & {"sqlite3", "psycopg", "pydantic", "typer", "rich", "httpx", "anthropic"}


def test_pure_parts_do_no_io() -> None:
    loaded = _top_modules_after(
        "import clawback.ledger.record, clawback.ledger.summary, clawback.storage.location, "
        "clawback.storage.migrations"
    )
    assert not loaded & {"sqlite3", "psycopg", "pydantic", "httpx", "typer", "rich"}
