"""Every Python snippet of the README (and of the client and ledger docs) runs as written, against the emulator.

Each block runs in a fresh namespace, in an empty working directory, with ``ANTHROPIC_BASE_URL``
pointing at an emulator and ``ANTHROPIC_API_KEY`` set, as a user following the docs would have them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from clawback.emulator.testing import TEST_KEY, emulator_client

REPO = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/client.md", "docs/ledger.md")


def _snippets() -> list[tuple[str, str]]:
    out = []
    for name in DOCS:
        text = (REPO / name).read_text("utf-8")
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)):
            out.append((f"{name}#{i + 1}", block))
    return out


SNIPPETS = _snippets()


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with emulator_client() as session:
        yield session.base_url


@pytest.mark.parametrize(("where", "code"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_snippet_runs_as_written(
    where: str, code: str, api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api)
    monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEY)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(code, where, "exec"), namespace)  # the docs' own code, as a reader runs it
    client = namespace.get("client")
    if client is not None and hasattr(client, "close"):
        client.close()


def test_the_readme_has_its_snippets() -> None:
    readme = [w for w, _ in SNIPPETS if w.startswith("README")]
    assert len(readme) >= 2
    assert any("from clawback import Anthropic" in code for _, code in SNIPPETS)
