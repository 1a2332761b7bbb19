"""The HTML report: self-contained, and its charts really draw in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clawback.audit.report import render_report
from clawback.audit.report.html import money
from clawback.audit.summary import AuditSummary
from tests.audit.chromium import dump_dom, png_rows, screenshot

CHARTS = 10
"""Spend by model and by token kind, the waterfall, tasks, hit rate, and the five usage views."""


def test_report_is_one_self_contained_file(sample_summary: AuditSummary) -> None:
    html = render_report(sample_summary)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script src" not in html and "@import" not in html
    assert html.count('<svg class="chart"') == CHARTS
    assert "support-classifier" in html and "acme-llm-2" in html


def test_report_charts_draw_in_headless_chromium(sample_summary: AuditSummary, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_report(sample_summary), "utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    drawn = re.search(r'<body[^>]*data-charts-drawn="(\d+)"', dom)
    assert drawn is not None, "the check script did not run"
    assert int(drawn.group(1)) == CHARTS
    counts = [int(n) for n in re.findall(r'<svg class="chart"[^>]*data-drawn="(\d+)"', dom)]
    assert len(counts) == CHARTS and all(n > 0 for n in counts), counts
    width, height, rows = png_rows(screenshot(page, tmp_path / "shot.png", tmp_path / "profile"))
    assert (width, height) == (1100, 3800)
    assert len(rows) > 300, "the screenshot is (nearly) blank"


def test_empty_charts_say_so() -> None:
    from clawback.audit.report import svg

    assert "no data" in svg.stacked_bars([], [], [], label="x", fmt=money)
    assert "no data" in svg.lines(["a"], {"s": [None]}, label="x", fmt=str)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "$0.00"), (0.01234, "$0.01234"), (12.5, "$12.50"), (12345.6, "$12,346"), (0.5, "$0.50"),
     (0.002454, "$0.002454"), (0.000015, "$0.000015"), (-5.51, "-$5.51"), (0.1, "$0.10")],
)  # fmt: skip
def test_money_for_people(value: float, text: str) -> None:
    assert money(value) == text


@pytest.mark.parametrize(
    ("top", "ticks"),
    [(2.2, [0, 0.5, 1, 1.5, 2, 2.5]), (23.8, [0, 5, 10, 15, 20, 25]), (7.49, [0, 2, 4, 6, 8]),
     (330, [0, 100, 200, 300, 400])],
)  # fmt: skip
def test_chart_axes_use_round_ticks(top: float, ticks: list[float]) -> None:
    from clawback.audit.report import svg

    chart = svg.stacked_bars(["a"], [{"k": top}], ["k"], label="x", fmt=lambda v: f"<{v:g}>")
    assert re.findall(r'class="tick" text-anchor="end">&lt;([0-9.]+)&gt;', chart) == [f"{t:g}" for t in ticks]


def test_missing_chromium_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.audit import chromium as module

    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    monkeypatch.setattr(module.Path, "exists", lambda self: False)
    monkeypatch.setattr(module, "REQUIRE", True)
    with pytest.raises(pytest.fail.Exception, match="CLAWBACK_REQUIRE_CHROMIUM=1 requires it"):
        module.chromium()
    monkeypatch.setattr(module, "REQUIRE", False)
    with pytest.raises(pytest.skip.Exception, match="headless Chromium is not installed"):
        module.chromium()
