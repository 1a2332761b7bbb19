"""The package surface: exports, import cost, and the purity of the core."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import clawback
import clawback.errors as errors


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert clawback.__all__ == sorted(clawback.__all__)
    assert len(set(clawback.__all__)) == len(clawback.__all__)
    for name in clawback.__all__:
        value = getattr(clawback, name)
        assert value is not None
        assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    assert {"ClawbackError", "load_catalogue", "price_usage", "parse_usage", "Settings"} <= set(
        clawback.__all__
    )


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        clawback.no_such_thing  # noqa: B018


def test_every_error_derives_from_the_root_and_has_codes() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ClawbackError)
        assert isinstance(cls.exit_code, int) and cls.exit_code != 0
        assert 400 <= cls.http_status < 600


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


HEAVY = {
    "anthropic",
    "httpx",
    "httpx2",
    "starlette",
    "uvicorn",
    "sqlite3",
    "duckdb",
    "psycopg",
    "typer",
    "rich",
}


def test_importing_clawback_does_no_work() -> None:
    loaded = _modules_after("import clawback")
    assert not {m.split(".")[0] for m in loaded} & HEAVY


def test_pure_core_imports_no_io_libraries() -> None:
    loaded = _modules_after(
        "import clawback.pricing, clawback.pricing.cost, clawback.shapes, clawback.cache, "
        "clawback.cache.rules, clawback.cache.planner, clawback.estimate, clawback.tokens, "
        "clawback.batch.machine, clawback.routing.policies, clawback.settings, clawback.errors"
    )
    assert not {m.split(".")[0] for m in loaded} & HEAVY
