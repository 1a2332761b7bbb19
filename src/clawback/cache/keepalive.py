"""Keep-alive: when is pinging a cache entry cheaper than letting it expire and writing it again? (pure)

A **ping** repeats the cached prefix with a breakpoint on it, adds a few tokens of its own and
asks for nothing: ``max_tokens: 0`` where the API allows it (it returns no content and bills no
output), ``max_tokens: 1`` where it does not (streaming, extended thinking, ``output_config.format``,
a forced ``tool_choice``, Message Batches). It pays a cache read on the prefix, plain input on its
own tokens and at most one output token, and its read refreshes the entry for another TTL.

**Letting the entry expire** costs, at the next use, a write instead of a read:
``(write - read) x prefix tokens``. On Sonnet 5.5 (input $2, 5-minute write $2.50, read $0.10 per
MTok) a 10,000-token prefix costs $0.001016 to ping (with 8 tokens of its own) and $0.024 to lose,
so up to 23 pings — almost two hours of 5-minute windows — pay for themselves if the use comes.

:func:`decide_keepalive` makes the call just before an entry expires, from the gaps seen between
the prefix's uses: it compares, for every number of further pings, the expected saving (uses that
arrive while the entry is kept alive pay a read, not a write) with the expected ping spend, and
pings only when the best plan saves money. It stops when traffic stops: no gap seen so far is as
long as the current silence, the silence passes ``idle_limit``, more pings went out since the last
use than a rewrite would cost, or the spend cap would be passed. Money is Decimal throughout.
Which entries are watched, and when they are decided, is :mod:`clawback.cache.keeper`'s (the
client, the replay and the audit all run it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from clawback.cache.economics import CacheRates
from clawback.cache.rules import TTL_SECONDS
from clawback.pricing.catalogue import ModelInfo
from clawback.shapes import Ttl

__all__ = [
    "DEFAULT_SPEND_CAP",
    "PING_INPUT_TOKENS",
    "KeepAliveDecision",
    "KeepAliveSettings",
    "break_even_pings",
    "decide_keepalive",
    "ping_cost",
    "pings_to_bridge",
    "rewrite_cost",
]

PING_INPUT_TOKENS: Final = 8
"""Tokens a ping adds after the prefix: a one-word user turn and its framing."""
DEFAULT_SPEND_CAP: Final = Decimal("5.00")
"""The most keep-alive pings spend unless told otherwise: the client's default and the audit's."""

Reason = Literal["ping", "spend_cap", "idle", "no_expected_use", "break_even", "not_worth_it"]


@dataclass(frozen=True, slots=True)
class KeepAliveSettings:
    """Keep-alive limits: a spend cap, when to stop, and what a ping sends."""

    spend_cap: Decimal
    idle_limit: float = 7200.0
    margin: float = 10.0
    ping_input_tokens: int = PING_INPUT_TOKENS
    max_tokens_zero: bool = True


@dataclass(frozen=True, slots=True)
class KeepAliveDecision:
    """Whether to ping now, why, and when to ask again."""

    ping: bool
    reason: Reason
    detail: str
    ping_cost: Decimal
    expected_saving: Decimal
    next_check: float | None = None


def ping_cost(
    prefix_tokens: int,
    info: ModelInfo,
    *,
    at: date | None = None,
    ping_input_tokens: int = PING_INPUT_TOKENS,
    max_tokens_zero: bool = True,
) -> Decimal:
    """USD for one ping: a cache read of the prefix, its own few input tokens, 0 or 1 output token."""
    rates = CacheRates.of(info, at=at, prompt_tokens=prefix_tokens + ping_input_tokens)
    output = 0 if max_tokens_zero else 1
    return prefix_tokens * rates.read + ping_input_tokens * rates.input + output * rates.output


def rewrite_cost(prefix_tokens: int, info: ModelInfo, *, ttl: Ttl = "5m", at: date | None = None) -> Decimal:
    """USD an expired entry costs at its next use: writing the prefix again instead of reading it."""
    rates = CacheRates.of(info, at=at, prompt_tokens=prefix_tokens)
    return prefix_tokens * (rates.write(ttl) - rates.read)


def break_even_pings(
    prefix_tokens: int,
    info: ModelInfo,
    *,
    ttl: Ttl = "5m",
    at: date | None = None,
    ping_input_tokens: int = PING_INPUT_TOKENS,
    max_tokens_zero: bool = True,
) -> int:
    """The most pings that still cost less than one rewrite of the prefix."""
    one = ping_cost(
        prefix_tokens, info, at=at, ping_input_tokens=ping_input_tokens, max_tokens_zero=max_tokens_zero
    )
    lost = rewrite_cost(prefix_tokens, info, ttl=ttl, at=at)
    if one <= 0:
        return 0
    count = int(lost // one)
    return count - 1 if count * one == lost else count


def pings_to_bridge(gap: float, *, ttl: Ttl = "5m", margin: float = 10.0) -> int:
    """Pings needed so that a use ``gap`` seconds after the last one still reads the entry.

    The entry lives ``ttl`` from the last use; each ping, sent ``margin`` seconds before expiry,
    adds ``ttl - margin`` seconds.
    """
    life = TTL_SECONDS[ttl]
    if gap < life:
        return 0
    step = life - margin
    return math.floor((gap - life) / step) + 1


def decide_keepalive(
    prefix_tokens: int,
    info: ModelInfo,
    *,
    ttl: Ttl,
    last_use: float,
    now: float,
    gaps: Sequence[float],
    settings: KeepAliveSettings,
    spent: Decimal = Decimal(0),
    pings_since_use: int = 0,
    at: date | None = None,
    chance: float | None = None,
    doubt: float = 0.0,
) -> KeepAliveDecision:
    """Ping now (just before the entry expires) or let it expire?

    ``gaps`` are past intervals between uses of this prefix (a single value is a point
    estimate); ``spent`` is what pings have cost so far under ``settings.spend_cap``. ``chance``,
    when given, is the probability of a use before the entry would expire again after this ping
    (for a prefix with too few gaps of its own, from :meth:`~clawback.cache.odds.ReuseOdds.next_window`):
    then a ping is sent when that chance of saving a rewrite is worth more than the ping.
    ``doubt`` weighs, as that many more past gaps, the chance that no use comes at all (0: every
    past gap longer than the silence so far is a use that will come).
    """
    one = ping_cost(
        prefix_tokens,
        info,
        at=at,
        ping_input_tokens=settings.ping_input_tokens,
        max_tokens_zero=settings.max_tokens_zero,
    )
    lost = rewrite_cost(prefix_tokens, info, ttl=ttl, at=at)
    elapsed = now - last_use

    def stop(reason: Reason, detail: str) -> KeepAliveDecision:
        return KeepAliveDecision(False, reason, detail, one, Decimal(0))

    if spent + one > settings.spend_cap:
        return stop("spend_cap", f"a ping (${one:.6f}) would pass the ${settings.spend_cap} spend cap")
    if elapsed > settings.idle_limit:
        return stop("idle", f"no use for {elapsed:,.0f} s, past the {settings.idle_limit:,.0f} s idle limit")
    if chance is not None:
        expected = Decimal(repr(round(chance, 9))) * lost - one
        if expected <= 0:
            return stop(
                "not_worth_it",
                f"a use in the next {TTL_SECONDS[ttl]:,.0f} s is {chance:.1%} likely: not worth a ping",
            )
        return KeepAliveDecision(
            True,
            "ping",
            f"a use in the next {TTL_SECONDS[ttl]:,.0f} s is {chance:.1%} likely: expected saving ${expected:.6f}",
            one,
            expected,
            next_check=now + TTL_SECONDS[ttl] - settings.margin,
        )
    if (pings_since_use + 1) * one >= lost:
        return stop(
            "break_even", f"{pings_since_use + 1} pings would cost more than one rewrite (${lost:.6f})"
        )
    ahead = [g for g in gaps if g > elapsed]
    if not ahead:
        return stop(
            "no_expected_use", f"no gap seen so far is longer than the current {elapsed:,.0f} s silence"
        )
    best_net, best_k = _best_horizon(
        ahead, ttl, margin=settings.margin, one=one, lost=lost, already=pings_since_use, doubt=doubt
    )
    if best_k == 0 or best_net <= 0:
        return stop("not_worth_it", "the expected saving does not cover the pings it needs")
    life = TTL_SECONDS[ttl]
    return KeepAliveDecision(
        True,
        "ping",
        f"expected saving ${best_net:.6f} with up to {best_k} more pings at ${one:.6f} each",
        one,
        best_net,
        next_check=now + life - settings.margin,
    )


def _best_horizon(
    ahead: Sequence[float],
    ttl: Ttl,
    *,
    margin: float,
    one: Decimal,
    lost: Decimal,
    already: int,
    doubt: float = 0.0,
) -> tuple[Decimal, int]:
    """The number of further pings (0 = none) with the best expected net saving over the past gaps.

    A use that needs ``n`` more pings saves ``lost - n x one`` if the plan allows ``n`` pings and
    costs the ``k`` pings sent in vain otherwise; a use inside the current window needs none and
    counts for nothing either way; ``doubt`` more "gaps" never end (every ping sent in vain).
    """
    needed = [pings_to_bridge(g, ttl=ttl, margin=margin) - already for g in ahead]
    weight = Decimal(repr(doubt))
    best_net, best_k = Decimal(0), 0
    for k in range(1, max(needed) + 1):
        total = -weight * k * one
        for n in needed:
            if n > 0:
                total += (lost - n * one) if n <= k else -k * one
        net = total / (len(ahead) + weight)
        if net > best_net:
            best_net, best_k = net, k
    return best_net, best_k
