"""Request fingerprints ("shapes"): the cacheable blocks of a Messages request, without the text (pure).

A shape lists a request's blocks in the order the API caches them — tools, then system, then
messages — each with its level, position, a hash of its own content, a hash of the whole prefix
up to and including it, a token estimate, and the ``cache_control`` TTL set on it. The ledger, the
cache planner, the audit's simulator and the emulator all work from shapes; none of them keeps
prompt text.

Hashes ignore what the API ignores when it matches a cached prefix: where ``cache_control`` sits,
and whether content is a plain string or a list holding one text block. Object keys are sorted,
except inside ``tool_use.input``, which the API matches byte for byte. Parameters that invalidate
a cache level (``tool_choice``, ``thinking``, images, ``speed``, web search, effort and output
format) are folded into the prefix hash where that level begins, so changing one of them changes
the hashes of that level and every later one, exactly as the cache rules say.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from clawback import tokens as _tokens

__all__ = [
    "BlockShape",
    "Level",
    "RequestShape",
    "Ttl",
    "request_shape",
    "shape_from_hash_blocks",
]

Level = Literal["tools", "system", "messages"]
Ttl = Literal["5m", "1h"]
Tokenizer = Literal["pre-4.7", "4.7+"]

_UNCACHEABLE_KINDS = frozenset({"thinking", "redacted_thinking"})
_DEFAULT_EFFORT = {"claude-opus-5-5": "medium", "claude-haiku-5-5": "medium"}


@dataclass(frozen=True, slots=True)
class BlockShape:
    """One cacheable position of a request."""

    level: Level
    position: int
    kind: str
    content_hash: str
    prefix_hash: str
    tokens: int
    cache_ttl: Ttl | None = None
    cacheable: bool = True
    message_index: int | None = None
    role: str | None = None
    index: int = 0
    """Index within its container: the ``tools`` list, the ``system`` list, or the message's content."""


