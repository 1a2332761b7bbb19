"""Finding tasks in unlabelled calls: grouping by prompt template (pure).

A call's *task* is its label when the log has one. Otherwise calls are grouped by the template
their prompt was built from: the longest run of leading stable blocks they share with many other
calls. Candidates are the prefix hashes at the block boundaries where templates usually end —
the end of the tool definitions, each system block, each block of the first message (for
prefix-hash traces: the first few 512-token blocks) — and a candidate is a template when

* at least :data:`MIN_TEMPLATE_CALLS` calls, and at least :data:`MIN_TEMPLATE_SHARE` of the
  unlabelled calls with request data, pass through it (rarer prefixes don't move the bill), and
* at least :data:`MIN_BRANCHES` different continuations (next blocks, or the end of the
  request) follow it.

The second rule separates a template from one conversation's history: the turns of a single
conversation share their opening messages too, but a conversation only ever continues one way
(its next turn) or stops, so its prefixes have at most two continuations, while a system prompt
used for many requests has as many as there are distinct requests. The deepest candidate that
passes both rules names the task (``template:<8 hex>``); calls whose prefix passes neither go to
:data:`NO_TEMPLATE`. The counting runs in SQL over every call (see :mod:`clawback.audit.store`).
"""

from __future__ import annotations

from typing import Final

from clawback.shapes import BlockShape, RequestShape

__all__ = [
    "END_MARK",
    "MAX_CANDIDATES",
    "MIN_BRANCHES",
    "MIN_TEMPLATE_CALLS",
    "MIN_TEMPLATE_SHARE",
    "NO_TEMPLATE",
    "template_candidates",
    "template_name",
]

MIN_TEMPLATE_CALLS: Final = 3
MIN_TEMPLATE_SHARE: Final = 0.005
MIN_BRANCHES: Final = 3
MAX_CANDIDATES: Final = 8
NO_TEMPLATE: Final = "(no shared template)"
END_MARK: Final = "end:"


def _boundaries(blocks: tuple[BlockShape, ...]) -> list[int]:
    """Block indexes after which a template can end, shallowest first."""
    out: list[int] = []
    last_tool = max((i for i, b in enumerate(blocks) if b.level == "tools"), default=None)
    if last_tool is not None:
        out.append(last_tool)
    out.extend(i for i, b in enumerate(blocks) if b.level == "system")
    first_message = [
        i for i, b in enumerate(blocks) if b.level == "messages" and b.message_index in (None, 0)
    ]
    out.extend(first_message)
    return sorted(set(out))[:MAX_CANDIDATES]


def template_candidates(shape: RequestShape) -> tuple[list[str], list[str], list[int]]:
    """Candidate template keys of a request (shallowest first), what follows each, and their tokens.

    What follows a candidate is the prefix hash of the next block, or :data:`END_MARK` when the
    candidate is the request's last block.
    """
    blocks = shape.blocks
    keys: list[str] = []
    following: list[str] = []
    tokens: list[int] = []
    for i in _boundaries(blocks):
        keys.append(blocks[i].prefix_hash)
        following.append(blocks[i + 1].prefix_hash if i + 1 < len(blocks) else END_MARK)
        tokens.append(shape.prefix_tokens(i))
    return keys, following, tokens


def template_name(key: str) -> str:
    """The task name of a template key."""
    digits = key.split(":")[-1]
    return f"template:{digits[:8]}"
