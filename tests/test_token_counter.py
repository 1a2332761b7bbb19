"""Exact token counts through the official SDK's count_tokens, against the emulator, cached locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clawback.emulator.testing import TEST_KEY, EmulatorSession, emulator_client
from clawback.errors import UpstreamError
from clawback.settings import Secret, Settings
from clawback.token_counter import TokenCounter, make_token_counter
from clawback.tokens import estimate_text_tokens

SYSTEM = "You classify support tickets into billing, shipping or other. " * 40
BODY: dict[str, Any] = {
    "model": "claude-haiku-5-5",
    "max_tokens": 64,
    "system": SYSTEM,
    "messages": [{"role": "user", "content": "My parcel never arrived."}],
}


class _Spy:
    """Passes count_tokens through to a real SDK client and records each call."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[dict[str, Any]] = []
        self.messages = self

    def count_tokens(self, **params: Any) -> Any:
        self.calls.append(params)
        return self._client.messages.count_tokens(**params)


class _Unreachable:
    """A client that must not be called: every count has to come from the cache."""

    messages = property(lambda self: pytest.fail("count_tokens was called despite a cached count"))


def test_counts_through_the_sdk_and_caches_on_disk(tmp_path: Path) -> None:
    cache = tmp_path / "token-counts.sqlite3"
    with emulator_client() as emu:
        spy = _Spy(emu.client)
        counter = TokenCounter(spy, cache)
        exact = counter.count(BODY)
        params = {k: v for k, v in BODY.items() if k != "max_tokens"}
        assert exact == emu.client.messages.count_tokens(**params).input_tokens
        assert exact > estimate_text_tokens(SYSTEM)  # the system prompt and the message framing
        assert counter.count(BODY) == exact
        assert (
            counter.count({**BODY, "max_tokens": 4000, "stream": True, "metadata": {"user_id": "u"}}) == exact
        )
        assert len(spy.calls) == 1 and "max_tokens" not in spy.calls[0]
        other = counter.count(
            {
                **BODY,
                "messages": [
                    {
                        "role": "user",
                        "content": "My parcel never arrived, and the replacement came broken. Refund order 12345, please.",
                    }
                ],
            }
        )
        assert other > exact and len(spy.calls) == 2  # a different request is counted afresh
        counter.close()
    again = TokenCounter(_Unreachable(), cache)
    assert again.count(BODY) == exact
    again.close()


def test_made_from_settings_when_a_key_or_base_url_is_configured(tmp_path: Path) -> None:
    assert make_token_counter(Settings(home=tmp_path)) is None  # no API configured: use the estimator
    with emulator_client() as emu:
        settings = Settings(home=tmp_path, api_key=Secret(TEST_KEY), base_url=emu.base_url)
        counter = make_token_counter(settings)
        assert counter is not None
        assert counter.count(BODY) == _exact(emu)
        counter.close()
    assert (tmp_path / "token-counts.sqlite3").is_file()


def test_api_errors_become_one_upstream_error(tmp_path: Path) -> None:
    with emulator_client() as emu:
        counter = TokenCounter(emu.client)
        with pytest.raises(UpstreamError, match="count_tokens failed") as info:
            counter.count({**BODY, "model": "claude-nano-9"})
        assert "\n" not in str(info.value)


def test_without_a_client_it_uses_the_sdk_configured_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TokenCounter()`` as the README shows it: ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY, like the SDK."""
    with emulator_client() as emu:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", str(emu.client.base_url))
        monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEY)
        counter = TokenCounter(cache_path=tmp_path / "counts.sqlite3")
        assert counter.count(BODY) == _exact(emu)
        counter.close()


def _exact(emu: EmulatorSession) -> int:
    """What the API's own count_tokens says for BODY."""
    return emu.client.messages.count_tokens(
        model=BODY["model"], system=SYSTEM, messages=BODY["messages"]
    ).input_tokens
