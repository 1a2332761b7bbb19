"""What a user should be told about a model's dates when pricing a call on a given day (pure)."""

from __future__ import annotations

from datetime import date

from clawback.pricing.catalogue import ModelInfo

__all__ = ["lifecycle_notes"]


def lifecycle_notes(info: ModelInfo, when: date | None, *, subject: str = "") -> list[str]:
    """Notes for ``info`` on ``when`` (default today): not yet released, retired, or deprecated.

    ``subject`` prefixes the model id (``"target model"`` → ``"target model claude-…"``).
    """
    day = when or date.today()
    name = f"{subject} {info.id}" if subject else info.id
    if info.released is not None and day < info.released:
        return [f"{name} was released on {info.released}; priced at its first published rates"]
    if info.unavailable_on(day):
        return [
            f"{name} was retired on {info.retirement}: the Claude API no longer serves it "
            "(priced at its last list price; --at DATE prices a call from before then)"
        ]
    if info.status_on(day) == "deprecated" and info.retirement is not None:
        return [f"{name} is deprecated and retires on {info.retirement}"]
    return []
