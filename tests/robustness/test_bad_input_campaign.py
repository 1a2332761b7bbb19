"""Bad input for every command that reads a file or a body: a one-line error, never a crash (issue #11).

The promise checked for each run: the exit code is never 70 ("internal error"), a failure prints
exactly one line on stderr starting ``clawback: error:`` (no traceback), nothing hangs, and no API
key fragment appears in any stream. Hand-made inputs cover every case the campaign of issue #11
found (B1, B2, B3, L1); hypothesis adds random bytes, random JSON and mutated request bodies.

Commands run in-process (``tests.cli.helpers.run_in_process``); only the FIFO checks start
subprocesses, because a hang must be caught with a timeout.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.helpers import Result, assert_one_line_error, clawback, run_in_process
from tests.robustness.support import KEY, leaks_in

BOM = b"\xef\xbb\xbf"
REQUEST = {"model": "claude-haiku-5-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]}
USAGE = {"input_tokens": 1200, "output_tokens": 30}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_in_block(depth: int) -> bytes:
    """A request whose first content block holds a value nested ``depth`` levels."""
    text = json.dumps(
        {**REQUEST, "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "extra": 0}]}]}
    )
    return text.replace('"extra": 0', '"extra": ' + nested(depth).decode()).encode()


BAD: dict[str, bytes] = {
    "nested 1,000 levels": nested(1000),
    "nested 100,000 levels": nested(100_000),
    "nested 500 levels in a content block": deep_in_block(500),
    "not UTF-8": b'{"input_tokens": 5, "note": "caf\xe9"}',
    "a lone surrogate": b'{"model": "claude-haiku-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud800"}]}',
    "NaN": b'{"input_tokens": NaN}',
    "a 300-digit number": b'{"input_tokens": 1' + b"0" * 300 + b"}",
    "a float that overflows": b'{"input_tokens": 1e999}',
    "empty": b"",
    "binary": bytes(range(256)),
    "cut short": b'{"messages": [{"role": "user", "content": "x"',
    "a JSON string": b'"x"',
    "a JSON array": b"[1, 2, 3]",
    "system is a number": json.dumps({**REQUEST, "system": 5}).encode(),
    "usage is a string": b'{"model": "claude-haiku-5-5", "usage": "x"}',
    "a key where a model goes": json.dumps({**REQUEST, "model": KEY}).encode(),
    "TOML nested 1,000 levels": b"a = " + nested(1000),
    "a NUL byte": b'{"model": "claude-haiku-5-5\x00"}',
}
"""Hand-made bad contents, each written to a file (and a ``.json`` twin where the suffix matters)."""

GOOD_WITH_BOM: dict[str, bytes] = {
    "request": BOM + json.dumps(REQUEST).encode(),
    "usage": BOM + json.dumps(USAGE).encode(),
    "batch": BOM + (json.dumps(REQUEST) + "\n" + json.dumps(REQUEST) + "\n").encode(),
}


def estimate(*args: str) -> list[str]:
    """``clawback estimate`` with a small workload; ``args`` add flags or override the calls per day."""
    base = ["--static-tokens", "1", "--dynamic-tokens", "1", "--output-tokens", "1", "-m", "claude-haiku-5-5"]
    return ["estimate", *args, *base]


def commands(tmp: Path) -> dict[str, Callable[[Path], list[str]]]:
    """Every command (and flag) that reads a file or body, as a function of the file."""
    good = tmp / "good-request.json"
    good.write_text(json.dumps(REQUEST))
    out = str(tmp / "out.jsonl")
    journal = str(tmp / "journal.sqlite3")
    return {
        "lint": lambda f: ["lint", str(f)],
        "lint --previous": lambda f: ["lint", str(good), "--previous", str(f)],
        "cost --usage": lambda f: ["cost", "-m", "claude-haiku-5-5", "--usage", str(f)],
        "cost --prices": lambda f: ["cost", "-m", "claude-haiku-5-5", "--input", "1", "--prices", str(f)],
        "models --prices": lambda f: ["models", "--prices", str(f)],
        "estimate --prices": lambda f: estimate("--calls-per-day", "10", "--prices", str(f)),
        "batch run --dry-run": lambda f: ["batch", "run", str(f), "--out", out, "--dry-run"],
        "batch run --dry-run --skip-invalid": lambda f: [
            "batch",
            "run",
            str(f),
            "--out",
            out,
            "--dry-run",
            "--skip-invalid",
        ],
        "batch run": lambda f: ["batch", "run", str(f), "--out", out, "--overwrite", "--journal", journal],
        "batch run --skip-invalid": lambda f: [
            "batch",
            "run",
            str(f),
            "--out",
            out,
            "--overwrite",
            "--journal",
            journal,
            "--skip-invalid",
        ],
        "route decide --body": lambda f: ["route", "decide", "--body", str(f)],
        "route decide --routing-config": lambda f: [
            "route",
            "decide",
            "--body",
            json.dumps(REQUEST),
            "--routing-config",
            str(f),
        ],
        "route show --routing-config": lambda f: ["route", "show", "--routing-config", str(f)],
        "eval run": lambda f: [
            "eval",
            "run",
            str(f),
            "--task",
            "t",
            "--models",
            "claude-haiku-5-5",
            "--ground-truth",
            "label",
            "--runner",
            "direct",
        ],
        "eval train-router": lambda f: [
            "eval",
            "train-router",
            str(f),
            "--out",
            str(tmp / "r.json"),
            "--cheap",
            "claude-haiku-5-5",
            "--strong",
            "claude-sonnet-5-5",
        ],
        "emulate --config": lambda f: ["emulate", "--config", str(f), "--port", "0"],
        "emulate replay file": lambda f: ["emulate", "--config", str(_replay_config(tmp, f)), "--port", "0"],
        "ledger summary --ledger": lambda f: ["ledger", "summary", "--ledger", str(f)],
        "ledger export --ledger": lambda f: ["ledger", "export", "--ledger", str(f)],
        "batch status --journal": lambda f: ["batch", "status", "--journal", str(f)],
    }


def _replay_config(tmp: Path, replay: Path) -> Path:
    config = tmp / "replay-config.json"
    config.write_text(json.dumps({"responder": {"kind": "replay", "replay_file": str(replay)}}))
    return config


@pytest.fixture(autouse=True)
def _no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """``emulate`` with a config that loads would serve forever: here it returns at once instead."""
    import clawback.emulator.server as server

    monkeypatch.setattr(server, "serve", lambda *args, **kwargs: None)


def check(result: Result, what: str) -> None:
    """The campaign's promise for one run."""
    assert result.code != 70, f"{what}: internal error: {result.err}"
    assert "Traceback" not in result.err and "internal error" not in result.err, what
    if result.code != 0:  # one error line, last; notes before it (a saved batch job) are fine
        errors = [line for line in result.err.splitlines() if line.startswith("clawback: error: ")]
        assert len(errors) == 1 and result.err.rstrip("\n").endswith(errors[0]), f"{what}: {result.err}"
    assert not leaks_in(result.out + result.err), f"{what}: a key fragment was printed"


