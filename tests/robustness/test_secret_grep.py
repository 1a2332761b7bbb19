"""No API key and no database password in anything clawback writes (issue #11, S1/S2, build item 1).

Each *producer* pushes a known key (``sk-ant-api03-…``) and a known PostgreSQL password through one
part of clawback — an upstream that echoes the key in its errors, a ledger or journal URL holding the
password — and keeps every stream it printed; every file it wrote lands under its own folder. The
test then greps every stream and every file (databases and their WAL files byte for byte, output
files, reports, logs) for any run of 8 characters of the key and for the password.

Adding a component is one more entry in :data:`PRODUCERS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from clawback.emulator.app import create_app
from clawback.emulator.config import BatchFaultRule, EmulatorConfig
from clawback.emulator.server import running
from tests.batch.support import write_input
from tests.robustness.support import (
    KEY,
    PASSWORD,
    Trace,
    cli,
    echoing_emulator,
    leaks_in,
    logs_to,
)

FAST = ["--poll-interval", "0.05", "--max-poll-interval", "0.2", "--recover-grace", "0.2", "--no-progress"]
UNREACHABLE = f"postgresql://clawback:{PASSWORD}@127.0.0.1:1/ledger?connect_timeout=1"

Producer = Callable[[Trace, pytest.CaptureFixture[str], pytest.MonkeyPatch, pytest.FixtureRequest], None]


def _batch_runner(
    trace: Trace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, _: Any
) -> None:
    """The batch runner with an upstream whose create, poll, warm-up and item errors echo the key."""
    root = trace.root
    write_input(root / "in.jsonl", 6)
    journal = ["--journal", str(root / "j.sqlite3")]
    echo = f"invalid x-api-key: {KEY}"
    config = EmulatorConfig(
        clock="manual", batch_faults=(BatchFaultRule(result="errored", rate=1.0, message=echo),)
    )
    plan = {
        ("POST", "/v1/messages/batches"): (2, 500, "api_error"),
        ("GET", "/v1/messages/batches/"): (1, 529, "overloaded_error"),
        ("POST", "/v1/messages"): (5, 500, "api_error"),
    }
    with echoing_emulator(plan, config) as base_url, logs_to(root / "log.txt"):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        run = cli(trace, capsys, "batch run", "batch", "run", str(root / "in.jsonl"), "--out",
                  str(root / "out.jsonl"), "--job", "one", "--warm-cache", "--max-attempts", "2",
                  "--json", *journal, *FAST)  # fmt: skip
        assert run.code == 0, run.err
        assert "invalid x-api-key" in run.err  # the notices name the failure, masked
        refused = {("POST", "/v1/messages/batches"): (9, 400, "invalid_request_error")}
    with echoing_emulator(refused) as base_url, logs_to(root / "log2.txt"):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        again = cli(trace, capsys, "batch run (refused)", "batch", "run", str(root / "in.jsonl"), "--out",
                    str(root / "out2.jsonl"), "--job", "two", *journal, *FAST)  # fmt: skip
        assert again.code != 0 and "refused" in again.err
    for args in (
        ["status", "one"],
        ["status", "two", "--json"],
        ["status", "two"],
        ["list"],
        ["list", "--json"],
    ):
        shown = cli(trace, capsys, f"batch {' '.join(args)}", "batch", *args, *journal)
        assert shown.code == 0, shown.err
    lines = [json.loads(line) for line in (root / "out.jsonl").read_text().splitlines()]
    assert {line["outcome"] for line in lines} == {"errored"}  # every item's error echoed the key


def _client(
    trace: Trace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, _: Any
) -> None:
    """The drop-in client against an upstream whose 401 and 500 echo the key; then the ledger views."""
    from clawback import Anthropic

    root = trace.root
    ledger = str(root / "ledger.sqlite3")
    plan = {("POST", "/v1/messages"): (3, 401, "authentication_error")}
    with echoing_emulator(plan) as base_url, logs_to(root / "log.txt"):
        client = Anthropic(base_url=base_url, api_key=KEY, ledger=ledger, max_retries=0)
        try:
            for _ in range(2):
                with pytest.raises(anthropic.AuthenticationError) as raised:
                    client.messages.create(
                        model="claude-haiku-5-5", max_tokens=8, task="t",
                        messages=[{"role": "user", "content": "hi"}],
                    )  # fmt: skip
                # what the caller's own code would log or print of the error it got
                error = raised.value
                trace.add("the caller's exception", f"{error!s} {error!r} {error.message} {error.body!r}")
        finally:
            client.close()
    for args in (["tail"], ["tail", "--json"], ["summary", "--by", "model"], ["export"]):
        shown = cli(trace, capsys, f"ledger {' '.join(args)}", "ledger", *args, "--ledger", ledger)
        assert shown.code == 0, shown.err
    assert "AuthenticationError" in trace.streams["ledger tail (stdout)"]


def _emulator(
    trace: Trace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, _: Any
) -> None:
    """The emulator with auth on: a right key, a wrong key, then its request log, stats and server log."""
    root = trace.root
    wrong = KEY[:-6] + "WRONGx"
    app = create_app(EmulatorConfig(auth_keys=(KEY,)))  # type: ignore[arg-type]
    body = {"model": "claude-haiku-5-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    with logs_to(root / "log.txt"), running(app, log_level="debug") as base_url:
        for key in (KEY, wrong, f"Bearer {KEY}"):
            reply = httpx2.post(f"{base_url}/v1/messages", json=body, headers={"x-api-key": key}, timeout=10)
            trace.add(f"POST with key {key[:4]}", reply.text)
        for path in ("/_emulator/log", "/_emulator/stats"):
            trace.add(path, httpx2.get(f"{base_url}{path}", timeout=10).text)


def _stores_by_url(
    trace: Trace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, _: Any
) -> None:
    """Ledger and journal commands given a postgresql:// URL with a password, on an unreachable server."""
    for args in (
        ["ledger", "path", "--ledger", UNREACHABLE],
        ["ledger", "path", "--json", "--ledger", UNREACHABLE],
        ["ledger", "summary", "--ledger", UNREACHABLE],
        ["ledger", "tail", "--ledger", UNREACHABLE],
        ["batch", "list", "--journal", UNREACHABLE],
        ["batch", "status", "--journal", UNREACHABLE.replace("/ledger", "/journal")],
    ):
        cli(trace, capsys, " ".join(args[:2]), *args)
    assert "***" in trace.streams["ledger path (stdout)"]


