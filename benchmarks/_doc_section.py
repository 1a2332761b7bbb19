"""Replace one marked section of docs/benchmarks.md (shared by the audit benchmarks)."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, text: str, doc: Path = DOC) -> None:
    """Put ``text`` between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` (appended when absent)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    body = f"{begin}\n{text.strip()}\n{end}"
    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        _, tail = rest.split(end, 1)
        current = head + body + tail
    else:
        current = current.rstrip() + "\n\n" + body + "\n"
    doc.write_text(current)
