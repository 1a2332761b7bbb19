"""Shared helpers for the batch tests: an emulator with flaky polls, inputs, and the run invariants."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic

from clawback.batch.ids import item_key, parse_custom_id
from clawback.emulator.app import create_app
from clawback.emulator.clock import VirtualClock
from clawback.emulator.config import EmulatorConfig
from clawback.emulator.server import running
from clawback.emulator.state import EmulatorState

KEY = "sk-ant-batch-test-key-0001"
SYSTEM = "You are a careful classifier of support tickets. Answer with one word. " * 60
_RETRIEVE = re.compile(r"^/v1/messages/batches/(msgbatch_\w+)$")
FINAL = {"succeeded", "errored", "expired", "canceled", "invalid"}


class FlakyPolls:
    """ASGI wrapper: a 404 on each batch's first retrieve, then a 5xx (with retry-after) every ``every`` retrieves.

    The emulator injects faults on batch *create* only; this covers polls (and the retrieve the SDK
    makes before downloading results).
    """

    def __init__(self, app: Any, *, every: int = 0, first_404: bool = False) -> None:
        self.app = app
        self.state = app.state
        self.every = every
        self.first_404 = first_404
        self.seen: set[str] = set()
        self.count = 0
        self.injected: Counter[int] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        status = self._fault(scope)
        if status is None:
            await self.app(scope, receive, send)
            return
        kind = {404: "not_found_error", 529: "overloaded_error"}.get(status, "api_error")
        body = json.dumps(
            {"type": "error", "error": {"type": kind, "message": "injected by the test"}}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"retry-after", b"0.2")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _fault(self, scope: dict[str, Any]) -> int | None:
        if scope.get("type") != "http" or scope.get("method") != "GET":
            return None
        match = _RETRIEVE.match(scope.get("path", ""))
        if match is None:
            return None
        with self._lock:
            if self.first_404 and match.group(1) not in self.seen:
                self.seen.add(match.group(1))
                self.injected[404] += 1
                return 404
            self.count += 1
            if self.every and self.count % self.every == 0:
                status = 529 if self.count % (2 * self.every) == 0 else 500
                self.injected[status] += 1
                return status
        return None


@dataclass
class Emu:
    """A running emulator: its state, base URL, and a client."""

    state: EmulatorState
    base_url: str
    client: Any
    flaky: FlakyPolls
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def clock(self) -> VirtualClock:
        """The emulator's (manual) clock."""
        return self.state.clock

    def batch_items(self) -> list[Any]:
        """Every batch item the emulator received."""
        return [r for r in self.state.log.since(0, 10**8) if r.endpoint == "batch_item"]


@contextmanager
def emulator(
    config: EmulatorConfig | None = None, *, every: int = 0, first_404: bool = False
) -> Iterator[Emu]:
    """An emulator on loopback with a manual clock, wrapped in :class:`FlakyPolls`."""
    app = create_app(
        config or EmulatorConfig(clock="manual"), clock=VirtualClock("manual", start=1_795_000_000.0)
    )
    flaky = FlakyPolls(app, every=every, first_404=first_404)
    with (
        running(flaky) as base_url,  # type: ignore[arg-type]
        anthropic.Anthropic(base_url=base_url, api_key=KEY, max_retries=0, timeout=20) as client,
    ):
        yield Emu(app.state.emulator, base_url, client, flaky)


def write_input(
    path: Path, count: int, *, start: int = 0, model: str = "claude-haiku-5-5", odd_ids: bool = True
) -> list[Any]:
    """``count`` requests sharing a long system prompt; returns their ids (some unusable as custom_ids)."""
    ids: list[Any] = []
    with path.open("w") as handle:
        for i in range(start, start + count):
            uid: Any = f"ticket-{i}"
            if odd_ids and i % 7 == 3:
                uid = f"ticket #{i} / ünïcode"
            elif odd_ids and i % 7 == 5:
                uid = i
            ids.append(uid)
            body = {
                "id": uid,
                "model": model,
                "max_tokens": 16,
                "system": SYSTEM,
                "messages": [{"role": "user", "content": f"Ticket {i}: the printer is on fire"}],
            }
            handle.write(json.dumps(body) + "\n")
    return ids


def read_output(path: Path) -> list[dict[str, Any]]:
    """The output file's lines as JSON."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_exactly_once(
    out: Path, ids: list[Any], emu: Emu, *, max_attempts: int, tag: str | None = None
) -> list[dict[str, Any]]:
    """Every input id once with a final outcome; no custom_id sent twice; sends per item = its attempts."""
    lines = read_output(out)
    got = [line["id"] for line in lines]
    assert len(got) == len(ids), (len(got), len(ids))
    assert Counter(map(json.dumps, got)) == Counter(map(json.dumps, ids))
    assert {line["outcome"] for line in lines} <= FINAL
    sent = [r.custom_id for r in emu.batch_items() if tag is None or r.custom_id.startswith(tag)]
    duplicates = [cid for cid, n in Counter(sent).items() if n > 1]
    assert not duplicates, duplicates[:5]
    per_key = Counter(parsed.key for cid in sent if (parsed := parse_custom_id(cid)) is not None)
    for line in lines:
        key = item_key(line["id"], line["line"])
        if line["outcome"] == "invalid":
            assert per_key[key] == 0
            continue
        assert per_key[key] == line["attempts"] <= max_attempts, (line, per_key[key])
    return lines


@contextmanager
def ticking(emu: Emu, step: float = 500.0, period: float = 0.01) -> Iterator[None]:
    """Move the emulator's clock ``step`` seconds every ``period`` seconds of real time."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(period):
            emu.clock.advance(step)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
