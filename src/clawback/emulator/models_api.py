"""``GET /v1/models`` and ``GET /v1/models/{id}`` from the price catalogue (pure).

Lifecycle follows the clock's date: a model past its retirement date is ``retired`` (and its
Messages requests get 404); a deprecated one is ``deprecated``; active, legacy and limited models
are ``active``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from clawback.pricing.catalogue import Catalogue, ModelInfo

__all__ = ["model_ids", "model_object"]

_LINES = frozenset({"haiku", "sonnet", "opus", "fable", "mythos"})


def _stamp(day: date | None) -> str | None:
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _lifecycle(info: ModelInfo, today: date) -> str:
    retired = info.retired or info.retires
    if retired is not None and today >= retired:
        return "retired"
    return "deprecated" if info.status in ("deprecated", "retired") else "active"


def model_object(info: ModelInfo, today: date) -> dict[str, Any]:
    """The ``model`` object the Models API returns."""
    return {
        "type": "model",
        "id": info.id,
        "display_name": info.display_name,
        "created_at": _stamp(info.released) or "1970-01-01T00:00:00Z",
        "lifecycle": _lifecycle(info, today),
        "deprecated_at": _stamp(info.deprecated),
        "retires_at": _stamp(info.retired or info.retires),
        "max_input_tokens": info.context_window,
        "max_tokens": info.max_output,
        "line": info.family if info.family in _LINES else None,
    }


def model_ids(catalogue: Catalogue) -> list[str]:
    """Every model id, newest release first."""
    ordered = sorted(catalogue.models, key=lambda m: m.released or date.min, reverse=True)
    return [m.id for m in ordered]
