"""The dashboard: numbers from the ledger rows (pure), and a page that renders in headless Chromium."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from clawback.gateway.dashboard import render, summarize
from clawback.gateway.ledger_view import facts_of
from clawback.gateway.metrics import BudgetGauge
from clawback.ledger.record import CallRecord
from tests.audit.chromium import dump_dom, png_rows, screenshot

NOW = datetime(2026, 12, 7, 12, 30, tzinfo=UTC)


def _records() -> list[CallRecord]:
    out = []
    for i in range(60):
        usage = {"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 300 if i % 2 else 0}
        out.append(
            CallRecord.create(
                "claude-haiku-5-5",
                ts=NOW - timedelta(minutes=23 * i),
                served_model="claude-haiku-5-5",
                task=("classify", "summarise", None)[i % 3],
                api_key_id=f"gw:{i % 4:016x}:sk-ant-…{i % 4:04d}",
                usage=usage,
                total_usd="0.001",
                baseline_usd="0.0015",
                source="gateway",
            )
        )
    out.append(
        CallRecord.create("claude-haiku-5-5", ts=NOW, total_usd="5", source="client")
    )  # not the gateway's
    out.append(
        CallRecord.create("claude-haiku-5-5", ts=NOW - timedelta(days=3), total_usd="5", source="gateway")
    )
    return out


def test_summary_counts_only_the_gateways_rows_of_the_window() -> None:
    data = summarize(facts_of(_records()), NOW)
    in_window = [
        i for i in range(60) if NOW - timedelta(minutes=23 * i) >= NOW.replace(minute=0) - timedelta(hours=23)
    ]
    assert data.calls == len(in_window)
    assert data.spend == Decimal("0.001") * len(in_window)
    assert data.saving == Decimal("0.0005") * len(in_window)
    assert sum(data.calls_by_hour) == data.calls
    assert abs(sum(data.spend_by_hour) - float(data.spend)) < 1e-9
    reads = sum(300 for i in in_window if i % 2)
    assert data.cache_hit_rate == reads / (100 * len(in_window) + reads)
    assert [name for name, _, _ in data.top_tasks][:1] in (["classify"], ["summarise"], ["(no task)"])
    assert sum(n for _, n, _ in data.top_keys) == data.calls


def test_dashboard_renders_in_chromium(tmp_path: Path) -> None:
    gauges = [BudgetGauge("key:alpha", "day", Decimal(5), Decimal("1.25"), Decimal("0.10"))]
    html = render(summarize(facts_of(_records()), NOW, budgets=gauges))
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in html
    page = tmp_path / "dashboard.html"
    page.write_text(html)
    dom = dump_dom(page, tmp_path / "profile")
    assert dom.count('class="mark"') >= 24  # bars and points drew
    assert "key:alpha" in dom and "cache hit rate" in dom
    png = screenshot(page, tmp_path / "dashboard.png", tmp_path / "profile", size="1000,1800")
    width, height, rows = png_rows(png)
    assert (width, height) == (1000, 1800)
    assert len(rows) > 100  # not a blank page
