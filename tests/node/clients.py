"""Where the npm test clients are (``make node-clients`` installs them into tests/node/node_modules).

Tests that drive a real Node client call :func:`require_node_client`: it returns the path, or skips the
test when the client is absent (and fails instead when ``CLAWBACK_REQUIRE_NODE=1``, as ``.ci/run`` sets).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent
MODULES = NODE_DIR / "node_modules"

__all__ = [
    "CCUSAGE_BIN",
    "CLAUDE_BIN",
    "MODULES",
    "NODE_DIR",
    "TS_SDK",
    "require_node",
    "require_node_client",
]

CLAUDE_BIN = MODULES / "@anthropic-ai" / "claude-code-linux-x64" / "claude"
CCUSAGE_BIN = MODULES / ".bin" / "ccusage"
TS_SDK = MODULES / "@anthropic-ai" / "sdk"


def _missing(what: str) -> None:
    message = f"{what} is not installed (run `make node-clients`)"
    if os.environ.get("CLAWBACK_REQUIRE_NODE") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_node() -> str:
    """The ``node`` executable, or skip."""
    node = shutil.which("node")
    if node is None:
        _missing("node")
    assert node is not None
    return node


def require_node_client(path: Path) -> Path:
    """``path`` (one of the constants above) when it exists, else skip (or fail under CI)."""
    if not path.exists():
        _missing(str(path.relative_to(NODE_DIR)))
    return path
