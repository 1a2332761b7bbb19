"""clawback: cut Claude API spend without losing quality or data.

Everything public is re-exported here and imported lazily, so ``import clawback`` does no work
and pulls in nothing heavy until a name is used::

    from clawback import Anthropic          # the drop-in client
    from clawback import load_catalogue, price_usage, parse_usage
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clawback._exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Anthropic": "clawback.client.sync_client",
    "AsyncAnthropic": "clawback.client.async_client",
    "BatchJobError": "clawback.errors",
    "CacheEngine": "clawback.cache.rules",
    "CacheRuleError": "clawback.errors",
    "CallRecord": "clawback.ledger.record",
    "Catalogue": "clawback.pricing.catalogue",
    "CatalogueError": "clawback.errors",
    "ClawbackError": "clawback.errors",
    "ClientOptions": "clawback.client.options",
    "CostBreakdown": "clawback.pricing.cost",
    "InputFileError": "clawback.errors",
    "Ledger": "clawback.ledger.api",
    "ModelInfo": "clawback.pricing.catalogue",
    "PricingError": "clawback.errors",
    "RequestShape": "clawback.shapes",
    "Settings": "clawback.settings",
    "StoreError": "clawback.errors",
    "TokenCounter": "clawback.token_counter",
    "UnknownModelError": "clawback.errors",
    "UpstreamError": "clawback.errors",
    "Usage": "clawback.pricing.cost",
    "UsageError": "clawback.errors",
    "Workload": "clawback.estimate",
    "estimate_text_tokens": "clawback.tokens",
    "estimate_workload": "clawback.estimate",
    "load_catalogue": "clawback.pricing.loader",
    "open_ledger": "clawback.ledger.api",
    "parse_usage": "clawback.pricing.cost",
    "price_usage": "clawback.pricing.cost",
    "request_shape": "clawback.shapes",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = sorted(_EXPORTS)


if TYPE_CHECKING:
    from clawback.cache.rules import CacheEngine
    from clawback.client.async_client import AsyncAnthropic
    from clawback.client.options import ClientOptions
    from clawback.client.sync_client import Anthropic
    from clawback.errors import (
        BatchJobError,
        CacheRuleError,
        CatalogueError,
        ClawbackError,
        InputFileError,
        PricingError,
        StoreError,
        UnknownModelError,
        UpstreamError,
        UsageError,
    )
    from clawback.estimate import Workload, estimate_workload
    from clawback.ledger.api import Ledger, open_ledger
    from clawback.ledger.record import CallRecord
    from clawback.pricing.catalogue import Catalogue, ModelInfo
    from clawback.pricing.cost import CostBreakdown, Usage, parse_usage, price_usage
    from clawback.pricing.loader import load_catalogue
    from clawback.settings import Settings
    from clawback.shapes import RequestShape, request_shape
    from clawback.token_counter import TokenCounter
    from clawback.tokens import estimate_text_tokens
