"""``clawback batch`` as a user runs it: one-line errors, dry run, run, status, list, cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from clawback.emulator.config import BatchConfig, EmulatorConfig
from tests.batch.support import KEY, Emu, emulator, read_output, ticking, write_input
from tests.cli.helpers import Result, assert_one_line_error, clawback

FAST = ["--poll-interval", "0.05", "--max-poll-interval", "0.2", "--recover-grace", "0.2", "--no-progress"]


def _bad_input(tmp_path: Path) -> Path:
    source = tmp_path / "in.jsonl"
    write_input(source, 3)
    big = {
        "model": "claude-haiku-5-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x" * 40_000}],
    }
    with source.open("a") as handle:
        handle.write('{"model": "claude-haiku-5-5", "messages": [{"role": "user", "content": "x"}]}\n')
        handle.write("{oops\n\n")
        handle.write(json.dumps(big) + "\n")
    return source


def test_bad_lines_are_named_with_line_numbers_before_anything_is_sent(tmp_path: Path) -> None:
    source = _bad_input(tmp_path)
    result = clawback(
        "batch",
        "run",
        str(source),
        "--out",
        str(tmp_path / "out.jsonl"),
        "--journal",
        str(tmp_path / "j.sqlite3"),
        "--batch-bytes",
        "30000",
    )
    assert_one_line_error(
        result,
        "3 invalid lines, nothing was sent",
        "line 4: max_tokens: Field required",
        "line 5: not valid JSON",
        "line 7: request is",
    )
    assert result.code == 2 and not (tmp_path / "out.jsonl").exists()


def test_dry_run_lists_problems_and_estimates(tmp_path: Path) -> None:
    source = _bad_input(tmp_path)
    result = clawback(
        "batch",
        "run",
        str(source),
        "--out",
        str(tmp_path / "o.jsonl"),
        "--dry-run",
        "--json",
        "--skip-invalid",
        "--max-cost",
        "100",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["valid"], data["invalid"]) == (4, 2) and data["errors"][0]["line"] == 4
    assert data["prefix_groups"] == 1 and data["breakpoints_added"] == 3 and not data["over_max_cost"]
    assert float(data["upper_bound_usd"]) >= float(data["typical_usd"]) > 0


def test_spend_cap_refuses(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 3)
    result = clawback(
        "batch",
        "run",
        str(tmp_path / "in.jsonl"),
        "--out",
        str(tmp_path / "o.jsonl"),
        "--journal",
        str(tmp_path / "j.sqlite3"),
        "--max-cost",
        "0.0000001",
    )
    assert_one_line_error(result, "over --max-cost", "nothing was sent")


def test_duplicate_ids_and_other_usage_errors(tmp_path: Path) -> None:
    body = {"model": "claude-haiku-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    (tmp_path / "dup.jsonl").write_text(
        json.dumps({"id": "a", **body}) + "\n" + json.dumps({"id": "a", **body}) + "\n"
    )
    journal = ["--journal", str(tmp_path / "j.sqlite3")]
    checks: list[tuple[Result, tuple[str, ...]]] = [
        (
            clawback("batch", "run", str(tmp_path / "dup.jsonl"), "--out", str(tmp_path / "o"), *journal),
            ('id "a" appears on 2 lines (lines 1 and 2)',),
        ),
        (
            clawback("batch", "run", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"), *journal),
            ("does not exist",),
        ),
        (
            clawback(
                "batch", "run", str(tmp_path / "dup.jsonl"), "--out", str(tmp_path / "dup.jsonl"), *journal
            ),
            ("must not be the input",),
        ),
        (
            clawback(
                "batch",
                "run",
                str(tmp_path / "dup.jsonl"),
                "--out",
                str(tmp_path / "o"),
                "--batch-size",
                "0",
                *journal,
            ),
            ("batch size must be between",),
        ),
        (clawback("batch", "status", "--journal", str(tmp_path / "missing.sqlite3")), ("no batch journal",)),
        (
            clawback("batch", "resume", "ghost", "--journal", str(tmp_path / "j.sqlite3")),
            ("no batch job named 'ghost'",),
        ),
        (
            clawback(
                "batch",
                "run",
                str(tmp_path / "dup.jsonl"),
                "--out",
                str(tmp_path / "o"),
                "--journal",
                "mysql://x/y",
            ),
            ("unsupported store URL scheme",),
        ),
        (
            clawback(
                "batch",
                "run",
                str(tmp_path / "dup.jsonl"),
                "--out",
                str(tmp_path / "dup.jsonl" / "o"),
                *journal,
            ),
            ("cannot write output", "is not a directory"),
        ),
        (
            clawback("batch", "run", str(tmp_path / "dup.jsonl"), "--out", str(tmp_path), *journal),
            ("is a directory",),
        ),
    ]
    for result, fragments in checks:
        assert_one_line_error(result, *fragments)
    assert not (tmp_path / "o").exists()  # a refused job leaves no output file behind


def test_an_unwritable_output_is_refused_before_the_job_is_recorded(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 2)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0o500)
    try:
        if os.access(tmp_path / "locked", os.W_OK):  # root ignores permissions: use a path under a file
            out = tmp_path / "in.jsonl" / "out.jsonl"
        else:
            out = tmp_path / "locked" / "out.jsonl"
        journal = ["--journal", str(tmp_path / "j.sqlite3")]
        result = clawback("batch", "run", str(tmp_path / "in.jsonl"), "--out", str(out), *journal)
        assert_one_line_error(result, "cannot write output")
        listed = clawback("batch", "list", "--json", *journal)
        assert listed.code != 0 or json.loads(listed.out) == []
    finally:
        (tmp_path / "locked").chmod(0o700)


def _env(emu: Emu) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": emu.base_url, "ANTHROPIC_API_KEY": KEY}


def test_run_status_list_and_an_existing_output(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 12)
    journal = ["--journal", str(tmp_path / "j.sqlite3")]
    with emulator() as emu, ticking(emu, step=5.0):
        result = clawback(
            "batch",
            "run",
            str(tmp_path / "in.jsonl"),
            "--out",
            str(tmp_path / "out.jsonl"),
            "--batch-size",
            "5",
            "--warm-cache",
            "--json",
            *journal,
            *FAST,
            env=_env(emu),
        )
        assert result.code == 0, result.err
        assert "clawback: batch job " in result.err and "resume with: clawback batch resume" in result.err
        summary = json.loads(result.out)
        again = clawback(
            "batch",
            "run",
            str(tmp_path / "in.jsonl"),
            "--out",
            str(tmp_path / "out.jsonl"),
            *journal,
            env=_env(emu),
        )
    assert summary["state"] == "done" and summary["outcomes"] == {"succeeded": 12} and summary["batches"] == 3
    assert summary["warmups"] == 1 and float(summary["saving_vs_standard_usd"]) > 0
    assert len(read_output(tmp_path / "out.jsonl")) == 12
    assert_one_line_error(again, "already exists and is not empty")
    for command in ("resume", "cancel"):
        finished = clawback("batch", command, summary["job"], *journal)
        assert_one_line_error(finished, f"is already done; nothing to {command}", "clawback batch status")
    status = clawback("batch", "status", *journal)
    assert status.code == 0 and summary["job"] in status.out and "saving" in status.out
    listed = clawback("batch", "list", "--json", *journal)
    assert [job["job"] for job in json.loads(listed.out)] == [summary["job"]]


def test_cancel_collects_completed_results_and_cancels_the_rest(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 20)
    journal = ["--journal", str(tmp_path / "j.sqlite3")]
    # Batches take 50,000 virtual seconds (under the 24-hour expiry), so the ticking clock cannot end
    # them first even on a slow, loaded machine.
    with emulator(EmulatorConfig(clock="manual", batch=BatchConfig(seconds=50_000))) as emu:
        # Killed right after the 4th batch's id is recorded (crash point 13): every batch is provably
        # the job's, so every one can be canceled. (A batch found after a lost create is never canceled
        # until it is proved the job's: tests/batch/test_runner.py.)
        env = {**os.environ, **_env(emu), "CLAWBACK_BATCH_CRASH_AT": "13"}
        first = subprocess.run(
            [
                sys.executable,
                "-m",
                "clawback",
                "batch",
                "run",
                str(tmp_path / "in.jsonl"),
                "--out",
                str(tmp_path / "out.jsonl"),
                "--job",
                "c",
                "--batch-size",
                "5",
                *journal,
                *FAST,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert first.returncode == 86, first.stderr
        emu.clock.advance(20_000.0)  # about 40% of each batch has run
        with ticking(emu, step=0.5):
            result = clawback("batch", "cancel", "c", "--json", *journal, *FAST, env=_env(emu))
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    lines = read_output(tmp_path / "out.jsonl")
    assert summary["state"] == "canceled" and len(lines) == len(ids)
    assert {line["outcome"] for line in lines} == {"succeeded", "canceled"}


def test_ctrl_c_during_a_run_says_how_to_resume_and_resume_finishes(tmp_path: Path) -> None:
    """Ctrl-C while a batch is out: one error line with the resume command, exit 130, nothing lost."""
    ids = write_input(tmp_path / "in.jsonl", 6)
    journal = ["--journal", str(tmp_path / "j.sqlite3")]
    with emulator() as emu:  # a manual clock that nobody moves: the batch stays in progress
        proc = subprocess.Popen(
            [sys.executable, "-m", "clawback", "batch", "run", str(tmp_path / "in.jsonl"), "--out",
             str(tmp_path / "out.jsonl"), "--job", "ctrlc", *journal, *FAST],
            env={**os.environ, **_env(emu)},
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
        )  # fmt: skip
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "batch job ctrlc: 6 requests" in first, first
        deadline = time.monotonic() + 30
        while not emu.batch_items() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert emu.batch_items(), "the batch was never sent"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        interrupted = Result(proc.returncode, out, err)
        with ticking(emu, step=5.0):
            resumed = clawback("batch", "resume", "ctrlc", "--json", *journal, *FAST, env=_env(emu))
    assert_one_line_error(interrupted, "interrupted", "resume with: clawback batch resume ctrlc")
    assert interrupted.code == 130
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["outcomes"] == {"succeeded": 6}
    assert sorted(str(line["id"]) for line in read_output(tmp_path / "out.jsonl")) == sorted(map(str, ids))
    assert len(emu.batch_items()) == 6  # nothing was sent twice


def test_no_api_key_is_one_line_before_anything_is_sent(tmp_path: Path) -> None:
    """The SDK would fail at the first request with a TypeError; the CLI says what to set, and resume works."""
    write_input(tmp_path / "in.jsonl", 2)
    journal = ["--journal", str(tmp_path / "j.sqlite3")]
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")}
    with emulator() as emu:
        env["ANTHROPIC_BASE_URL"] = emu.base_url
        proc = subprocess.run(
            [sys.executable, "-m", "clawback", "batch", "run", str(tmp_path / "in.jsonl"), "--out",
             str(tmp_path / "out.jsonl"), "--job", "nokey", *journal, *FAST],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(err) == 2 and "batch job nokey: 2 requests" in err[0], proc.stderr
        assert err[1].startswith("clawback: error: set ANTHROPIC_API_KEY") and "Traceback" not in proc.stderr
        assert "clawback batch resume nokey" in err[1] and not emu.batch_items()
        with ticking(emu, step=5.0):
            resumed = clawback("batch", "resume", "nokey", "--json", *journal, *FAST, env=_env(emu))
    assert resumed.code == 0 and json.loads(resumed.out)["outcomes"] == {"succeeded": 2}, resumed.err


def test_an_unreachable_api_is_one_line_at_once_and_the_job_is_kept(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_input(source, 3)
    env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": KEY}
    journal = str(tmp_path / "j.sqlite3")
    started = time.monotonic()
    result = clawback(
        "batch", "run", str(source), "--out", str(tmp_path / "out.jsonl"), "--journal", journal,
        "--job", "offline", *FAST, env=env,
    )  # fmt: skip
    errors = [line for line in result.err.splitlines() if line.startswith("clawback: error: ")]
    assert len(errors) == 1 and "Traceback" not in result.err, result.err
    assert "cannot reach the API at http://127.0.0.1:9" in errors[0]
    assert "clawback batch resume offline" in errors[0]
    assert result.code == 3 and time.monotonic() - started < 60
    listed = clawback("batch", "list", "--journal", journal, "--json")
    assert listed.code == 0 and "offline" in listed.out
