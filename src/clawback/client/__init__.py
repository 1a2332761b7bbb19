"""The drop-in clients: ``clawback.Anthropic`` and ``clawback.AsyncAnthropic``.

They are the official SDK's clients (subclasses) whose ``messages`` also plan cache breakpoints,
cap runaway output, route by policy, fall back on overload and record every call in the ledger.
"""

from __future__ import annotations

from clawback.client.async_client import AsyncAnthropic
from clawback.client.options import CONCISE_INSTRUCTION, ClientOptions
from clawback.client.output_policy import OutputPolicySettings
from clawback.client.sync_client import Anthropic

__all__ = ["CONCISE_INSTRUCTION", "Anthropic", "AsyncAnthropic", "ClientOptions", "OutputPolicySettings"]
