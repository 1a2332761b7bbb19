"""``clawback emulate`` and the in-thread server."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from clawback.emulator import create_app, running
from clawback.emulator.server import bind
from clawback.errors import UsageError

from ..cli.helpers import assert_one_line_error, clawback
from .helpers import body


def test_running_serves_and_stops() -> None:
    with running(create_app()) as url:
        assert url.startswith("http://127.0.0.1:")
        with anthropic.Anthropic(base_url=url, api_key="k", max_retries=0) as client:
            assert client.messages.create(**body()).id


def test_a_port_in_use_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(UsageError, match="cannot listen"):
            bind("127.0.0.1", taken.getsockname()[1])
    with pytest.raises(UsageError, match="--port"):
        bind("127.0.0.1", 70000)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--clock", "sometimes"], "--clock"),
        (["--batch-seconds", "-1"], "--batch-seconds"),
        (["--clock-speed", "0"], "--clock-speed"),
        (["--log-level", "loud"], "--log-level"),
        (["--config", "/nonexistent/emu.toml"], "cannot read emulator config"),
        (["--port", "99999"], "--port"),
    ],
)
def test_bad_arguments_are_one_line_errors(args: list[str], fragment: str) -> None:
    assert_one_line_error(clawback("emulate", *args), fragment)


def test_bad_config_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "emu.toml"
    path.write_text('[[faults]]\nkind = "explode"\n')
    assert_one_line_error(clawback("emulate", "--config", str(path)), "faults.0.kind")


def test_the_command_serves_and_prints_the_three_lines(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clawback",
            "emulate",
            "--port",
            "0",
            "--clock",
            "manual",
            "--auth-key",
            "sk-ant-cli-test-9999",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("clawback emulator listening on http://127.0.0.1:")
        url = first.split()[4]
        lines = [proc.stdout.readline() for _ in range(4)]
        assert f"export ANTHROPIC_BASE_URL={url}" in lines[1]
        # auth is on: the banner must not suggest a key the server refuses (nor print the accepted one)
        assert "sk-ant-emulator" not in lines[2] and "sk-ant-cli-test-9999" not in "".join(lines)
        assert "auth is on" in lines[2]
        with anthropic.Anthropic(base_url=url, api_key="sk-ant-cli-test-9999", max_retries=0) as client:
            assert client.messages.create(**body()).usage.service_tier == "standard"
        with (
            anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0) as client,
            pytest.raises(anthropic.AuthenticationError),
        ):
            client.messages.create(**body())
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
