"""Exact token counts through the API's free ``count_tokens`` endpoint, cached locally.

:class:`TokenCounter` takes an SDK client (anything with ``messages.count_tokens``; by default
``anthropic.Anthropic()``, configured by ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL``) and an
optional cache path through its constructor. Results are keyed by a hash of the model and the request body, so a
prompt is counted once. When no client is configured, :func:`make_token_counter` returns None and
callers fall back to the offline estimator in :mod:`clawback.tokens`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from clawback.errors import StoreError, UpstreamError
from clawback.settings import Settings

__all__ = ["CountingClient", "TokenCounter", "make_token_counter"]

_COUNT_FIELDS = ("messages", "model", "system", "tools", "tool_choice", "thinking", "output_config", "speed")


class CountingClient(Protocol):
    """The part of ``anthropic.Anthropic`` the counter uses."""

    @property
    def messages(self) -> Any:  # pragma: no cover - protocol
        """The messages resource, with ``count_tokens``."""


class TokenCounter:
    """Counts input tokens exactly through ``/v1/messages/count_tokens``, with a local cache."""

    def __init__(self, client: CountingClient | None = None, cache_path: Path | str | None = None) -> None:
        if client is None:  # the SDK's own client: ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL, as it reads them
            import anthropic

            client = anthropic.Anthropic()
        self._client = client
        self._lock = threading.Lock()
        self._memory: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        if cache_path is not None:
            try:
                Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(cache_path), check_same_thread=False)
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS token_counts (key TEXT PRIMARY KEY, input_tokens INTEGER NOT NULL)"
                )
                self._db.commit()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open token-count cache {cache_path}: {exc}") from exc

    @staticmethod
    def key(body: Mapping[str, Any]) -> str:
        """The cache key of a request: a hash of the fields that affect the count."""
        relevant = {k: body[k] for k in _COUNT_FIELDS if k in body}
        text = json.dumps(relevant, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()

    def count(self, body: Mapping[str, Any]) -> int:
        """Exact input tokens for ``body`` (a Messages request), from the cache when known."""
        key = self.key(body)
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            if self._db is not None:
                row = self._db.execute(
                    "SELECT input_tokens FROM token_counts WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    self._memory[key] = int(row[0])
                    return int(row[0])
        params = {k: body[k] for k in _COUNT_FIELDS if k in body}
        try:
            result = self._client.messages.count_tokens(**params)
        except Exception as exc:  # the SDK's errors, translated at this boundary
            raise UpstreamError(f"count_tokens failed: {type(exc).__name__}: {exc}") from exc
        tokens = int(result.input_tokens)
        with self._lock:
            self._memory[key] = tokens
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO token_counts VALUES (?, ?)", (key, tokens))
                self._db.commit()
        return tokens

    def close(self) -> None:
        """Close the cache database."""
        if self._db is not None:
            self._db.close()
            self._db = None


def make_token_counter(settings: Settings) -> TokenCounter | None:
    """A counter when an API key or base URL is configured, else None (use the estimator)."""
    if settings.api_key is None and settings.base_url is None:
        return None
    import anthropic

    client = anthropic.Anthropic(
        api_key=settings.api_key.reveal() if settings.api_key else "not-needed-for-the-emulator",
        base_url=settings.base_url,
    )
    return TokenCounter(client, settings.home / "token-counts.sqlite3")
