"""No API key or password in anything the gateway writes: ledger, logs, metrics, dashboard, state.

The gateway runs as ``clawback gateway`` at debug log level with a managed key and pass-through
keys, through successes, upstream errors, refusals, junk and an unreachable upstream; then every
file under the test's folder (SQLite databases and WAL files included) and every page is searched
for each secret, and for its distinctive middle.
"""

from __future__ import annotations

from pathlib import Path

import httpx2

from clawback.emulator.app import create_app
from clawback.emulator.server import running
from tests.gateway.procs import gateway_process
from tests.gateway.support import GATEWAY_KEY, UPSTREAM_KEY, sha

PASS_KEY = "sk-ant-api03-passthrough-SECRETMIDDLE-9876"
BEARER = "oauth-bearer-token-SECRETBEARER-4242"
SECRETS = (
    GATEWAY_KEY,
    UPSTREAM_KEY,
    PASS_KEY,
    BEARER,
    "SECRETMIDDLE",
    "SECRETBEARER",
    "upstream-secret",
    "team-alpha-secret",
)
BODY = {"model": "claude-haiku-5-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]}
V = {"anthropic-version": "2023-06-01"}


def test_nothing_the_gateway_writes_holds_a_key(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(
        f'passthrough = true\naccess_log = true\nlog_level = "debug"\n[[keys]]\nname = "alpha"\n'
        f'key_sha256 = "{sha(GATEWAY_KEY)}"\nupstream_key_env = "ALPHA_UPSTREAM"\ndaily_usd = "0.0000001"\n'
    )
    pages: list[str] = []
    with running(create_app()) as emulator_url:
        env = {
            "ANTHROPIC_BASE_URL": emulator_url,
            "ALPHA_UPSTREAM": UPSTREAM_KEY,
            "CLAWBACK_HOME": str(tmp_path / "h"),
            "CLAWBACK_LEDGER": str(tmp_path / "ledger.sqlite3"),
        }
        with (
            gateway_process(config, env, log=tmp_path / "gateway.log") as url,
            httpx2.Client(timeout=30) as http,
        ):
            calls = [
                ({"x-api-key": PASS_KEY, **V}, BODY),
                ({"authorization": f"Bearer {BEARER}", **V}, BODY),
                ({"x-api-key": PASS_KEY, **V}, {**BODY, "model": "claude-nope"}),
                ({"x-api-key": PASS_KEY, **V}, {**BODY, "stream": True}),
                ({"x-api-key": GATEWAY_KEY, **V}, BODY),  # refused by its tiny budget
                ({"x-api-key": PASS_KEY}, BODY),  # no version: upstream's 400
            ]
            for headers, body in calls:
                assert http.post(url + "/v1/messages", json=body, headers=headers).status_code in (
                    200,
                    400,
                    404,
                )
            assert (
                http.post(url + "/v1/messages", content=b"\xff{", headers={"x-api-key": PASS_KEY}).status_code
                == 400
            )
            http.post(url + "/v1/messages/count_tokens", json=BODY, headers={"x-api-key": GATEWAY_KEY, **V})
            http.get(url + "/v1/models", headers={"x-api-key": PASS_KEY, **V})
            pages += [http.get(url + "/metrics").text, http.get(url + "/").text]
        with gateway_process(  # an unreachable upstream: warnings and errors on every path
            None,
            {**env, "ANTHROPIC_BASE_URL": f"http://{PASS_KEY}:{UPSTREAM_KEY}@127.0.0.1:9/"},
            log=tmp_path / "unreachable.log",
            args=("--log-level", "debug"),
        ) as url2:
            assert httpx2.post(
                url2 + "/v1/messages", json=BODY, headers={"x-api-key": PASS_KEY, **V}
            ).status_code in (
                400,
                502,
            )
    (tmp_path / "pages.txt").write_text("\n".join(pages))
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "gw.toml"]
    assert any(p.name.startswith("ledger.sqlite3") for p in files)
    assert (tmp_path / "gateway.log").stat().st_size > 0  # debug logs were written, and searched
    for file in files:
        data = file.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret!r} found in {file.relative_to(tmp_path)}"
    assert "sk-ant-…9876" in (tmp_path / "pages.txt").read_text()  # keys appear only masked
