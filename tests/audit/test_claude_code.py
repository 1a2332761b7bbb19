"""Claude Code's own logs: found with no paths, read recursively, every call counted once (relayed ones too)."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import audit_files, usage, write_lines
from tests.audit.test_real_data import HAND_CHECKED_TOTAL, RELAYED_ONLY
from tests.cli.helpers import assert_one_line_error, clawback
from tests.conftest import shared_file

SESSION = "11111111-2222-3333-4444-555555555555"


def assistant(ts: str, msg: str, req: str, out: int, **extra: Any) -> dict[str, Any]:
    """One assistant line of a transcript (one content block of a streamed answer)."""
    return {
        "type": "assistant", "timestamp": ts, "requestId": req, "sessionId": SESSION,
        "message": {"id": msg, "model": "claude-haiku-4-5-20251001", "role": "assistant", "content": [],
                    "usage": usage(3, out, read=1000, w5=200)},
        **extra,
    }  # fmt: skip


def relayed(ts: str, msg: str, req: str, out: int, agent: str = "a42") -> dict[str, Any]:
    """A parent transcript's progress line relaying one line of a subagent's call."""
    inner = assistant(ts, msg, req, out, isSidechain=True, agentId=agent)
    return {
        "type": "progress", "timestamp": ts, "sessionId": SESSION, "isSidechain": False,
        "data": {"type": "agent_progress", "agentId": agent,
                 "message": {"type": "assistant", "timestamp": ts, "message": inner["message"], "requestId": req}},
    }  # fmt: skip


def session_files(root: Path, *, with_subagent: bool) -> Path:
    """A project folder as Claude Code lays it out: the session, and its subagent's transcript if asked."""
    project = root / "projects" / "-home-dev-shop"
    main = [
        {"type": "user", "timestamp": "2026-02-11T20:00:00Z", "sessionId": SESSION, "message": {"role": "user", "content": "go"}},
        assistant("2026-02-11T20:00:01Z", "msg_1", "req_1", 5),
        assistant("2026-02-11T20:00:02Z", "msg_1", "req_1", 40),
        relayed("2026-02-11T20:00:03Z", "msg_s1", "req_s1", 1),
        relayed("2026-02-11T20:00:04Z", "msg_s1", "req_s1", 1),
        relayed("2026-02-11T20:00:05Z", "msg_s2", "req_s2", 1),
    ]  # fmt: skip
    (project / SESSION / "subagents").mkdir(parents=True)
    write_lines(project / f"{SESSION}.jsonl", main)
    if with_subagent:
        sub = [
            assistant("2026-02-11T20:00:03Z", "msg_s1", "req_s1", 30, isSidechain=True, agentId="a42"),
            assistant("2026-02-11T20:00:05Z", "msg_s2", "req_s2", 12, isSidechain=True, agentId="a42"),
        ]
        write_lines(project / SESSION / "subagents" / "agent-a42.jsonl", sub)
    return project


@pytest.mark.parametrize("fast", [True, False])
def test_relayed_calls_are_not_counted_twice_when_the_subagent_transcript_is_there(
    tmp_path: Path, fast: bool
) -> None:
    project = session_files(tmp_path, with_subagent=True)
    data = audit_files([project], fast=fast)
    assert data["calls"] == 3  # msg_1, and the subagent's msg_s1 and msg_s2 from its own transcript
    sub = data["by_task"]["claude-code/subagent"]
    assert (sub["calls"], sub["output_tokens"]) == (
        2,
        42,
    )  # the subagent's own (final) counts, not the relay's
    skipped = data["input_issues"]["skipped"]
    assert skipped["subagent call relayed in the parent transcript (counted from its own transcript)"] == 3
    assert not any("relayed" in n for n in data["input_issues"]["notes"])


@pytest.mark.parametrize("fast", [True, False])
def test_relayed_calls_are_counted_when_the_subagent_transcript_is_missing(
    tmp_path: Path, fast: bool
) -> None:
    project = session_files(tmp_path, with_subagent=False)
    data = audit_files([project], fast=fast)
    assert data["calls"] == 3
    sub = data["by_task"]["claude-code/subagent"]
    assert (sub["calls"], sub["output_tokens"]) == (2, 2)  # one call per (message id, request id)
    assert data["input_issues"]["skipped"]["repeated progress line of a relayed subagent call"] == 1
    assert any("2 subagent calls counted from progress lines" in n for n in data["input_issues"]["notes"])


