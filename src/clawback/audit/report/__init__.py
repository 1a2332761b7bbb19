"""The HTML report: the only part of clawback that knows HTML (``render_report``)."""

from __future__ import annotations

from clawback.audit.report.html import render_report

__all__ = ["render_report"]
