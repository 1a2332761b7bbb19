"""The benchmark's workload, shortened: clawback costs least, and its ledger agrees with usage exactly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "client_workload.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("client_workload", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["client_workload"] = module
    spec.loader.exec_module(module)
    return module


def test_clawback_is_cheapest_of_the_three_ways(tmp_path: Path) -> None:
    bench = _bench()
    calls = bench.workload(hours=0.5)
    plain, seed, ours = (
        bench._run(name, calls, tmp_path) for name in ("plain-sdk", "seed-article", "clawback")
    )
    assert ours.usage_usd < seed.usage_usd < plain.usage_usd
    assert ours.ledger_usd == ours.usage_usd