def test_the_order_of_the_files_does_not_change_the_count(tmp_path: Path) -> None:
    project = session_files(tmp_path, with_subagent=True)
    main = project / f"{SESSION}.jsonl"
    sub = project / SESSION / "subagents" / "agent-a42.jsonl"
    assert audit_files([sub, main])["total_usd"] == audit_files([main, sub])["total_usd"]
    assert audit_files([sub, main])["calls"] == 3


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CLAUDE_CONFIG_DIR"}
    return {**env, "HOME": str(tmp_path / "home"), **extra}


def test_no_paths_reads_claude_code_default_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    session_files(home / ".claude", with_subagent=True)
    other = home / ".config" / "claude" / "projects" / "p2"
    other.mkdir(parents=True)
    write_lines(other / "s2.jsonl", [assistant("2026-02-12T08:00:00Z", "msg_9", "req_9", 7)])
    (other / "notes.txt").write_text("not a transcript\n")  # only *.jsonl files are Claude Code's
    result = clawback("audit", "--json", env=_env(tmp_path))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 4 and len(data["inputs"]) == 3
    assert all(i["format"] == "claude-code" for i in data["inputs"])


def test_claude_config_dir_lists_folders_separated_by_commas(tmp_path: Path) -> None:
    session_files(tmp_path / "a", with_subagent=False)
    session_files(tmp_path / "b", with_subagent=True)
    env = _env(tmp_path, CLAUDE_CONFIG_DIR=f"{tmp_path / 'a'}, {tmp_path / 'b'}")
    result = clawback("usage", "daily", "--json", env=env)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    # the same session in both folders: its calls are one set of calls (same message and request ids)
    assert data["totals"]["calls"] == 3 and [r["key"] for r in data["rows"]] == ["2026-02-11"]


def test_no_claude_code_logs_anywhere_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(
        clawback("audit", env=_env(tmp_path)), "no Claude Code logs found", ".claude/projects"
    )
    env = _env(tmp_path, CLAUDE_CONFIG_DIR=str(tmp_path / "nowhere"))
    assert_one_line_error(clawback("usage", "blocks", env=env), "CLAUDE_CONFIG_DIR", "nowhere/projects")


def test_a_folder_is_read_recursively_and_unknown_files_are_listed_not_fatal(tmp_path: Path) -> None:
    project = session_files(tmp_path, with_subagent=True)
    (project / "README.md").write_text("# notes\n")
    (project / SESSION / "image.bin").write_bytes(b"\x00\x01\x02")
    result = clawback("audit", str(tmp_path), "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 3
    skipped = {Path(f["path"]).name: f["reason"] for f in data["input_issues"]["files_skipped"]}
    assert set(skipped) == {"README.md", "image.bin"} and all(
        "can't tell the format" in r for r in skipped.values()
    )
    text = clawback("audit", str(tmp_path))
    assert "2 files not read" in text.out


def test_the_same_file_twice_is_read_once(tmp_path: Path) -> None:
    project = session_files(tmp_path, with_subagent=False)
    main = str(project / f"{SESSION}.jsonl")
    result = clawback("audit", main, main, str(project), "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 3 and len(data["inputs"]) == 1
    assert any("given more than once" in n for n in data["input_issues"]["notes"])


@pytest.mark.shared_data
def test_shared_transcripts_laid_out_as_claude_code_lays_them_out(tmp_path: Path) -> None:
    """``clawback audit --json`` with no paths, on a CLAUDE_CONFIG_DIR holding the shared transcripts."""
    spotter = shared_file("data", "claude-code-transcripts-spotter")
    fasthooks = shared_file("data", "claude-code-transcripts-fasthooks")
    config = tmp_path / "claude"
    project = config / "projects" / "-home-marco-projects-spotter"
    for path in spotter.rglob("*.jsonl"):
        target = project / path.relative_to(spotter)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)
    session = "c45af7b1-cb7c-4e51-93db-8cbb250a877a"
    other = config / "projects" / "-home-dev-fasthooks"
    (other / session / "subagents").mkdir(parents=True)
    (other / f"{session}.jsonl").symlink_to(fasthooks / "sample_main_transcript.jsonl")
    (other / session / "subagents" / "agent-af1ff21.jsonl").symlink_to(
        fasthooks / "sample_agent_sidechain.jsonl"
    )
    env = _env(tmp_path, CLAUDE_CONFIG_DIR=str(config))
    result = clawback("audit", "--json", env=env)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["calls"] == 917 and data["unpriced_calls"] == 0
    assert Decimal(data["total_usd"]) == HAND_CHECKED_TOTAL + RELAYED_ONLY
    assert data["input_issues"]["malformed"] == 0 and not data["input_issues"]["files_skipped"]
    daily = json.loads(clawback("usage", "daily", "--json", env=env).out)
    assert daily["totals"]["calls"] == 917 and Decimal(daily["totals"]["cost_usd"]) == Decimal(
        data["total_usd"]
    )
