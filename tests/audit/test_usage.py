"""``clawback usage``: days, weeks, months, sessions and 5-hour blocks from the audit's own priced calls."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clawback.audit.loading import LoadOptions, load_inputs
from clawback.audit.records import IssueLog
from clawback.audit.store import AuditStore
from clawback.audit.usage_views import UsageView, project_of, usage_view
from clawback.pricing import load_catalogue
from tests.audit.helpers import usage, write_lines
from tests.cli.helpers import assert_one_line_error, clawback

CATALOGUE = load_catalogue()
HAIKU = "claude-haiku-4-5-20251001"
OPUS = "claude-opus-4-6"


def line(ts: str, n: int, *, model: str = HAIKU, session: str = "s-1", out: int = 100) -> dict[str, Any]:
    return {
        "type": "assistant", "timestamp": ts, "requestId": f"req_{n}", "sessionId": session,
        "message": {"id": f"msg_{n}", "model": model, "usage": usage(10, out, read=900, w5=100)},
    }  # fmt: skip


CALLS = [
    line("2026-02-09T23:30:00Z", 1),  # Monday of ISO week 2026-02-09
    line("2026-02-10T10:15:00Z", 2, model=OPUS),  # block 10:00-15:00 starts
    line("2026-02-10T14:59:59Z", 3),  # still in it
    line("2026-02-10T15:00:00Z", 4, session="s-2"),  # at its end: a new block 15:00-20:00
    line("2026-02-15T23:59:00Z", 5, session="s-2"),  # Sunday: same ISO week; a gap of over 5 h: new block
    line("2026-03-01T00:10:00Z", 6, session="s-2"),  # next month
]


def views(tmp_path: Path, *, now: datetime | None = None, timezone: str = "UTC") -> dict[str, UsageView]:
    project = tmp_path / "projects" / "-home-dev-shop"
    project.mkdir(parents=True, exist_ok=True)
    path = write_lines(project / "session.jsonl", CALLS)
    with AuditStore.open(CATALOGUE, workdir=tmp_path) as store:
        inputs = load_inputs(store, [str(path)], CATALOGUE, LoadOptions(format="claude-code"), IssueLog())
        store.prepare()
        names = [i.path for i in inputs]
        return {
            v: usage_view(store.con, v, sources=names, now=now, timezone=timezone)
            for v in ("daily", "weekly", "monthly", "session", "blocks")
        }


def test_periods_group_the_calls_and_add_up(tmp_path: Path) -> None:
    v = views(tmp_path)
    assert [r.key for r in v["daily"].rows] == ["2026-02-09", "2026-02-10", "2026-02-15", "2026-03-01"]
    assert [r.calls for r in v["daily"].rows] == [1, 3, 1, 1]
    assert [(r.key, r.calls) for r in v["weekly"].rows] == [("2026-02-09", 5), ("2026-02-23", 1)]
    assert [(r.key, r.calls) for r in v["monthly"].rows] == [("2026-02", 5), ("2026-03", 1)]
    totals = {name: view.totals.cost for name, view in v.items()}
    assert len(set(totals.values())) == 1 and totals["daily"] > 0
    day = v["daily"].rows[1]
    assert day.models == (HAIKU, OPUS) and [b.key for b in day.breakdown] == [OPUS, HAIKU]  # costliest first
    assert day.cache_read_tokens == 3 * 900 and day.hit_rate == pytest.approx(2700 / (30 + 2700 + 300))


def test_sessions_are_named_by_their_project(tmp_path: Path) -> None:
    sessions = views(tmp_path)["session"].rows
    assert {r.key: r.calls for r in sessions} == {"s-1": 3, "s-2": 3}
    assert {r.label for r in sessions} == {"-home-dev-shop"}
    assert project_of("/h/.claude/projects/-home-dev-shop/abc/subagents/agent-1.jsonl") == "-home-dev-shop"
    assert project_of("/logs/2026/calls.jsonl") == "2026"


def test_blocks_follow_the_five_hour_rule(tmp_path: Path) -> None:
    blocks = views(tmp_path)["blocks"].blocks
    assert [(b.start.isoformat(), b.row.calls) for b in blocks] == [
        ("2026-02-09T23:00:00+00:00", 1),
        ("2026-02-10T10:00:00+00:00", 2),
        ("2026-02-10T15:00:00+00:00", 1),
        ("2026-02-15T23:00:00+00:00", 1),
        ("2026-03-01T00:00:00+00:00", 1),
    ]
    assert not any(b.active for b in blocks)


def test_the_active_block_has_a_burn_rate_and_a_projection(tmp_path: Path) -> None:
    now = datetime(2026, 2, 10, 14, 59, 59, tzinfo=UTC)
    v = views(tmp_path, now=now)
    active = [b for b in v["blocks"].blocks if b.active]
    assert len(active) == 1
    block = active[0]
    minutes = Decimal(4 * 60 + 44) + Decimal(59) / 60  # first call 10:15:00, last 14:59:59
    assert block.cost_per_hour == pytest.approx(block.row.cost / minutes * 60)
    remaining = Decimal(1) / 60  # one second to the block's end at 15:00
    assert block.projected_cost == pytest.approx(block.row.cost + block.row.cost / minutes * remaining)
    data = v["blocks"].to_json()["blocks"][1]
    assert data["active"] and data["burn_rate"]["cost_per_hour_usd"] and data["projection"]["cost_usd"]


def test_days_in_another_time_zone(tmp_path: Path) -> None:
    daily = views(tmp_path, timezone="Asia/Tokyo")["daily"]
    assert [r.key for r in daily.rows] == ["2026-02-10", "2026-02-11", "2026-02-16", "2026-03-01"]
    assert daily.timezone == "Asia/Tokyo"


def _log(tmp_path: Path) -> Path:
    return write_lines(
        tmp_path / "session.jsonl", [*CALLS, line("2026-02-10T11:00:00Z", 7, model="acme-llm-2")]
    )


@pytest.mark.parametrize("view", ["daily", "weekly", "monthly", "session", "blocks"])
def test_every_view_prints_json_and_a_table_that_fits_80_columns(tmp_path: Path, view: str) -> None:
    log = _log(tmp_path)
    data = json.loads(clawback("usage", view, str(log), "--json").out)
    assert data["view"] == view and data["totals"]["calls"] == 7 and data["totals"]["unpriced_calls"] == 1
    table = clawback("usage", view, str(log), "--breakdown")
    assert table.code == 0, table.err
    rows = [
        r for r in table.out.splitlines() if r.strip() and not r.startswith(("note:", "No active", "Active"))
    ]
    assert rows and max(len(r) for r in rows) <= 80, rows
    assert "haiku-4-5" in table.out  # --breakdown: a line per model
    assert "*" in table.out and "never counted as $0" in table.out  # the unpriced call is not $0


def test_since_and_until_and_one_line_errors(tmp_path: Path) -> None:
    log = _log(tmp_path)
    data = json.loads(
        clawback("usage", "daily", str(log), "--since", "2026-02-10", "--until", "2026-02-10", "--json").out
    )
    assert [r["key"] for r in data["rows"]] == ["2026-02-10"] and data["totals"]["calls"] == 4
    assert_one_line_error(clawback("usage", "daily", str(log), "--timezone", "Mars/Olympus"), "--timezone")
    assert_one_line_error(clawback("usage", "daily", str(log), "--since", "soon"), "--since")
    assert_one_line_error(clawback("usage", "daily", str(tmp_path / "nope.jsonl")), "no such file")


def test_audit_and_usage_import_only_what_they_use(tmp_path: Path) -> None:
    log = _log(tmp_path)
    code = (
        "import sys, json\n"
        "from clawback.cli.main import run\n"
        f"for argv in (['audit', {str(log)!r}, '--json'], ['usage', 'daily', {str(log)!r}, '--json']):\n"
        "    try:\n        run(argv)\n    except SystemExit:\n        pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(proc.stderr.strip().splitlines()[-1])}
    assert not loaded & {"anthropic", "httpx", "pydantic", "pydantic_core", "starlette", "uvicorn", "numpy"}
    # nor, for JSON to a pipe, Rich, nor DuckDB's Python layer over its engine (_duckdb)
    assert "_duckdb" in loaded and not loaded & {"rich", "duckdb"}
    version = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom clawback.cli.main import run\ntry: run(['--version'])\n"
         "except SystemExit: pass\nprint(sorted(m for m in sys.modules if m.startswith('clawback.cli.')))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "clawback.cli.audit" not in version.stdout and "clawback.cli.batch" not in version.stdout
