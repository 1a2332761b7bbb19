"""The audit rules file: which tasks may wait for the Batch API, move to a cheaper model, or be capped.

Format (TOML, ``version = 1``; every section optional; documented in ``docs/audit.md``)::

    version = 1

    [defaults]
    output_cap_percentile = 99        # cap max_tokens at this percentile of a task's real outputs
    latency_tolerant = false          # may calls wait up to 24 h for the Batch API?

    [tasks."nightly-summary"]
    latency_tolerant = true

    [tasks."support-classifier"]
    route_to = "claude-haiku-5-5"     # cleared for this model (you, or `clawback eval`, checked quality)
    output_cap_percentile = 95

    [tasks."template:*"]              # shell-style patterns match task names; an exact name wins
    output_cap = false                # never suggest a cap for these

A routing config written by the evaluation harness (``[tasks.NAME] verdict = "switch"`` and
``model``) can be given as well: its ``switch`` verdicts clear the task for that model.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawback.errors import InputFileError

if TYPE_CHECKING:
    from clawback.audit._rules_file import RuleIn

__all__ = ["AuditRules", "TaskRule", "load_rules", "routing_verdicts"]

DEFAULT_CAP_PERCENTILE = 99


@dataclass(frozen=True, slots=True)
class TaskRule:
    """What the user allows for one task."""

    route_to: str | None = None
    route_source: str = ""
    latency_tolerant: bool | None = None
    output_cap: bool = True
    output_cap_percentile: float = DEFAULT_CAP_PERCENTILE


@dataclass(frozen=True, slots=True)
class AuditRules:
    """Rules by exact task name and by pattern, over defaults."""

    defaults: TaskRule = field(default_factory=TaskRule)
    tasks: Mapping[str, TaskRule] = field(default_factory=dict)
    source: str = ""

    def for_task(self, task: str) -> TaskRule:
        """The rule for ``task``: its exact entry, else the first matching pattern, else defaults."""
        if task in self.tasks:
            return self.tasks[task]
        for pattern, rule in self.tasks.items():
            if any(ch in pattern for ch in "*?[") and fnmatch.fnmatchcase(task, pattern):
                return rule
        return self.defaults

    def with_routes(self, routes: Mapping[str, str], source: str) -> AuditRules:
        """These rules with ``routes`` (task → model) added where a task has no route yet."""
        tasks = dict(self.tasks)
        for task, model in routes.items():
            base = tasks.get(task, self.defaults)
            if base.route_to is None:
                tasks[task] = replace(base, route_to=model, route_source=source)
        return replace(self, tasks=tasks)


def _merge(base: TaskRule, spec: RuleIn, source: str) -> TaskRule:
    return TaskRule(
        route_to=spec.route_to if spec.route_to is not None else base.route_to,
        route_source=source if spec.route_to is not None else base.route_source,
        latency_tolerant=spec.latency_tolerant
        if spec.latency_tolerant is not None
        else base.latency_tolerant,
        output_cap=spec.output_cap if spec.output_cap is not None else base.output_cap,
        output_cap_percentile=spec.output_cap_percentile
        if spec.output_cap_percentile is not None
        else base.output_cap_percentile,
    )


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise InputFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{what} {path} is not valid TOML: {str(exc).splitlines()[0]}") from exc


def load_rules(path: Path) -> AuditRules:
    """The rules in ``path``; a missing or invalid file is a one-line error naming the field."""
    from clawback.audit._rules_file import parse_rules_file

    spec = parse_rules_file(_read_toml(path, "rules file"), path)
    source = f"rules file {path.name}"
    defaults = _merge(TaskRule(), spec.defaults, source)
    tasks = {name: _merge(defaults, rule, source) for name, rule in spec.tasks.items()}
    return AuditRules(defaults=defaults, tasks=tasks, source=str(path))


def routing_verdicts(path: Path) -> dict[str, str]:
    """Task → model for every ``switch`` verdict in a routing config written by the evaluation harness."""
    from clawback.routing.config import read_routing_file

    spec = read_routing_file(path)
    return {name: v.model for name, v in spec.tasks.items() if v.verdict == "switch" and v.model}
