"""Prices: the dated catalogue, its loader, and the exact cost engine."""

from __future__ import annotations

from clawback.pricing.catalogue import (
    Catalogue,
    FastModeRates,
    ModelInfo,
    PromptTier,
    Rates,
    build_catalogue,
    normalize_model_id,
)
from clawback.pricing.cost import CostBreakdown, Modifier, Usage, format_usd, parse_usage, price_usage
from clawback.pricing.loader import load_catalogue

__all__ = [
    "Catalogue",
    "CostBreakdown",
    "FastModeRates",
    "ModelInfo",
    "Modifier",
    "PromptTier",
    "Rates",
    "Usage",
    "build_catalogue",
    "format_usd",
    "load_catalogue",
    "normalize_model_id",
    "parse_usage",
    "price_usage",
]
