"""The config file (secrets from the environment or files, never in clear; policies merged) and the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from clawback.errors import InputFileError, UsageError
from clawback.gateway.config import DEFAULT_UPSTREAM, GatewayConfig, load_config
from clawback.gateway.server import check_workers
from clawback.settings import Settings
from tests.gateway.support import GATEWAY_KEY, UPSTREAM_KEY, sha


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    return path


def test_defaults_are_a_passthrough_gateway_to_the_base_url(tmp_path: Path) -> None:
    assert load_config(None, env={}).upstream == DEFAULT_UPSTREAM
    cfg = load_config(None, env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9/"})
    assert cfg.upstream == "http://127.0.0.1:9" and cfg.passthrough and not cfg.keys
    over = load_config(
        _write(tmp_path, 'upstream = "http://10.0.0.1:1"'), env={"ANTHROPIC_BASE_URL": "http://x:2"}
    )
    assert over.upstream == "http://10.0.0.1:1"  # the file beats the environment


def test_keys_projects_secrets_and_policies(tmp_path: Path) -> None:
    secret_file = tmp_path / "web.key"
    secret_file.write_text(UPSTREAM_KEY + "\n")
    cfg = load_config(
        _write(
            tmp_path,
            """
[policy]
plan_cache = true
fallbacks = ["claude-sonnet-5-5"]
[[projects]]
name = "web"
daily_usd = "20"
upstream_key_file = "web.key"
requests_per_minute = 100
[projects.policy]
output_caps = true
[[keys]]
name = "alice"
key_env = "ALICE_KEY"
project = "web"
monthly_usd = "5.50"
[keys.policy]
plan_cache = false
""",
        ),
        env={"ALICE_KEY": GATEWAY_KEY},
    )
    alice = cfg.keys["alice"]
    assert alice.upstream_key.reveal() == UPSTREAM_KEY and UPSTREAM_KEY not in repr(alice)
    assert [(b.scope, b.period, b.limit_usd) for b in alice.all_budgets] == [
        ("key:alice", "month", Decimal("5.50")),
        ("project:web", "day", Decimal(20)),
    ]
    assert alice.policy.plan_cache is False and alice.policy.output_caps is True
    assert alice.policy.fallbacks == ("claude-sonnet-5-5",)
    assert cfg.key_table.lookup(GATEWAY_KEY) == "alice" and not cfg.passthrough
    assert alice.limited and cfg.limited
    assert UPSTREAM_KEY in cfg.secrets


@pytest.mark.parametrize(
    ("text", "env", "match"),
    [
        ('[[keys]]\nname = "a"\nkey_sha256 = "xyz"', {}, "key_sha256"),
        ('[[keys]]\nname = "a"', {}, "exactly one of key_sha256 and key_env"),
        (f'[[keys]]\nname = "a"\nkey_sha256 = "{sha("k")}"', {}, "no upstream key"),
        (
            f'[[keys]]\nname = "a"\nkey_sha256 = "{sha("k")}"\nupstream_key_env = "MISSING"',
            {},
            "MISSING is not set",
        ),
        (
            f'[[keys]]\nname = "a"\nkey_sha256 = "{sha("k")}"\nproject = "p"',
            {"ANTHROPIC_API_KEY": "x"},
            "project 'p'",
        ),
        ('[[keys]]\nname = "a b"', {}, "name"),
        ('[[projects]]\nname = "p"\ndaily_usd = "-1"', {}, "daily_usd"),
        ("nonsense = 1", {}, "nonsense"),
        ('upstream = "ftp://x"', {}, "http"),
        ("this is not toml", {}, "not valid"),
    ],
)
def test_bad_configs_are_one_line_errors(tmp_path: Path, text: str, env: dict[str, str], match: str) -> None:
    with pytest.raises((UsageError, InputFileError), match=match):
        load_config(_write(tmp_path, text), env=env)


def test_several_workers_with_budgets_need_postgres(tmp_path: Path) -> None:
    cfg = load_config(
        _write(tmp_path, f'[[keys]]\nname = "a"\nkey_sha256 = "{sha("k")}"\ndaily_usd = "1"'),
        env={"ANTHROPIC_API_KEY": "up"},
    )
    settings = Settings(home=tmp_path)
    with pytest.raises(UsageError, match="PostgreSQL"):
        check_workers(cfg, 2, settings)
    check_workers(cfg, 1, settings)
    check_workers(replace(cfg, ledger="postgresql://u@h/db"), 4, settings)
    check_workers(GatewayConfig(), 4, settings)  # no budgets: SQLite is fine
    with pytest.raises(UsageError):
        check_workers(cfg, 0, settings)


def test_cli_hash_key_reads_stdin_and_bad_flags_are_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "clawback", "gateway", "--hash-key"],
        input=GATEWAY_KEY + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == sha(GATEWAY_KEY)
    bad = subprocess.run(
        [sys.executable, "-m", "clawback", "gateway", "--upstream", "nope", "--port", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("clawback: error: --upstream")


def test_the_gateway_does_not_import_the_sdk_until_a_policy_needs_it() -> None:
    code = (
        "import sys, clawback.gateway.app, clawback.gateway.server, clawback.cli.gateway; "
        "print(sorted(m for m in ('anthropic', 'httpx2', 'duckdb', 'clawback.client', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_call_the_policies_prepare_does_not_load_the_sdk() -> None:
    """The gateway shares the client's pipeline, not its SDK clients (the SDK is about 80 MB of memory)."""
    code = """
import json, sys, tempfile, urllib.request
from pathlib import Path
from clawback.emulator.app import create_app
from clawback.emulator.server import running
from clawback.gateway.app import build_gateway
from clawback.gateway.config import GatewayConfig
from clawback.gateway.testing import running_gateway
tmp = Path(tempfile.mkdtemp())
with running(create_app()) as emu:
    config = GatewayConfig(upstream=emu, ledger=str(tmp / "l.sqlite3"))
    with running_gateway(build_gateway(config)) as url:
        body = {"model": "claude-haiku-5-5", "max_tokens": 8, "system": "s " * 600,
                "messages": [{"role": "user", "content": "hi"}]}
        headers = {"x-api-key": "sk-ant-test-000011112222", "anthropic-version": "2023-06-01",
                   "content-type": "application/json"}
        request = urllib.request.Request(url + "/v1/messages", json.dumps(body).encode(), headers, method="POST")
        status = urllib.request.urlopen(request, timeout=60).status
print(status, "clawback.client.pipeline" in sys.modules, "anthropic" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["200", "True", "False"], done.stdout + done.stderr


def test_workers_share_one_port_and_flush_their_rows_on_sigterm(tmp_path: Path) -> None:
    import httpx2

    from clawback.emulator.app import create_app
    from clawback.emulator.server import running
    from clawback.ledger.api import open_ledger
    from tests.gateway.procs import gateway_process

    ledger = tmp_path / "ledger.sqlite3"
    with running(create_app()) as emulator_url:
        env = {"ANTHROPIC_BASE_URL": emulator_url, "CLAWBACK_HOME": str(tmp_path / "h")}
        with gateway_process(None, env, args=("--workers", "2", "--ledger", str(ledger))) as url:
            for i in range(6):
                r = httpx2.post(
                    url + "/v1/messages",
                    json={
                        "model": "claude-haiku-5-5",
                        "max_tokens": 8,
                        "messages": [{"role": "user", "content": f"hi {i}"}],
                    },
                    headers={"x-api-key": "sk-ant-workers-test-0001", "anthropic-version": "2023-06-01"},
                    timeout=60,  # a worker the kernel hands the connection to may still be starting
                )
                assert r.status_code == 200
            # /metrics sums both workers' counters; each worker publishes its own once a second,
            # so whichever answers may see the other's last request up to a second late
            wanted = 'clawback_gateway_requests_total{route="messages",status="200"} 6\n'
            for _ in range(100):
                text = httpx2.get(url + "/metrics", timeout=60).text
                if wanted in text:
                    break
                time.sleep(0.1)
            assert wanted in text
    with open_ledger(ledger) as opened:
        assert opened.count() == 6  # written by whichever worker served each, flushed at SIGTERM
