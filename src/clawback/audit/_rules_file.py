"""The rules file's schema (pydantic, imported only when a rules file is read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clawback.errors import InputFileError

__all__ = ["FileIn", "RuleIn", "parse_rules_file"]


class RuleIn(BaseModel):
    """One task's rule as written."""

    model_config = ConfigDict(extra="forbid")

    route_to: str | None = None
    latency_tolerant: bool | None = None
    output_cap: bool | None = None
    output_cap_percentile: float | None = Field(default=None, gt=0, le=100)


class FileIn(BaseModel):
    """The whole rules file as written."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    defaults: RuleIn = Field(default_factory=RuleIn)
    tasks: dict[str, RuleIn] = Field(default_factory=dict)


def parse_rules_file(data: dict[str, Any], path: Path) -> FileIn:
    """The validated rules file; a one-line error naming the field otherwise."""
    try:
        return FileIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputFileError(f"rules file {path}: {where}: {first['msg']}") from exc