@dataclass(frozen=True, slots=True)
class RequestShape:
    """The ordered blocks of one request plus what is billed outside them."""

    model: str
    blocks: tuple[BlockShape, ...]
    auto_cache_ttl: Ttl | None = None
    overhead_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Estimated input tokens of the whole request."""
        return self.overhead_tokens + sum(b.tokens for b in self.blocks)

    @property
    def breakpoints(self) -> tuple[int, ...]:
        """Positions that carry an explicit ``cache_control``."""
        return tuple(b.position for b in self.blocks if b.cache_ttl is not None)

    def prefix_tokens(self, position: int) -> int:
        """Tokens up to and including ``position`` (request overhead counts as prefix)."""
        return self.overhead_tokens + sum(b.tokens for b in self.blocks[: position + 1])

    def with_breakpoints(self, marks: Mapping[int, Ttl], *, auto: Ttl | None = None) -> RequestShape:
        """A copy whose explicit breakpoints are exactly ``marks`` (position -> TTL)."""
        blocks = tuple(replace(b, cache_ttl=marks.get(b.position)) for b in self.blocks)
        return replace(self, blocks=blocks, auto_cache_ttl=auto)

    def level_hash(self, level: Level) -> str | None:
        """The prefix hash at the last block of ``level`` (None if the level is empty)."""
        found = None
        for b in self.blocks:
            if b.level == level:
                found = b.prefix_hash
        return found

    def to_json(self) -> dict[str, Any]:
        """A compact JSON form (no text) for the ledger."""
        return {
            "v": 1,
            "model": self.model,
            "auto": self.auto_cache_ttl,
            "overhead": self.overhead_tokens,
            "blocks": [
                [
                    b.level[0],
                    b.kind,
                    b.content_hash,
                    b.prefix_hash,
                    b.tokens,
                    b.cache_ttl,
                    b.cacheable,
                    b.message_index,
                    b.role,
                    b.index,
                ]
                for b in self.blocks
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RequestShape:
        """Inverse of :meth:`to_json`."""
        levels: dict[str, Level] = {"t": "tools", "s": "system", "m": "messages"}
        blocks = tuple(
            BlockShape(
                level=levels[row[0]],
                position=i,
                kind=row[1],
                content_hash=row[2],
                prefix_hash=row[3],
                tokens=row[4],
                cache_ttl=row[5],
                cacheable=row[6],
                message_index=row[7],
                role=row[8],
                index=row[9],
            )
            for i, row in enumerate(data["blocks"])
        )
        return cls(
            model=data["model"],
            blocks=blocks,
            auto_cache_ttl=data.get("auto"),
            overhead_tokens=int(data.get("overhead", 0)),
        )


def _digest(*parts: str) -> str:
    """BLAKE2b-96 over each part followed by a unit separator (fed to the hash in one piece)."""
    text = "\x1f".join(parts) + "\x1f" if parts else ""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _canonical(value: Any, *, keep_order: bool = False) -> Any:
    if isinstance(value, Mapping):
        items = [(k, v) for k, v in value.items() if k != "cache_control"]
        if not keep_order:
            items.sort(key=lambda kv: kv[0])
        return {k: _canonical(v, keep_order=keep_order or k == "input") for k, v in items}
    if isinstance(value, list):
        return [_canonical(v, keep_order=keep_order) for v in value]
    return value


_PLAIN_TEXT_KEYS = frozenset({"type", "text", "cache_control"})


_TEXT_MEMO: dict[str, str] = {}
_TEXT_MEMO_MIN_CHARS = 512
_TEXT_MEMO_MAX_CHARS = 16_000_000
_text_memo_chars = 0


def _text_digest(text: str) -> str:
    """``_digest("text", text)``, remembered for long texts (system prompts and documents repeat).

    A dict lookup hashes the string once per string object (Python caches it), far cheaper than
    BLAKE2 over the same bytes; the memo holds at most ~16 million characters, then starts over.
    """
    global _text_memo_chars
    if len(text) < _TEXT_MEMO_MIN_CHARS:
        return _digest("text", text)
    found = _TEXT_MEMO.get(text)
    if found is None:
        found = _digest("text", text)
        if _text_memo_chars + len(text) > _TEXT_MEMO_MAX_CHARS:
            _TEXT_MEMO.clear()
            _text_memo_chars = 0
        _TEXT_MEMO[text] = found
        _text_memo_chars += len(text)
    return found


def _block_digest(block: Mapping[str, Any]) -> str:
    """The content hash of one block: plain text blocks hash their text directly (the hot path)."""
    if (
        block.get("type") == "text"
        and _PLAIN_TEXT_KEYS.issuperset(block)
        and isinstance(block.get("text"), str)
    ):
        return _text_digest(block["text"])
    return _digest(_block_json(block))


_MAX_DEPTH = 200
"""Deeper values are serialised without recursion (:func:`_flat_json`); the API refuses them anyway."""


def _depth_exceeds(value: Any, limit: int = _MAX_DEPTH) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str or kind is int or item is None:  # leaves first: no ABC check for them
            continue
        if kind is dict or kind is list or isinstance(item, Mapping | list):
            if depth > limit:
                return True
            stack.extend(
                (v, depth + 1)
                for v in (
                    item
                    if kind is list
                    else item.values()
                    if kind is dict or isinstance(item, Mapping)
                    else item
                )
            )
    return False


def _flat_json(value: Any, *, keep_order: bool = False) -> str:
    """A canonical JSON-like text of ``value`` built without recursion, for any depth.

    Keys are sorted (except inside ``input``) and ``cache_control`` dropped, as :func:`_canonical`.
    """
    out: list[str] = []
    stack: list[tuple[Any, bool] | str] = [(value, keep_order)]
    while stack:
        top = stack.pop()
        if isinstance(top, str):
            out.append(top)
            continue
        item, ordered = top
        if isinstance(item, Mapping):
            items = [(k, v) for k, v in item.items() if k != "cache_control"]
            if not ordered:
                items.sort(key=lambda kv: str(kv[0]))
            stack.append("}")
            for i, (k, v) in reversed(list(enumerate(items))):
                stack.append((v, ordered or k == "input"))
                stack.append(("," if i else "") + json.dumps(str(k), ensure_ascii=False) + ":")
            stack.append("{")
        elif isinstance(item, list):
            stack.append("]")
            for i, v in reversed(list(enumerate(item))):
                stack.append((v, ordered))
                if i:
                    stack.append(",")
            stack.append("[")
        else:
            out.append(json.dumps(item, ensure_ascii=False))
    return "".join(out)


def _bounded_canonical(value: Any) -> Any:
    """:func:`_canonical`, or for a value nested too deep, its flat canonical text."""
    return _flat_json(value) if _depth_exceeds(value) else _canonical(value)


def _block_json(block: Mapping[str, Any]) -> str:
    if _depth_exceeds(block):
        return _flat_json(block)
    if block.get("type") == "tool_use":
        head = {k: v for k, v in block.items() if k not in ("input", "cache_control")}
        body = {"head": _canonical(head), "input": _canonical(block.get("input"), keep_order=True)}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(_canonical(block), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _ttl_of(block: Mapping[str, Any]) -> Ttl | None:
    control = block.get("cache_control")
    if control is None or not isinstance(control, Mapping):  # None first: no ABC check for most blocks
        return None
    return "1h" if control.get("ttl") == "1h" else "5m"


def _as_blocks(content: Any) -> list[Mapping[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if type(content) is not list and isinstance(content, Mapping):  # a list first: no ABC check
        return [content]
    return [
        b if type(b) is dict or isinstance(b, Mapping) else {"type": "text", "text": str(b)} for b in content
    ]


def _message_flags(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """(any image in the messages, tool results included; any block with citations enabled)."""
    images = citations = False
    for message in body.get("messages") or ():
        if type(message) is not dict and not isinstance(message, Mapping):
            continue
        content = message.get("content")
        if isinstance(content, str):
            continue
        for block in _as_blocks(content):
            kind = block.get("type")
            if kind == "image":
                images = True
            elif kind == "tool_result" and not images:
                images = any(b.get("type") == "image" for b in _as_blocks(block.get("content")))
            cited = block.get("citations")
            if cited is not None and isinstance(cited, Mapping) and cited.get("enabled"):
                citations = True
            if images and citations:
                return True, True
    return images, citations


def _has_images(body: Mapping[str, Any]) -> bool:
    return _message_flags(body)[0]


_SALT_MEMO: dict[tuple[Any, ...], str] = {}


def _memo_salt(key: tuple[Any, ...], make: Callable[[], str]) -> str:
    """A salt for hashable ``key`` (the common cases repeat on every call); computed once."""
    found = _SALT_MEMO.get(key)
    if found is None:
        if len(_SALT_MEMO) >= 256:
            _SALT_MEMO.clear()
        found = _SALT_MEMO[key] = make()
    return found


def _system_salt(body: Mapping[str, Any], citations: bool | None = None) -> str:
    tools = body.get("tools") or ()
    web = sorted(
        str(t.get("type")) for t in tools if isinstance(t, Mapping) and "web_search" in str(t.get("type"))
    )
    if citations is None:
        citations = _message_flags(body)[1]
    speed = body.get("speed") or "standard"

    def make() -> str:
        return json.dumps({"speed": speed, "web": web, "citations": citations}, sort_keys=True)

    return _memo_salt(("system", speed, tuple(web), citations), make) if isinstance(speed, str) else make()


def _messages_salt(body: Mapping[str, Any], model: str, images: bool | None = None) -> str:
    output_config = body.get("output_config") or {}
    config = type(output_config) is dict or isinstance(output_config, Mapping)
    effort = output_config.get("effort") if config else None
    if effort is not None and effort == _DEFAULT_EFFORT.get(model, "high"):
        effort = None
    fmt = output_config.get("format") if config else None
    if images is None:
        images = _has_images(body)
    tool_choice, thinking = body.get("tool_choice"), body.get("thinking")

    def make() -> str:
        return json.dumps(
            {
                "tool_choice": _bounded_canonical(tool_choice),
                "thinking": _bounded_canonical(thinking),
                "images": images,
                "effort": effort,
                "format": _bounded_canonical(fmt),
            },
            sort_keys=True,
        )

    if (
        tool_choice is None
        and thinking is None
        and fmt is None
        and (effort is None or isinstance(effort, str))
    ):
        return _memo_salt(("messages", images, effort), make)
    return make()


_TOKEN_MEMO: dict[tuple[str, str], int] = {}
_TOKEN_MEMO_LIMIT = 65_536


def _estimate_block(block: Mapping[str, Any], tokenizer: Tokenizer) -> int:
    """The offline estimate; a block nested too deep for JSON encoding is estimated from its flat text."""
    text = block.get("text")
    if type(text) is str and block.get("type") == "text" and _PLAIN_TEXT_KEYS.issuperset(block):
        return _tokens.estimate_text_tokens(text, tokenizer)  # a plain text block: nothing nested
    if _depth_exceeds(block):
        return _tokens.estimate_text_tokens(_flat_json(block), tokenizer)
    return _tokens.estimate_block_tokens(block, tokenizer)


def _memo_counter(tokenizer: Tokenizer) -> Callable[[Mapping[str, Any], str], int]:
    """The offline estimator, remembered by content hash (system prompts repeat on every call)."""
    found = _COUNTERS.get(tokenizer)
    if found is not None:
        return found

    def count(block: Mapping[str, Any], content_hash: str) -> int:
        key = (content_hash, tokenizer)
        found = _TOKEN_MEMO.get(key)
        if found is None:
            if len(_TOKEN_MEMO) >= _TOKEN_MEMO_LIMIT:
                _TOKEN_MEMO.clear()
            found = _TOKEN_MEMO[key] = _estimate_block(block, tokenizer)
        return found

    _COUNTERS[tokenizer] = count
    return count


_COUNTERS: dict[str, Callable[[Mapping[str, Any], str], int]] = {}
"""One counter per tokenizer (made once, not per request)."""


_CHAIN_START = _digest("clawback-shape-v1")
_FOLD_MEMO: dict[tuple[str, ...], str] = {}
_ADD_MEMO: dict[tuple[Any, ...], tuple[str, BlockShape]] = {}
_SHAPE_MEMO_LIMIT = 4096
"""Entries in each of the two memos below; full, a memo starts over (a new ticket every call
fills it at one entry a call, the repeated system prompt and documents are found again at once)."""


class _Builder:
    def __init__(self, count: Callable[[Mapping[str, Any], str], int], tokenizer: Tokenizer | None) -> None:
        self.count = count
        self.tokenizer = tokenizer
        """The offline estimator's tokenizer, or None for a caller's own counter (then nothing is memoised)."""
        self.chain = _CHAIN_START
        self.blocks: list[BlockShape] = []

    def fold(self, *parts: str) -> None:
        self.chain = _digest(self.chain, *parts)

    def fold_level(self, level: str, salt: str) -> None:
        """``fold(level, salt)``, remembered: the chain where a level begins repeats call after call."""
        key = (self.chain, level, salt)
        found = _FOLD_MEMO.get(key)
        if found is None:
            if len(_FOLD_MEMO) >= _SHAPE_MEMO_LIMIT:
                _FOLD_MEMO.clear()
            found = _FOLD_MEMO[key] = _digest(*key)
        self.chain = found

    def add(
        self,
        level: Level,
        block: Mapping[str, Any],
        *,
        index: int,
        extra_tokens: int = 0,
        message_index: int | None = None,
        role: str | None = None,
    ) -> None:
        content_hash = _block_digest(block)
        ttl = _ttl_of(block)
        position = len(self.blocks)
        key = None
        if self.tokenizer is not None:
            # everything the block's shape depends on: the content hash fixes its kind and tokens
            key = (
                self.tokenizer,
                self.chain,
                level,
                role,
                content_hash,
                position,
                index,
                message_index,
                extra_tokens,
                ttl,
            )
            found = _ADD_MEMO.get(key)
            if found is not None:
                self.chain = found[0]
                self.blocks.append(found[1])
                return
        self.fold(level, role or "", content_hash)
        kind = str(block.get("type") or ("tool" if level == "tools" else "text"))
        empty_text = kind == "text" and not block.get("text")
        shape = BlockShape(
            level=level,
            position=position,
            kind=kind,
            content_hash=content_hash,
            prefix_hash=self.chain,
            tokens=self.count(block, content_hash) + extra_tokens,
            cache_ttl=ttl,
            cacheable=kind not in _UNCACHEABLE_KINDS and not empty_text,
            message_index=message_index,
            role=role,
            index=index,
        )
        self.blocks.append(shape)
        if key is not None:
            if len(_ADD_MEMO) >= _SHAPE_MEMO_LIMIT:
                _ADD_MEMO.clear()
            _ADD_MEMO[key] = (self.chain, shape)


def request_shape(
    body: Mapping[str, Any],
    *,
    tokenizer: Tokenizer = "pre-4.7",
    count: Callable[[Mapping[str, Any]], int] | None = None,
) -> RequestShape:
    """The shape of a Messages API request body.

    ``count`` estimates one block's tokens; by default the offline estimator for ``tokenizer``.
    """
    if count is None:
        counter = _memo_counter(tokenizer)
        memo: Tokenizer | None = tokenizer
    else:
        given = count
        counter = lambda block, _hash: given(block)  # noqa: E731
        memo = None
    model = str(body.get("model", ""))
    builder = _Builder(counter, memo)
    tools = [t for t in body.get("tools") or () if isinstance(t, Mapping)]
    tool_choice = body.get("tool_choice")
    if tool_choice is not None and not isinstance(tool_choice, Mapping):
        tool_choice = None
    overhead = _tokens.tool_overhead_tokens(model, tool_choice) if tools else 0
    for i, tool in enumerate(tools):
        builder.add("tools", tool, index=i, extra_tokens=overhead if i == 0 else 0)
    images, citations = _message_flags(body)
    builder.fold_level("system-level", _system_salt(body, citations))
    for j, block in enumerate(_as_blocks(body.get("system"))):
        builder.add("system", block, index=j)
    builder.fold_level("messages-level", _messages_salt(body, model, images))
    for index, message in enumerate(body.get("messages") or ()):
        if type(message) is not dict and not isinstance(message, Mapping):
            continue
        role = str(message.get("role", "user"))
        for j, block in enumerate(_as_blocks(message.get("content"))):
            framing = _tokens.MESSAGE_FRAMING_TOKENS if j == 0 else 0
            builder.add("messages", block, index=j, extra_tokens=framing, message_index=index, role=role)
    auto = body.get("cache_control")
    auto_ttl: Ttl | None = None
    if auto is not None and isinstance(auto, Mapping):
        auto_ttl = "1h" if auto.get("ttl") == "1h" else "5m"
    return RequestShape(
        model=model,
        blocks=tuple(builder.blocks),
        auto_cache_ttl=auto_ttl,
        overhead_tokens=_tokens.REQUEST_FRAMING_TOKENS,
    )


def shape_from_hash_blocks(
    model: str,
    hash_ids: Sequence[int | str],
    input_length: int,
    *,
    block_tokens: int = 512,
    namespace: str = "trace",
) -> RequestShape:
    """A shape from a prefix-hash trace (Mooncake style): one block per hash id.

    Each id names one ``block_tokens``-token block whose identity already encodes its prefix, so
    equal ids mean equal prefixes. The last block holds whatever of ``input_length`` remains.
    """
    blocks: list[BlockShape] = []
    remaining = input_length
    count = len(hash_ids)
    for i, hid in enumerate(hash_ids):
        size = block_tokens if i < count - 1 else max(0, remaining)
        remaining -= size
        key = f"{namespace}:{hid}"
        blocks.append(
            BlockShape(
                level="messages", position=i, kind="text", content_hash=key, prefix_hash=key, tokens=size
            )
        )
    return RequestShape(model=model, blocks=tuple(blocks))


def iter_prefix_hashes(shape: RequestShape) -> Iterable[str]:
    """Every block's prefix hash, in order."""
    return (b.prefix_hash for b in shape.blocks)
