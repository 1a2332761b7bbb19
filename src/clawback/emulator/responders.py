"""Who writes the emulator's answers: echo, scripted, per-model templates, or replay of recordings.

A :class:`Responder` turns a validated request into a :class:`Reply` (content blocks plus optional
overrides); :mod:`clawback.emulator.generation` then applies ``max_tokens`` and stop sequences.

Replay keying: a recording matches on the model id and the SHA-256 (hex) of the *prompt text* —
the text of the last user message: a string content as is, or the ``text`` of its text blocks
(and of the text inside its ``tool_result`` blocks) joined with ``"\\n"``. A line without a
``model`` (or with ``"*"``) matches any model. When two lines share a key the first wins.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from clawback.emulator.config import ResponderConfig, ScriptedReply
from clawback.emulator.params import MessageRequest
from clawback.emulator.structured import constrained_reply
from clawback.emulator.wire import not_found
from clawback.errors import InputFileError

__all__ = [
    "EchoResponder",
    "ReplayResponder",
    "Reply",
    "Responder",
    "ScriptedResponder",
    "TemplateResponder",
    "build_responder",
    "load_replay",
    "prompt_hash",
    "prompt_text",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer before ``max_tokens`` and stop sequences are applied."""

    content: tuple[Mapping[str, Any], ...]
    stop_reason: str | None = None
    output_tokens: int | None = None


class Responder(Protocol):
    """Anything that answers a validated Messages request."""

    def reply(self, request: MessageRequest) -> Reply:
        """The answer to ``request``."""
        ...


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for block in content or ():
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            out.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            out.extend(_texts(block.get("content")))
    return out


def prompt_text(body: Mapping[str, Any]) -> str:
    """The text of the request's last user message (the replay key's prompt)."""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return "\n".join(_texts(message.get("content")))
    return ""


def prompt_hash(text: str) -> str:
    """SHA-256 hex of a prompt text, as replay files record it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _blocks(content: str | Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    if isinstance(content, str):
        return ({"type": "text", "text": content},)
    return tuple(content)


class EchoResponder:
    """Answers with the prompt text itself, or as the request's output constraint demands."""

    def reply(self, request: MessageRequest) -> Reply:
        """JSON valid against ``output_config.format``'s schema, a forced tool's call, else the prompt.

        See :mod:`clawback.emulator.structured`; free-text requests get the last user message's text.
        """
        constrained = constrained_reply(request.body)
        if constrained is not None:
            return Reply(constrained)
        return Reply(({"type": "text", "text": prompt_text(request.body)},))


class TemplateResponder:
    """Answers from a per-model template with ``{model}`` and ``{prompt}`` filled in.

    Templates are looked up by model id, then its aliases, then ``"*"``; the default is ``"{prompt}"``.
    """

    def __init__(self, templates: Mapping[str, str]) -> None:
        self.templates = dict(templates)

    def reply(self, request: MessageRequest) -> Reply:
        """The model's template, filled in."""
        info = request.info
        found = (self.templates.get(name) for name in (info.id, *info.aliases, "*"))
        template = next((t for t in found if t is not None), "{prompt}")
        text = template.replace("{model}", info.id).replace("{prompt}", prompt_text(request.body))
        return Reply(({"type": "text", "text": text},))


class ScriptedResponder:
    """Answers from a queue of scripted replies, then falls back (to echo by default)."""

    def __init__(self, script: Iterable[ScriptedReply] = (), fallback: Responder | None = None) -> None:
        self._queue: deque[ScriptedReply] = deque(script)
        self._lock = threading.Lock()
        self.fallback: Responder = fallback or EchoResponder()

    def push(self, *replies: ScriptedReply) -> None:
        """Append replies to the queue."""
        with self._lock:
            self._queue.extend(replies)

    def clear(self) -> None:
        """Empty the queue."""
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> int:
        """Replies not yet served."""
        return len(self._queue)

    def reply(self, request: MessageRequest) -> Reply:
        """The first queued reply for this model (or for any model), else the fallback's."""
        with self._lock:
            for item in self._queue:
                if item.model is None or item.model in (request.info.id, *request.info.aliases):
                    self._queue.remove(item)
                    return Reply(_blocks(item.content), item.stop_reason, item.output_tokens)
        return self.fallback.reply(request)


class ReplayResponder:
    """Serves recorded answers keyed by model and prompt hash (see the module docstring)."""

    def __init__(
        self, records: Mapping[tuple[str, str], Reply], *, on_missing: str = "error", source: str = ""
    ) -> None:
        self.records = dict(records)
        self.on_missing = on_missing
        self.source = source
        self._echo = EchoResponder()

    def reply(self, request: MessageRequest) -> Reply:
        """The recording for this model and prompt; 404 (or echo) when there is none."""
        digest = prompt_hash(prompt_text(request.body))
        found = self.records.get((request.info.id, digest)) or self.records.get(("*", digest))
        if found is not None:
            return found
        if self.on_missing == "echo":
            return self._echo.reply(request)
        raise not_found(
            f"no recorded response for model {request.info.id} and prompt sha256 {digest[:16]}… "
            f"in {self.source or 'the replay file'}"
        )


def _replay_line(data: Any, where: str) -> tuple[tuple[str, str], Reply]:
    if not isinstance(data, Mapping):
        raise InputFileError(f"{where}: expected a JSON object")
    if isinstance(data.get("prompt_hash"), str):
        digest = data["prompt_hash"].lower()
    elif isinstance(data.get("prompt"), str):
        digest = prompt_hash(data["prompt"])
    else:
        raise InputFileError(f"{where}: needs 'prompt' or 'prompt_hash'")
    response = data.get("response")
    if not isinstance(response, str | list):
        raise InputFileError(f"{where}: 'response' must be text or a list of content blocks")
    usage = data.get("usage")
    output = usage.get("output_tokens") if isinstance(usage, Mapping) else None
    reply = Reply(
        _blocks(response),
        data.get("stop_reason") if isinstance(data.get("stop_reason"), str) else None,
        output if isinstance(output, int) and not isinstance(output, bool) and output >= 0 else None,
    )
    return (str(data.get("model") or "*"), digest), reply


def load_replay(path: str | Path, *, on_missing: str = "error") -> ReplayResponder:
    """A :class:`ReplayResponder` from a JSONL file; a bad line is a one-line error naming it."""
    from clawback.safe_input import loads, read_text

    path = Path(path)
    records: dict[tuple[str, str], Reply] = {}
    for number, line in enumerate(read_text(path, f"replay file {path}").splitlines(), 1):
        if not line.strip():
            continue
        where = f"replay file {path}, line {number}"
        key, reply = _replay_line(loads(line, where), where)
        records.setdefault(key, reply)
    return ReplayResponder(records, on_missing=on_missing, source=str(path))


def build_responder(config: ResponderConfig) -> ScriptedResponder:
    """The responder a configuration asks for, behind a script queue that is served first.

    ``kind = "scripted"`` falls back to echo once the script runs out; any other kind answers
    whatever the script (given in the file or pushed through the control API) does not.
    """
    base: Responder
    if config.kind == "template":
        base = TemplateResponder(config.templates)
    elif config.kind == "replay":
        if config.replay_file is None:
            raise InputFileError("responder.kind = 'replay' needs responder.replay_file")
        base = load_replay(config.replay_file, on_missing=config.on_missing)
    else:
        base = EchoResponder()
    return ScriptedResponder(config.script, fallback=base)
