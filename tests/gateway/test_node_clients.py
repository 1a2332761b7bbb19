"""Real clients nobody here wrote, through the gateway to the emulator: the TypeScript SDK and the
Claude Code CLI. What Claude Code prints it spent equals the ledger, which equals the audit of the
transcripts it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from clawback.emulator.clock import VirtualClock
from tests.gateway.support import stack
from tests.node.clients import CLAUDE_BIN, MODULES, TS_SDK, require_node, require_node_client

KEY = "sk-ant-node-client-key-0000"
PROMPTS = ("say hello", "what is 2+2? answer with the number", "name one colour")

TS_SCRIPT = """
const Anthropic = require('@anthropic-ai/sdk').default;
(async () => {
const client = new Anthropic({ baseURL: process.env.GATEWAY_URL, apiKey: process.env.GATEWAY_KEY, maxRetries: 0 });
const msg = await client.messages.create({
  model: 'claude-haiku-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello from typescript' }],
});
const stream = client.messages.stream({
  model: 'claude-haiku-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'streaming from typescript' }],
});
let text = '';
stream.on('text', (t) => { text += t; });
const final = await stream.finalMessage();
console.log(JSON.stringify({ created: msg.content[0].text, streamed: text, usage: final.usage }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_typescript_sdk_create_and_stream(tmp_path: Path) -> None:
    node = require_node()
    require_node_client(TS_SDK)
    script = tmp_path / "client.cjs"
    script.write_text(TS_SCRIPT)
    with stack(tmp_path, clock=VirtualClock("real")) as s:
        done = subprocess.run(
            [node, str(script)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NODE_PATH": str(MODULES), "GATEWAY_URL": s.url, "GATEWAY_KEY": KEY},
            cwd=MODULES.parent,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        rows = s.records(2)
    assert out["created"] == "hello from typescript" and out["streamed"] == "streaming from typescript"
    assert len(rows) == 2 and all(r.source == "gateway" and r.error is None for r in rows)
    streamed = [r for r in rows if r.extra["stream"]]
    assert len(streamed) == 1 and streamed[0].usage is not None
    assert streamed[0].usage["output_tokens"] == out["usage"]["output_tokens"]
    assert all(r.api_key_id is not None and r.api_key_id.endswith("0000") for r in rows)


def test_claude_code_spend_equals_ledger_equals_audit(tmp_path: Path) -> None:
    claude = require_node_client(CLAUDE_BIN)
    home = tmp_path / "home"
    config_dir = home / "cfg"
    printed: list[Decimal] = []
    with stack(tmp_path, clock=VirtualClock("real")) as s:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))},
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(config_dir),
            "ANTHROPIC_BASE_URL": s.url,
            "ANTHROPIC_API_KEY": KEY,
            "DISABLE_TELEMETRY": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        for prompt in PROMPTS:
            done = subprocess.run(
                [str(claude), "-p", prompt, "--output-format", "json"],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
                cwd=tmp_path,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            result = json.loads(done.stdout)
            assert result["is_error"] is False
            printed.append(Decimal(str(result["total_cost_usd"])))
        rows = s.records(len(PROMPTS))
    ledger_total = sum((Decimal(r.total_usd) for r in rows if r.total_usd is not None), Decimal(0))
    assert all(r.source == "gateway" for r in rows)
    assert abs(ledger_total - sum(printed)) < Decimal("1e-12")  # the CLI prints a float
    transcripts = sorted(str(p) for p in (config_dir / "projects").rglob("*.jsonl"))
    assert len(transcripts) >= len(PROMPTS)
    audit = subprocess.run(
        [sys.executable, "-m", "clawback", "audit", *transcripts, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "CLAWBACK_HOME": str(tmp_path / "audit-home")},
    )
    assert audit.returncode == 0, audit.stderr[-2000:]
    assert Decimal(json.loads(audit.stdout)["total_usd"]) == ledger_total
