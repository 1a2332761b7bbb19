"""The batch core is pure: importing it pulls in no HTTP, SDK, server or database library."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = {
    "anthropic",
    "httpx",
    "httpx2",
    "starlette",
    "uvicorn",
    "sqlite3",
    "psycopg",
    "duckdb",
    "typer",
    "rich",
}
PURE = [
    "clawback.batch",
    "clawback.batch.machine",
    "clawback.batch.ids",
    "clawback.batch.inputs",
    "clawback.batch.chunking",
    "clawback.batch.cacheplan",
    "clawback.batch.costs",
    "clawback.batch.outcomes",
    "clawback.batch.recovery",
    "clawback.batch.options",
]


def test_pure_batch_modules_import_no_io_library() -> None:
    code = f"import sys, json; import {', '.join(PURE)}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = {m.split(".")[0] for m in json.loads(out)}
    assert not loaded & HEAVY, loaded & HEAVY


def test_the_package_exports_resolve() -> None:
    import clawback.batch as batch

    assert batch.__all__ == sorted(batch.__all__)
    for name in batch.__all__:
        assert getattr(batch, name) is not None
