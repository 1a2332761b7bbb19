"""The error a caller gets from an upstream that echoed its key holds the masked key only (sync and async)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anthropic
import pytest

from clawback import Anthropic, AsyncAnthropic
from clawback.redact import redact_exception
from tests.robustness.support import echoing_emulator

KEY = "sk-ant-api03-Zk5QwErTyUiOpAsDfGhJkLzXcVbNm0987"
REQUEST = {"model": "claude-haiku-5-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def _shown(error: anthropic.APIStatusError) -> str:
    return f"{error!s} {error!r} {error.message} {error.body!r} {error.args!r}"


def test_the_sync_client_raises_the_sdk_error_with_the_key_masked(tmp_path: Path) -> None:
    with echoing_emulator({("POST", "/v1/messages"): (1, 401, "authentication_error")}) as url:
        client = Anthropic(base_url=url, api_key=KEY, ledger=str(tmp_path / "l.sqlite3"), max_retries=0)
        try:
            with pytest.raises(anthropic.AuthenticationError) as raised:
                client.messages.create(**REQUEST)  # type: ignore[call-overload]
        finally:
            client.close()
    shown = _shown(raised.value)
    assert KEY[-4:] in shown and KEY[:16] not in shown and KEY[10:30] not in shown
    assert raised.value.status_code == 401  # the error is the SDK's own, only its text masked


def test_the_async_client_raises_the_sdk_error_with_the_key_masked(tmp_path: Path) -> None:
    async def call(url: str) -> anthropic.APIStatusError:
        client = AsyncAnthropic(base_url=url, api_key=KEY, ledger=str(tmp_path / "l.sqlite3"), max_retries=0)
        try:
            await client.messages.create(**REQUEST)  # type: ignore[call-overload]
        except anthropic.AuthenticationError as exc:
            return exc
        finally:
            await client.close()
        raise AssertionError("no error")

    with echoing_emulator({("POST", "/v1/messages"): (1, 401, "authentication_error")}) as url:
        error = asyncio.run(call(url))
    shown = _shown(error)
    assert KEY[-4:] in shown and KEY[:16] not in shown and KEY[10:30] not in shown


def test_redact_exception_masks_args_message_and_body_in_place() -> None:
    class Failure(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message, 3)
            self.message = message
            self.body = {"error": {"message": message}, "items": [message]}

    error = Failure(f"bad key {KEY}")
    assert redact_exception(error) is error
    assert KEY not in repr(error.args) + error.message + repr(error.body)
    assert error.args[1] == 3 and error.body["error"]["message"].endswith(KEY[-4:])
