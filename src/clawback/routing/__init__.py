"""Routing with evidence: pure policies, the evaluation harness, and the offline evaluation.

The per-call path is pure and light — features, policies, :func:`route`, :func:`run_cascade`
import no numpy, scikit-learn, HTTP or database library. Training (:mod:`.learned`, needs the
``routing`` extra), the harness's runners and the offline evaluation live beside it. Names are
imported lazily, so ``import clawback.routing`` does no work::

    from clawback.routing import load_routing_config, route, run_cascade
    config = load_routing_config("routing.toml")          # once
    decision = route(body, "banking77", config)           # per call, microseconds
    ledger_fields = decision.to_json()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clawback._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "CascadeResult": "clawback.routing.cascade",
    "CascadeRouter": "clawback.routing.policies",
    "FixedRouter": "clawback.routing.policies",
    "LearnedRouter": "clawback.routing.policies",
    "LinearModel": "clawback.routing.model",
    "RandomRouter": "clawback.routing.policies",
    "RequestFeatures": "clawback.routing.features",
    "Router": "clawback.routing.policies",
    "RoutingConfig": "clawback.routing.route",
    "RoutingDecision": "clawback.routing.policies",
    "Rule": "clawback.routing.policies",
    "RulesTable": "clawback.routing.policies",
    "TaskPolicy": "clawback.routing.route",
    "Validation": "clawback.routing.validators",
    "Validator": "clawback.routing.validators",
    "decide": "clawback.routing.route",
    "load_routing_config": "clawback.routing.config",
    "request_features": "clawback.routing.features",
    "response_text": "clawback.routing.cascade",
    "route": "clawback.routing.route",
    "run_cascade": "clawback.routing.cascade",
    "write_learned": "clawback.routing.config_write",
    "write_verdict": "clawback.routing.config_write",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = sorted(_EXPORTS)


if TYPE_CHECKING:  # the names above, for type checkers and editors
    from clawback.routing.cascade import CascadeResult, response_text, run_cascade  # noqa: F401
    from clawback.routing.config import load_routing_config  # noqa: F401
    from clawback.routing.config_write import write_learned, write_verdict  # noqa: F401
    from clawback.routing.features import RequestFeatures, request_features  # noqa: F401
    from clawback.routing.model import LinearModel  # noqa: F401
    from clawback.routing.policies import (  # noqa: F401
        CascadeRouter,
        FixedRouter,
        LearnedRouter,
        RandomRouter,
        Router,
        RoutingDecision,
        Rule,
        RulesTable,
    )
    from clawback.routing.route import RoutingConfig, TaskPolicy, decide, route  # noqa: F401
    from clawback.routing.validators import Validation, Validator  # noqa: F401