def run_with(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Result:
    return run_in_process(capsys, *argv)


@pytest.mark.parametrize("content", list(BAD), ids=list(BAD))
def test_hand_made_bad_inputs_never_crash_any_command(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, argv in commands(tmp_path).items():
        for suffix in (".json", ".toml") if "prices" in name or "config" in name else (".jsonl",):
            path = tmp_path / f"bad{suffix}"
            path.write_bytes(BAD[content])
            result = run_with(capsys, argv(path))
            check(result, f"{name} on {content} ({suffix})")
            json_reader = name in ("lint", "cost --usage", "route decide --body", "cost --prices")
            if content.startswith("nested") and json_reader and suffix != ".toml":
                assert result.code == 2 and "nested deeper" in result.err, (name, result.err)


def test_named_regressions_of_issue_11(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The exact failures the campaign reported, each with the error it must now give."""
    cmds = commands(tmp_path)
    cases = [
        ("batch run --dry-run --skip-invalid", "system is a number", 0, ""),
        ("batch run --dry-run", "system is a number", 2, "line 1: system"),
        ("batch run --dry-run --skip-invalid", "a lone surrogate", 0, ""),
        ("cost --usage", "not UTF-8", 2, "is not UTF-8 text (byte 32 is 0xe9)"),
        ("route decide --body", "not UTF-8", 2, "is not UTF-8"),
        ("route decide --routing-config", "not UTF-8", 2, "is not UTF-8"),
        ("emulate replay file", "not UTF-8", 2, "replay file"),
        ("cost --usage", "usage is a string", 2, "'usage' must be a JSON object"),
        ("lint", "a key where a model goes", 2, "unknown model"),
    ]
    for name, content, code, fragment in cases:
        path = tmp_path / ("bad.toml" if "config" in name else "bad.jsonl")
        path.write_bytes(BAD[content])
        result = run_with(capsys, cmds[name](path))
        check(result, f"{name} on {content}")
        assert result.code == code and fragment in result.err, (name, content, result)
    big = run_with(capsys, estimate("--calls-per-day", "9" * 300))
    assert big.code == 2 and "--calls-per-day is out of range" in big.err


def test_a_utf8_bom_is_accepted_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cmds = commands(tmp_path)
    for name, content in [
        ("lint", "request"),
        ("cost --usage", "usage"),
        ("route decide --body", "request"),
        ("batch run --dry-run", "batch"),
    ]:
        path = tmp_path / "bom.json"
        path.write_bytes(GOOD_WITH_BOM[content])
        result = run_with(capsys, cmds[name](path))
        assert result.code == 0, (name, result.err)
    dry = run_with(capsys, [*cmds["batch run --dry-run"](path), "--json"])
    assert json.loads(dry.out)["invalid"] == 0


def test_bad_standard_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for argv in (
        ["lint", "-"],
        ["cost", "-m", "claude-haiku-5-5", "--usage", "-"],
        ["route", "decide", "--body", "-"],
    ):
        for content in ("nested 1,000 levels", "not UTF-8", "empty"):
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BAD[content])))
            check(run_with(capsys, argv), f"{argv[0]} - on {content}")


MUTATIONS = st.sampled_from(["system", "tools", "messages", "max_tokens", "model", "metadata", "content"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    """Random bytes, random JSON, or a valid request with one field replaced by random JSON."""
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "mutated block"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    body: dict[str, object] = json.loads(json.dumps(REQUEST))
    value = draw(JSON)
    if kind == "mutated":
        body[draw(MUTATIONS)] = value
    else:
        body["messages"] = [{"role": "user", "content": [{"type": draw(JSON), "text": value}]}]
    return json.dumps(body).encode()


HYPOTHESIS_COMMANDS = [
    "lint",
    "cost --usage",
    "batch run --dry-run --skip-invalid",
    "route decide --body",
    "eval run",
    "cost --prices",
    "emulate --config",
]


@pytest.mark.parametrize("name", HYPOTHESIS_COMMANDS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=contents())
def test_generated_bad_inputs_never_crash(
    name: str, data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ("gen.json" if name != "batch run --dry-run --skip-invalid" else "gen.jsonl")
    path.write_bytes(data.replace(b"\n", b" ") if name.startswith("batch") else data)
    check(run_with(capsys, commands(tmp_path)[name](path)), f"{name} on {data[:80]!r}")


def _fifo_with_writer(tmp_path: Path, content: bytes | None) -> Path:
    """A FIFO; when ``content`` is given, a thread opens it for writing, writes it and closes it."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    if content is not None:

        def write() -> None:
            with open(fifo, "wb") as handle:
                handle.write(content)

        threading.Thread(target=write, daemon=True).start()
    return fifo


@pytest.mark.parametrize(
    ("argv", "content", "code"),
    [
        (["lint", "{}", "--json"], json.dumps(REQUEST).encode(), 0),
        (["lint", "{}"], None, 2),
        (["cost", "-m", "claude-haiku-5-5", "--usage", "{}", "--json"], json.dumps(USAGE).encode(), 0),
        (["cost", "-m", "claude-haiku-5-5", "--usage", "{}"], None, 2),
        (["route", "decide", "--body", "{}"], json.dumps(REQUEST).encode(), 0),
        (["cost", "-m", "claude-haiku-5-5", "--input", "1", "--prices", "{}"], None, 2),
        (
            ["eval", "run", "{}", "--task", "t", "--models", "claude-haiku-5-5", "--ground-truth", "x"],
            None,
            2,
        ),
        (["batch", "run", "{}", "--out", "{out}", "--dry-run"], None, 2),
        (["ledger", "summary", "--ledger", "{}"], None, 4),
        (["batch", "list", "--journal", "{}"], None, 4),
    ],
    ids=[
        "lint",
        "lint, no writer",
        "cost --usage",
        "cost --usage, no writer",
        "route --body",
        "--prices, no writer",
        "eval dataset, no writer",
        "batch run",
        "ledger --ledger",
        "batch --journal",
    ],
)
def test_no_command_hangs_on_a_fifo(
    tmp_path: Path, argv: list[str], content: bytes | None, code: int
) -> None:
    """Read once, to the end, and never wait forever for a writer (the old code could do both)."""
    fifo = _fifo_with_writer(tmp_path, content)
    args = [
        a.replace("{out}", str(tmp_path / "o.jsonl")).replace("{}", str(fifo)) if "{" in a else a
        for a in argv
    ]
    wait = (
        "10" if content is not None else "1"
    )  # a writer is waiting: it writes at once, even on a busy machine
    result = clawback(*args, env={"CLAWBACK_FIFO_WAIT": wait}, timeout=30)
    assert result.code == code, result
    if code:
        assert_one_line_error(result)


# -- the audit: its share of issue #11 ------------------------------------------------------------


def _log_line(ts: str) -> str:
    usage = {"input_tokens": 100, "output_tokens": 10}
    return json.dumps(
        {"timestamp": ts, "id": "msg_1", "type": "message", "model": "claude-haiku-5-5", "usage": usage}
    )


LOG = "".join(_log_line(f"2026-11-10T09:00:{i:02d}Z") + "\n" for i in range(5)).encode()


def _audit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, *extra: str
) -> tuple[Result, dict]:
    path = tmp_path / "log.jsonl"
    path.write_bytes(content)
    result = run_with(
        capsys, ["audit", str(path), *[str(path) if e == "{log}" else e for e in extra], "--json"]
    )
    check(result, f"audit {extra}")
    return result, (json.loads(result.out) if result.code == 0 else {})


def _calls(data: dict) -> int:
    return int(data["calls"])


@pytest.mark.parametrize("content", ["nested 1,000 levels", "nested 100,000 levels"])
def test_audit_of_deeply_nested_json(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, _ = _audit(capsys, tmp_path, BAD[content])
    assert result.code == 2


@pytest.mark.parametrize("ts", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "5138-01-01T00:00:00Z"])
def test_audit_counts_a_date_outside_2023_2100_as_malformed(
    ts: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, data = _audit(capsys, tmp_path, LOG + (_log_line(ts) + "\n").encode())
    assert result.code == 0 and _calls(data) == 5


def test_audit_reads_a_bom_and_the_same_file_twice_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = _audit(capsys, tmp_path, BOM + LOG)
    assert _calls(data) == 5
    _, data = _audit(capsys, tmp_path, LOG, "{log}")
    assert _calls(data) == 5  # read once, and said so (with --json, in input_issues.notes)
    assert any("read once" in n for n in data["input_issues"]["notes"]), data["input_issues"]


def test_audit_refuses_a_nan_keepalive_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result, _ = _audit(capsys, tmp_path, LOG, "--keepalive-cap", "NaN")
    assert result.code == 2


def test_audit_does_not_hang_on_a_fifo(tmp_path: Path) -> None:
    fifo = _fifo_with_writer(tmp_path, LOG)
    result = clawback("audit", str(fifo), "--json", env={"CLAWBACK_FIFO_WAIT": "1"}, timeout=5)
    assert result.code == 0, result


def test_lint_work_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """200,000 blocks took 341 s and 1.2 GB: now a limit, refused at once, and a table of bounded size."""
    from clawback.cache.lint import MAX_BLOCKS
    from clawback.cli.lint import TABLE_ROWS

    def body(blocks: int) -> dict[str, object]:
        content = [{"type": "text", "text": f"block {i}"} for i in range(blocks)]
        return {**REQUEST, "messages": [{"role": "user", "content": content}]}

    path = tmp_path / "big.json"
    path.write_text(json.dumps(body(MAX_BLOCKS + 1)))
    refused = run_with(capsys, ["lint", str(path)])
    assert_one_line_error(refused, f"{MAX_BLOCKS + 1:,} content blocks", f"at most {MAX_BLOCKS:,}")
    path.write_text(json.dumps(body(3 * TABLE_ROWS)))
    shown = run_with(capsys, ["lint", str(path)])
    assert shown.code == 0 and "more block(s) (--json lists every block)" in shown.out
    assert sum("messages[0].content[" in line for line in shown.out.splitlines()) <= TABLE_ROWS
    assert len(json.loads(run_with(capsys, ["lint", str(path), "--json"]).out)["blocks"]) == 3 * TABLE_ROWS


def test_a_price_file_given_twice_is_read_once_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from importlib import resources

    prices = tmp_path / "prices.toml"
    prices.write_text(resources.files("clawback.pricing").joinpath("data/catalogue.toml").read_text("utf-8"))
    alias = tmp_path / "alias.toml"
    alias.symlink_to(prices)
    twice = ["cost", "-m", "claude-haiku-5-5", "--input", "1", "--json", "--prices", str(prices)]
    result = run_with(capsys, [*twice, "--prices", str(alias)])
    assert result.code == 0, result.err
    assert f"price file {alias} was given twice; it is read once" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", "run", "{in}", "--out", "{out}", "--dry-run", "--max-cost", "1e999999999"],
        ["batch", "run", "{in}", "--out", "{out}", "--dry-run", "--max-cost", "NaN"],
        ["batch", "run", "{in}", "--out", "{out}", "--dry-run", "--batch-size", "9" * 40],
        ["cost", "-m", "claude-haiku-5-5", "--input", "9" * 40],
        ["cost", "-m", "claude-haiku-5-5", "--input", "1", "--at", "99999-01-01"],
        ["estimate", "--calls-per-day", "9" * 300, "--static-tokens", "1", "--dynamic-tokens", "1",
         "--output-tokens", "1", "-m", "claude-haiku-5-5"],
        ["estimate", "--calls-per-day", "1", "--static-tokens", "1", "--dynamic-tokens", "1",
         "--output-tokens", "1", "-m", "claude-haiku-5-5", "--batch-share", "1e999999"],
        ["ledger", "tail", "-n", "9" * 30, "--ledger", "{ledger}"],
        ["ledger", "summary", "--until", "9999-12-31", "--ledger", "{ledger}"],
        ["ledger", "summary", "--since", "0001-01-01T00:00:00-05:00", "--ledger", "{ledger}"],
        ["batch", "list", "--limit", "9" * 30, "--journal", "{ledger}"],
    ],
)  # fmt: skip
def test_bad_numbers_and_dates_in_arguments(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(REQUEST) + "\n")
    ledger = tmp_path / "ledger.sqlite3"
    from clawback.ledger import open_ledger
    from tests.ledger.factories import make_record

    with open_ledger(ledger) as book:
        book.record(make_record(1))
    names = {"{in}": str(source), "{out}": str(tmp_path / "o.jsonl"), "{ledger}": str(ledger)}
    check(run_with(capsys, [names.get(a, a) for a in argv]), " ".join(argv)[:80])
