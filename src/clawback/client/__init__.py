"""The drop-in clients: ``clawback.Anthropic`` and ``clawback.AsyncAnthropic``.

They are the official SDK's clients (subclasses) whose ``messages`` also plan cache breakpoints,
cap runaway output, route by policy, fall back on overload and record every call in the ledger.

The names are imported on first use, so that the gateway, which shares this package's pipeline
(:mod:`clawback.client.pipeline`) but never the SDK's clients, does not load the SDK (about 80 MB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clawback._exports import lazy_exports

if TYPE_CHECKING:
    from clawback.client.async_client import AsyncAnthropic
    from clawback.client.options import CONCISE_INSTRUCTION, ClientOptions
    from clawback.client.output_policy import OutputPolicySettings
    from clawback.client.sync_client import Anthropic

__all__ = ["CONCISE_INSTRUCTION", "Anthropic", "AsyncAnthropic", "ClientOptions", "OutputPolicySettings"]

_WHERE = {
    "AsyncAnthropic": "clawback.client.async_client",
    "Anthropic": "clawback.client.sync_client",
    "CONCISE_INSTRUCTION": "clawback.client.options",
    "ClientOptions": "clawback.client.options",
    "OutputPolicySettings": "clawback.client.output_policy",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
