"""End to end: the real Claude Code CLI in print mode against ``clawback emulate``, then ``clawback audit``.

What the audit finds in the transcripts Claude Code wrote must equal, to the cent, the
``total_cost_usd`` the CLI itself printed for each prompt, over several prompts and models.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli.helpers import clawback
from tests.node.clients import CLAUDE_BIN, require_node_client

RUNS = [
    ("claude-haiku-4-5", "say hello"),
    ("claude-sonnet-4-6", "list three colours"),
    ("claude-opus-4-6", "say hello"),
    ("claude-haiku-4-5", "name a prime number"),
]
CENT = Decimal("0.01")


@pytest.fixture
def emulator() -> Iterator[str]:
    """``clawback emulate`` on a free port; its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "clawback", "emulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("clawback emulator listening on http://127.0.0.1:"), first
        yield first.split()[4]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_audit_of_what_claude_code_wrote_equals_what_it_printed(tmp_path: Path, emulator: str) -> None:
    claude = require_node_client(CLAUDE_BIN)
    config = tmp_path / "claude-config"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))},
        "HOME": str(tmp_path),
        "CLAUDE_CONFIG_DIR": str(config),
        "ANTHROPIC_BASE_URL": emulator,
        "ANTHROPIC_API_KEY": "sk-ant-test-0000000000",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    printed = Decimal(0)
    for model, prompt in RUNS:
        proc = subprocess.run(
            [str(claude), "-p", prompt, "--output-format", "json", "--model", model],
            capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-500:]
        result = json.loads(proc.stdout)
        assert not result.get("is_error"), result
        assert result["total_cost_usd"] > 0, result
        printed += Decimal(str(result["total_cost_usd"]))
    audit = clawback("audit", "--json", env={"CLAUDE_CONFIG_DIR": str(config), "HOME": str(tmp_path)})
    assert audit.code == 0, audit.err
    data = json.loads(audit.out)
    assert data["calls"] >= len(RUNS) and data["unpriced_calls"] == 0
    assert Decimal(data["total_usd"]).quantize(CENT) == printed.quantize(CENT)
    assert abs(Decimal(data["total_usd"]) - printed) < Decimal("0.000001")
    daily = json.loads(clawback("usage", "daily", "--json", env={"CLAUDE_CONFIG_DIR": str(config)}).out)
    assert Decimal(daily["totals"]["cost_usd"]) == Decimal(data["total_usd"])
