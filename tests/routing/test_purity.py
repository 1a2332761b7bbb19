"""The per-call routing path imports no numpy, scikit-learn, HTTP, server or database library."""

from __future__ import annotations

import json
import subprocess
import sys

import clawback.routing as routing

HEAVY = {
    "numpy",
    "sklearn",
    "scipy",
    "anthropic",
    "httpx",
    "httpx2",
    "starlette",
    "uvicorn",
    "sqlite3",
    "typer",
    "rich",
}


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {m.split(".")[0] for m in json.loads(out)}


def test_per_call_path_is_light() -> None:
    loaded = _modules_after(
        "import clawback.routing; from clawback.routing import route, run_cascade, load_routing_config, "
        "RoutingDecision, LearnedRouter, request_features; "
        "import clawback.routing.validators, clawback.routing.policies, clawback.routing.features"
    )
    assert not loaded & HEAVY, loaded & HEAVY


def test_importing_the_package_does_no_work() -> None:
    loaded = _modules_after("import clawback.routing")
    assert not loaded & (HEAVY | {"pydantic"})


def test_exports_are_sorted_and_resolve() -> None:
    assert routing.__all__ == sorted(routing.__all__)
    for name in routing.__all__:
        assert getattr(routing, name) is not None
