"""The per-call routing path imports no numpy, scikit-learn, HTTP, server or database library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import clawback.routing as routing
from clawback.routing.model import LinearModel

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


BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"numpy", "sklearn", "scipy", "joblib", "pickle"}:
            raise ImportError(f"blocked in this test: {name}")
        return None
sys.meta_path.insert(0, _Block())
"""


def test_the_client_routes_with_a_learned_router_without_numpy_or_pickle(tmp_path: Path) -> None:
    """The `routing` extra is for training only: a trained router (plain JSON) loads and decides in
    the drop-in client with numpy, scikit-learn and pickle made unimportable."""
    model = LinearModel(tuple(0.0 for _ in range(64)), bias=3.0)  # P(cheap is good enough) ≈ 0.95
    (tmp_path / "router.json").write_text(json.dumps(model.to_json()))
    (tmp_path / "routing.toml").write_text(
        'version = 1\n[learned."*"]\nmodel_file = "router.json"\ncheap = "claude-haiku-5-5"\n'
        'strong = "claude-sonnet-5-5"\nthreshold = 0.9\n'
    )
    code = BLOCK + (
        "import json, clawback\n"
        f"client = clawback.Anthropic(api_key='sk-ant-x', base_url='http://127.0.0.1:9', ledger=False, "
        f"routing={str(tmp_path / 'routing.toml')!r})\n"
        "body = {'model': 'claude-sonnet-5-5', 'max_tokens': 8, 'messages': [{'role': 'user', 'content': 'hi'}]}\n"
        "prepared = client.clawback.pipeline.prepare(body, None)\n"
        "print(json.dumps([prepared.body['model'], prepared.routing.to_json()['policy'], "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'sklearn', 'pickle'))]))\n"
        "client.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == ["claude-haiku-5-5", "learned", []]
