"""Reading price catalogues from disk: the bundled file plus the user's own overrides.

Precedence, later wins: the bundled ``data/catalogue.toml``; each file named in ``CLAWBACK_PRICES``
(separated by ``os.pathsep``); each file passed explicitly. Files are TOML or JSON with the bundled
file's schema; see ``docs/prices.md``.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clawback.errors import CatalogueError
from clawback.pricing.catalogue import Catalogue, build_catalogue

__all__ = ["BUNDLED_NAME", "load_catalogue", "price_files_from_env"]

BUNDLED_NAME = "clawback/pricing/data/catalogue.toml"


@functools.cache
def _bundled() -> dict[str, Any]:
    beside = Path(__file__).with_name("data") / "catalogue.toml"
    if beside.is_file():  # an installed or checked-out package: no need to load importlib.resources
        text = beside.read_text("utf-8")
    else:  # pragma: no cover - a package imported from a zip file
        from importlib import resources

        text = resources.files("clawback.pricing").joinpath("data/catalogue.toml").read_text("utf-8")
    return tomllib.loads(text)


def price_files_from_env(env: Mapping[str, str]) -> list[Path]:
    """The override files named by ``CLAWBACK_PRICES`` in ``env``."""
    raw = env.get("CLAWBACK_PRICES", "")
    return [Path(part) for part in raw.split(os.pathsep) if part.strip()]


def load_catalogue(files: Sequence[str | Path] = (), *, env: Mapping[str, str] | None = None) -> Catalogue:
    """The bundled catalogue overridden by ``CLAWBACK_PRICES`` files, then by ``files``."""
    paths = [*price_files_from_env(env or {}), *(Path(f) for f in files)]
    if not paths:
        return _default()
    documents: list[tuple[str, Mapping[str, Any]]] = [(BUNDLED_NAME, _bundled())]
    documents.extend((str(path), _read(path)) for path in paths)
    return build_catalogue(documents)


@functools.cache
def _default() -> Catalogue:
    return build_catalogue([(BUNDLED_NAME, _bundled())])


def _read(path: Path) -> Mapping[str, Any]:
    from clawback.safe_input import read_document

    data = read_document(path, f"price file {path}")
    if not isinstance(data, dict):
        raise CatalogueError(f"price file {path}: expected a table with a 'models' list")
    return data
