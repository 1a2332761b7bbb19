"""Say it right: template tasks named by their words, the window apart from the month, no false 'no saving'."""

from __future__ import annotations

import json
from dataclasses import replace
from html import escape
from pathlib import Path

from clawback.audit.report import render_report
from clawback.audit.summary import AuditSummary
from tests.audit.helpers import usage, write_lines
from tests.cli.helpers import assert_one_line_error, clawback


def test_template_tasks_show_their_first_words_and_where_one_occurs(sample_summary: AuditSummary) -> None:
    templates = sample_summary.templates
    assert templates and all(name.startswith("template:") for name in templates)
    info = next(iter(templates.values()))
    assert info.first_words and info.where is not None and ".jsonl:" in info.where
    name = next(iter(templates))
    label = sample_summary.task_label(name)
    assert label.startswith(name) and info.first_words in label and info.where in label
    assert json.dumps(sample_summary.to_json()["templates"][name]) == json.dumps(info.to_json())
    assert escape(label) in render_report(sample_summary)


def test_the_headline_separates_the_window_from_the_monthly_projection(sample_summary: AuditSummary) -> None:
    html = render_report(sample_summary)
    assert "In the audited window" in html and "a month</b>" in html
    assert f"×{sample_summary.monthly_factor:.2f}" in html
    window = sample_summary.to_json()["window"]
    assert window["monthly_usd"] and window["monthly_factor"]


def test_no_false_no_saving_beside_a_saving(sample_summary: AuditSummary) -> None:
    quiet = replace(sample_summary, recommendations=())
    assert quiet.stacked_saving > 0
    text = quiet.no_recommendation()
    assert "No change saves money" not in text and "none saves both a cent a month and 0.1%" in text
    assert "No change saves money" not in render_report(quiet)
    nothing = replace(quiet, stacked_saving=quiet.stacked_saving * 0)
    assert nothing.no_recommendation() == "No change saves money on these calls."


def _bare(i: int) -> dict[str, object]:
    return {"id": f"msg_{i}", "type": "message", "model": "claude-haiku-5-5", "usage": usage(100, 10)}


def test_responses_logged_without_a_time_name_the_cause_and_the_option(tmp_path: Path) -> None:
    log = write_lines(tmp_path / "responses.jsonl", [_bare(i) for i in range(3)])
    result = clawback("audit", str(log))
    assert_one_line_error(result, "3 logged responses carry no timestamp", "--logged-on")
    assert "wrong --format" not in result.err
    dated = clawback("audit", str(log), "--logged-on", "2026-11-10", "--json")
    assert dated.code == 0, dated.err
    data = json.loads(dated.out)
    assert data["calls"] == 3 and data["window"]["first"].startswith("2026-11-10")
    assert_one_line_error(clawback("audit", str(log), "--logged-on", "1999-01-01"), "--logged-on", "2023")
