"""The ledger reader, the demo sample, and the purity of the audit's analysis modules."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from clawback.audit.engine import run_audit
from clawback.audit.sample import generate
from clawback.audit.summary import AuditSummary
from clawback.ledger import CallRecord, open_ledger
from clawback.pricing import load_catalogue
from clawback.shapes import request_shape
from tests.audit.helpers import usage

CATALOGUE = load_catalogue()


def test_ledger_records_are_audited_with_their_shapes(tmp_path: Path) -> None:
    location = tmp_path / "ledger.sqlite3"
    body = {"model": "claude-haiku-5-5", "system": "You tag support tickets. " * 150,
            "messages": [{"role": "user", "content": "card declined"}]}  # fmt: skip
    shape = request_shape(body, tokenizer="4.7+").to_json()
    t0 = datetime(2026, 11, 10, 9, tzinfo=UTC)
    with open_ledger(location) as ledger:
        for i in range(6):
            ledger.record(CallRecord.create("claude-haiku-5-5", ts=t0 + timedelta(seconds=30 * i), task="tagger",
                                            api_key_id="key1", shape=shape, usage=usage(1200, 10)))  # fmt: skip
        ledger.record(CallRecord.create("claude-haiku-5-5", ts=t0, task="tagger", usage=None))
        ledger.record(
            CallRecord.create("claude-haiku-5-5", ts=t0, task="tagger", usage={"input_tokens": "lots"})
        )
        assert ledger.flush()
    summary = run_audit([str(location)], CATALOGUE)
    assert [i.format for i in summary.inputs] == ["ledger"]
    assert summary.spend.calls == 6
    assert summary.spend.total == 6 * (Decimal("0.00012") + Decimal("0.000005"))
    assert summary.issues["skipped"] == {"ledger call without usage (failed before billing)": 1}
    assert (
        summary.issues["malformed"] == 1 and "input_tokens" in summary.issues["malformed_shown"][0]["reason"]
    )
    assert summary.caching.shaped_calls == 6 and summary.policies["planner"].calls == 6


def test_sample_is_deterministic_and_realistic(sample_summary: AuditSummary) -> None:
    calls = generate(seed=7, scale=0.1)
    assert [(c.at, c.body) for c in calls] == [(c.at, c.body) for c in generate(seed=7, scale=0.1)]
    summary = sample_summary
    tasks = {row.key for row in summary.spend.by_task}
    assert {"support-classifier", "rag-qa", "assistant", "nightly-summary", "legacy-report"} <= tasks
    assert any(t.startswith("template:") for t in tasks)  # the unlabelled extractor
    models = {row.key for row in summary.spend.by_model}
    assert {"claude-sonnet-5-5", "claude-opus-5-5", "claude-3-5-sonnet-20241022", "acme-llm-2"} <= models
    assert summary.spend.unpriced_calls == 1 and summary.issues["malformed"] == 2
    assert any("retired" in w for w in summary.warnings)
    applied = {t.name for t in summary.techniques if t.applies}
    assert applied == {"route", "batch", "cache", "output_cap"}
    assert summary.recommendations[0].monthly_saving >= summary.recommendations[-1].monthly_saving
    recs = {(r.task, r.technique): r for r in summary.recommendations}
    # rag-qa's breakpoint sits on the changing timestamp block: move it to the stable one
    assert recs["rag-qa", "cache"].change.startswith('remove "cache_control" from system[1]; add ')
    assert "to system[0]" in recs["rag-qa", "cache"].change
    # the extractor's runaway answers run to max_tokens=8192: the cap comes from the answers that finished
    extractor = next(t for t in tasks if t.startswith("template:"))
    cap = recs[extractor, "output_cap"]
    assert cap.change.startswith('set "max_tokens": ') and cap.change.endswith("(now 8,192)")
    assert int(cap.change.split()[2]) < 300 and "ran to the limit" in cap.why
    # its system[0] breakpoint stays, with an hour: calls come every 24 minutes on average
    assert '"ttl": "1h"} on system[0]' in recs[extractor, "cache"].change
    assert summary.caching.logged is not None and summary.caching.logged.cost == sum(
        (r.usd for r in summary.spend.by_model if not r.unpriced), start=Decimal(0)
    )


def test_analysis_modules_import_no_io_libraries() -> None:
    code = (
        "import sys, json; import clawback.audit.records, clawback.audit.tasks, clawback.audit.simulate, "
        "clawback.audit.results, clawback.audit.summary, clawback.audit.rules, clawback.audit.evaluation, "
        "clawback.audit.techniques, clawback.audit.recommend; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = {m.split(".")[0] for m in json.loads(out)}
    assert not loaded & {"duckdb", "httpx", "anthropic", "sqlite3", "rich", "typer", "starlette"}
