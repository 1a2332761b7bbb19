"""Shared audit fixtures: the demo sample, audited once per test process."""

from __future__ import annotations

import pytest

from clawback.audit.engine import AuditOptions, run_audit
from clawback.audit.rules import load_rules
from clawback.audit.sample import write_sample
from clawback.audit.summary import AuditSummary
from clawback.pricing import load_catalogue

SAMPLE_SCALE = 0.3


@pytest.fixture(scope="session")
def sample_summary(tmp_path_factory: pytest.TempPathFactory) -> AuditSummary:
    """The demo sample at 30% of its daily volume, audited with its rules file."""
    folder = tmp_path_factory.mktemp("sample")
    log, rules = write_sample(folder, scale=SAMPLE_SCALE)
    return run_audit([str(log)], load_catalogue(), AuditOptions(rules=load_rules(rules)))
