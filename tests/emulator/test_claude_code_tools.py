"""The real Claude Code CLI runs a tool loop against the emulator with nothing refused.

The emulator is scripted to call Claude Code's ``Read`` tool (once, then twice in parallel), so the
CLI sends its ``tool_result`` turns back; every request must pass the emulator's validation,
``tool_use``/``tool_result`` pairing included, and the session must end with the scripted answer.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from clawback.emulator.app import create_app
from clawback.emulator.config import EmulatorConfig, ResponderConfig, ScriptedReply
from clawback.emulator.server import running
from tests.node.clients import CLAUDE_BIN, require_node_client

MODEL = "claude-sonnet-5-5"
FINAL = "The file is about a fox jumping over a dog."


def _read(path: Path) -> dict[str, object]:
    return {"type": "tool_use", "name": "Read", "input": {"file_path": str(path)}}


def test_claude_code_reads_a_file_through_the_emulator(tmp_path: Path) -> None:
    claude = require_node_client(CLAUDE_BIN)
    work = tmp_path / "work"
    work.mkdir()
    target = work / "x.txt"
    target.write_text("The quick brown fox jumps over the lazy dog.\n")
    script = (
        ScriptedReply(model=MODEL, content=[{"type": "text", "text": "Reading it."}, _read(target)]),
        ScriptedReply(model=MODEL, content=[_read(target), _read(target)]),
        ScriptedReply(model=MODEL, content=FINAL),
    )
    app = create_app(EmulatorConfig(responder=ResponderConfig(kind="scripted", script=script)))
    state = app.state.emulator
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))},
        "HOME": str(tmp_path),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
        "ANTHROPIC_API_KEY": "sk-ant-test-0000000000",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    with running(app) as base_url:
        proc = subprocess.run(
            [str(claude), "-p", "read ./x.txt and summarise it", "--allowedTools", "Read",
             "--model", MODEL, "--output-format", "json"],
            capture_output=True, text=True, env={**env, "ANTHROPIC_BASE_URL": base_url}, timeout=180, cwd=work,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-800:]
    result = json.loads(proc.stdout)
    assert not result.get("is_error") and result["result"] == FINAL, result
    statuses = [(r.endpoint, r.status) for r in state.log.since()]
    assert ("messages", 200) in statuses
    assert all(status == 200 for _, status in statuses), statuses
    assert state.responder.pending == 0  # all three scripted turns were asked for: two tool rounds ran
