"""Every module of the cache package is pure: it imports no I/O, HTTP, server or database library."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import clawback.cache
from tests.test_package import HEAVY


def test_every_cache_module_imports_nothing_heavy() -> None:
    modules = sorted(f"clawback.cache.{m.name}" for m in pkgutil.iter_modules(clawback.cache.__path__))
    assert "clawback.cache.planner" in modules and "clawback.cache.replay" in modules
    code = f"import sys, json, {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert not {m.split(".")[0] for m in json.loads(out)} & HEAVY


def test_the_lazy_exports_all_resolve() -> None:
    for name in clawback.cache.__all__:
        assert getattr(clawback.cache, name) is not None
