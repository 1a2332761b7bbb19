"""The one masking function and the safe input layer (pure)."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawback.errors import InputFileError
from clawback.redact import redact, redact_json
from clawback.safe_input import bounded_decimal, check_year, decode, loads, read_input

KEY = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-zzQ9"


@pytest.mark.parametrize(
    "text",
    [
        f"invalid key {KEY} given",
        f"x-api-key: {KEY}",
        f"{{'x-api-key': '{KEY}'}}",
        f'"Authorization": "Bearer {KEY}"',
        "Authorization: Bearer abcdefghijklmnop1234",
        f"ANTHROPIC_API_KEY={KEY}",
    ],
)
def test_every_form_of_an_api_key_is_masked(text: str) -> None:
    out = redact(text)
    assert "AbCdEfGh" not in out
    assert "abcdefghijklmnop" not in out
    assert "zzQ9" in out or "1234" in out  # the last four stay, to tell keys apart


def test_url_passwords_are_masked_and_the_rest_kept() -> None:
    out = redact("could not open postgresql://clawback:Hunter2Secret@db:5432/x?sslpassword=Zz99zz")
    assert "Hunter2Secret" not in out and "Zz99zz" not in out
    assert "postgresql://clawback:***@db:5432/x" in out


def test_named_secrets_are_masked_and_plain_text_untouched() -> None:
    assert redact("upstream said: nope-abcdefgh-123", ["nope-abcdefgh-123"]) == "upstream said: …-123"
    assert redact("nothing to hide here: 42 tokens") == "nothing to hide here: 42 tokens"


@given(st.text(max_size=40), st.text(max_size=40))
def test_a_key_embedded_anywhere_never_survives(before: str, after: str) -> None:
    assert KEY[:20] not in redact(before + KEY + after)


def test_redact_json_reaches_every_string_including_keys() -> None:
    data = {"error": {"message": f"bad key {KEY}"}, KEY: [f"Bearer {KEY}", 5, None]}
    assert "AbCdEfGh" not in json.dumps(redact_json(data))


def test_loads_bounds_nesting_numbers_constants_and_surrogates() -> None:
    with pytest.raises(InputFileError, match="nested deeper"):
        loads("[" * 5000 + "]" * 5000, "body")
    with pytest.raises(InputFileError, match="nested deeper"):
        loads("[" * 500 + "]" * 500, "body")
    with pytest.raises(InputFileError, match="not valid JSON"):
        loads('{"a": NaN}')
    with pytest.raises(InputFileError, match="not valid JSON"):
        loads("1" * 300)
    with pytest.raises(InputFileError, match="surrogate"):
        loads('{"text": "\\ud800"}')
    with pytest.raises(InputFileError, match="not UTF-8"):
        loads(b'{"a": "\xff"}')
    assert loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_decode_names_the_offset_of_the_bad_byte() -> None:
    with pytest.raises(InputFileError, match=r"byte 2 is 0xff"):
        decode(b"ab\xffcd", "f.json")


def test_read_input_refuses_directories_and_reads_a_fifo_once(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="is a directory"):
        read_input(tmp_path)
    with pytest.raises(InputFileError, match="no such file"):
        read_input(tmp_path / "absent")
    with pytest.raises(InputFileError, match="not a regular file"):
        read_input("/dev/null" if not os.path.exists("/dev/zero") else "/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child writes then exits
        with open(fifo, "wb") as fh:
            fh.write(b'{"ok": true}')
        os._exit(0)
    assert read_input(fifo) == b'{"ok": true}'
    os.waitpid(pid, 0)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 11)
    with pytest.raises(InputFileError, match="larger than 10 bytes"):
        read_input(big, limit=10)


def test_bounded_numbers_and_years() -> None:
    with pytest.raises(InputFileError, match="out of range"):
        bounded_decimal("9" * 300, "--calls-per-day")
    with pytest.raises(InputFileError, match="finite"):
        bounded_decimal("NaN", "--keepalive-cap")
    assert bounded_decimal("12.5", "x") == Decimal("12.5")
    from datetime import date

    with pytest.raises(InputFileError, match="outside 2023"):
        check_year(date(9999, 12, 31))
    with pytest.raises(InputFileError, match="outside 2023"):
        check_year(date(1, 1, 1))


_HINT_PIECES = st.sampled_from(
    ["sk-ant-", "SK-ANT-", "Api-Key", "API_KEY", "Authorization", "bEaReR", "://user@", "://u:p@h", "PASSWORD=",
     "paſſword=", "ſk-ant-", "\u212a", "İ", "://", "@", " ", "/", "api", "key", "-", "_"]
)  # fmt: skip


@given(st.lists(st.one_of(_HINT_PIECES, st.text(max_size=6)), max_size=12).map("".join))
def test_the_quick_hint_misses_nothing_the_hint_expression_finds(text: str) -> None:
    """redact() skips its masking only when nothing could be hidden: the substring check it uses
    finds everything the case-insensitive expression it replaced finds."""
    import re

    from clawback.redact import _hinted

    hint = re.compile(r"(?i)sk-ant-|api[-_]key|authorization|bearer|://[^\s/]*@|password=")
    assert _hinted(text) or hint.search(text) is None