def _stores_on_postgres(
    trace: Trace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The ledger views against a real PostgreSQL URL carrying a password."""
    url = _pg_ledger(request, records=1)
    for args in (["summary", "--json"], ["summary"], ["tail"], ["path", "--json"]):
        shown = cli(trace, capsys, f"ledger {' '.join(args)}", "ledger", *args, "--ledger", url)
        assert shown.code == 0, shown.err
    assert "***" in trace.streams["ledger summary --json (stdout)"]


def _audit_ledger_url(
    trace: Trace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """``clawback audit postgresql://user:PASSWORD@host/db --report r.html --json`` (issue #11, S2)."""
    url = _pg_ledger(request, records=3)
    shown = cli(trace, capsys, "audit", "audit", url, "--report", str(trace.root / "r.html"), "--json")
    assert shown.code == 0, shown.err


def _audit_unreachable(
    trace: Trace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, _: Any
) -> None:
    """``clawback audit`` of a ledger URL whose server does not answer: the error masks the password."""
    shown = cli(trace, capsys, "audit", "audit", UNREACHABLE, "--json")
    assert shown.code != 0


def _gateway(
    trace: Trace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, _: Any
) -> None:
    """``clawback gateway`` (pass-through and a managed key whose upstream key is the known one) in front
    of an upstream whose errors echo the key; then its metrics, dashboard, log and ledger views."""
    from tests.gateway.procs import gateway_process

    root = trace.root
    config = root / "gw.toml"
    config.write_text(
        'log_level = "debug"\naccess_log = true\n[[keys]]\nname = "team"\n'
        'key_env = "GW_TEAM_KEY"\nupstream_key_env = "GW_UPSTREAM"\ndaily_usd = "5"\n'
    )
    ledger = str(root / "ledger.sqlite3")
    body = {"model": "claude-haiku-5-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    plan = {("POST", "/v1/messages"): (4, 401, "authentication_error")}
    env = {"GW_TEAM_KEY": "gw-team-key-0000-1111", "GW_UPSTREAM": KEY, "CLAWBACK_HOME": str(root / "home"),
           "CLAWBACK_LEDGER": ledger}  # fmt: skip
    with echoing_emulator(plan) as base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
        with gateway_process(config, env, log=root / "gateway.log") as url, httpx2.Client(timeout=30) as http:
            v = {"anthropic-version": "2023-06-01"}
            for headers in (
                {"x-api-key": KEY, **v},  # pass-through: the caller's own key goes upstream and is echoed
                {"authorization": f"Bearer {KEY}", **v},
                {"x-api-key": "gw-team-key-0000-1111", **v},  # managed: the upstream key is the known one
                {"x-api-key": "gw-team-key-0000-1111", **v},
                {"x-api-key": KEY, **v},
            ):
                reply = http.post(f"{url}/v1/messages", json=body, headers=headers)
                trace.add(f"gateway POST ({reply.status_code})", reply.text)
            for page in ("/metrics", "/", "/readyz"):
                trace.add(f"gateway {page}", http.get(url + page).text)
    for args in (["tail", "--json"], ["summary", "--by", "source"], ["export"]):
        shown = cli(trace, capsys, f"ledger {' '.join(args)}", "ledger", *args, "--ledger", ledger)
        assert shown.code == 0, shown.err
    assert "authentication_error" in trace.streams["ledger tail --json (stdout)"]


def _pg_ledger(request: pytest.FixtureRequest, *, records: int) -> str:
    """A fresh PostgreSQL ledger holding ``records`` calls; its URL, with a password in it."""
    from clawback.ledger import open_ledger
    from tests.ledger.factories import make_record

    url = _with_password(request.getfixturevalue("pg_database"))
    with open_ledger(url) as book:
        for i in range(records):
            book.record(make_record(i))
    return url


def _with_password(url: str) -> str:
    """``url`` (trust authentication) with a password added: the server ignores it, clawback must hide it."""
    scheme, rest = url.split("://", 1)
    user_host = rest.split("@", 1)
    if len(user_host) == 2:
        return f"{scheme}://{user_host[0].split(':')[0]}:{PASSWORD}@{user_host[1]}"
    return f"{scheme}://clawback:{PASSWORD}@{rest}"


PRODUCERS: dict[str, Producer] = {
    "batch runner": _batch_runner,
    "client": _client,
    "emulator": _emulator,
    "gateway": _gateway,
    "stores by URL": _stores_by_url,
    "stores on PostgreSQL": _stores_on_postgres,
    "audit of a ledger URL": _audit_ledger_url,
    "audit of an unreachable URL": _audit_unreachable,
}
"""Every part of clawback that writes files or streams."""

POSTGRES = {"stores on PostgreSQL", "audit of a ledger URL"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=[pytest.mark.postgres] if name in POSTGRES else [],
        )
        for name in PRODUCERS
    ],
)
def test_no_key_fragment_or_password_in_any_stream_or_file(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    root = tmp_path / "produced"
    root.mkdir()
    monkeypatch.setenv("CLAWBACK_HOME", str(root / "home"))
    monkeypatch.chdir(root)
    trace = Trace(root)
    PRODUCERS[name](trace, capsys, monkeypatch, request)
    assert trace.streams, "the producer printed nothing: the grep would prove nothing"
    assert trace.leaks() == {}


def test_the_grep_finds_a_planted_fragment(tmp_path: Path) -> None:
    """The grep itself works: a file holding 8 characters of the key, or the password, is caught."""
    (tmp_path / "a.bin").write_bytes(b"\x00junk" + KEY[20:28].encode() + b"junk")
    (tmp_path / "b.txt").write_text(f"postgresql://u:{PASSWORD}@h/db")
    trace = Trace(tmp_path, {"stderr": f"masked sk-ant-…{KEY[-4:]}"})
    assert set(trace.leaks()) == {"a.bin", "b.txt"}
    assert leaks_in(KEY[3:11]) and not leaks_in(KEY[3:10])
