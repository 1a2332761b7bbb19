"""What the drop-in client does beyond the official SDK, as one frozen value."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from clawback.cache.keepalive import DEFAULT_SPEND_CAP
from clawback.client.output_policy import OutputPolicySettings
from clawback.ledger.options import Mode

__all__ = ["CONCISE_INSTRUCTION", "ClientOptions"]

CONCISE_INSTRUCTION = (
    "Be concise. Return only what is asked. Do not add preamble, explanation, or closing remarks unless "
    "explicitly requested. For structured tasks, return only the requested format."
)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Switches and limits for :class:`clawback.Anthropic`; every feature can be turned off.

    * ``plan_cache`` — place cache breakpoints with the planner (the caller's own are kept).
    * ``keep_alive_cap_usd`` — keep-alive pings, spending at most this much in all (the audit's and
      the benchmark's $5 by default; None: off). A ping goes out only when the planner's learned
      odds say it is cheaper than writing the prefix again, and only within the savings booked so
      far (see ``docs/client.md``).
    * ``output_caps`` — opt-in: lower ``max_tokens`` to a task's learned cap (non-streaming calls
      only); ``retry_truncated`` re-sends once with the caller's ``max_tokens`` when a capped call is
      cut off, so a cap never loses an answer (the cut attempt counts against the saving).
    * ``concise`` — append a concise-answer instruction to the system prompt (True for the
      default text, or the text to use).
    * ``fallbacks`` — models to try, in order, when a call still fails with 529 or another 5xx
      after the SDK's own retries.
    * ``routing`` — a routing config file (see ``docs/routing.md``) applied per call; without it,
      ``$CLAWBACK_HOME/routing.toml`` (or ``CLAWBACK_ROUTING``) when it exists.
    * ``routing_reload_seconds`` — how often to check the routing file for a new verdict and reload
      it (None: read it once, when the client is made).
    * ``retain_samples`` — keep the request body in the ledger (off: hashes and counts only).
    * ``seed_from_ledger`` — learn caps and cache history from up to this many recent ledger rows.
    * ``ledger_mode`` — ``async`` (default: records are built and written off the calling thread;
      nothing is lost on a normal exit, a hard kill loses at most the last 50 ms of calls) or
      ``sync`` (every returned call has its row, even after a kill). See ``docs/ledger.md``.
    * ``clock`` — seconds since the epoch (tests and benchmarks pass the emulator's clock).
    """

    plan_cache: bool = True
    keep_alive_cap_usd: Decimal | None = DEFAULT_SPEND_CAP
    output_caps: bool = False
    retry_truncated: bool = True
    output_policy: OutputPolicySettings = field(default_factory=OutputPolicySettings)
    concise: bool | str = False
    fallbacks: Sequence[str] = ()
    routing: str | Path | None = None
    routing_reload_seconds: float | None = 2.0
    retain_samples: bool = False
    seed_from_ledger: int = 5000
    ledger_mode: Mode = "async"
    prices: Sequence[str | Path] = ()
    clock: Callable[[], float] | None = None

    @property
    def concise_text(self) -> str | None:
        """The instruction to append, if any."""
        if self.concise is True:
            return CONCISE_INSTRUCTION
        return self.concise or None
