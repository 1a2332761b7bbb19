"""The offline estimator's ASCII fast path counts exactly what the regex scan it replaced counted."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from clawback import tokens
from clawback.tokens import _CHARS_PER_TOKEN_LONG_WORD, _LONG_WORD, _ascii_total

_ALPHA_RUN = re.compile(rb"[A-Za-z]+")
_LONG_RUN = re.compile(rb"[A-Za-z]{%d,}" % (_LONG_WORD + 1))
_DIGIT = re.compile(rb"[0-9]")
_OTHER = re.compile(rb"[^A-Za-z0-9\s]")


def _regex_total(text: str) -> float:
    """The previous implementation (four regex scans), kept as the reference."""
    data = text.encode("ascii")
    long_runs = _LONG_RUN.findall(data)
    return (
        len(_ALPHA_RUN.findall(data))
        - len(long_runs)
        + sum(map(len, long_runs)) / _CHARS_PER_TOKEN_LONG_WORD
        + len(_DIGIT.findall(data))
        + data.count(b"\n")
        + data.count(b"\t")
        + len(_OTHER.findall(data))
    )


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=400))
def test_the_byte_translation_count_equals_the_regex_count(text: str) -> None:
    assert _ascii_total(text) == _regex_total(text)


def test_every_ascii_character_and_long_words() -> None:
    text = "".join(map(chr, range(128))) + " antidisestablishmentarianism x" * 3 + "\x1c\x1f\x0b\x0c\r"
    assert _ascii_total(text) == _regex_total(text)
    assert tokens.estimate_text_tokens(text) > 0
