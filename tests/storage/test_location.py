"""Store locations: paths, URLs and masked passwords (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawback.errors import UsageError
from clawback.storage.location import mask_url, parse_location


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:s3cret@db:5432/x", "postgresql://u:***@db:5432/x"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
        ("postgres://db/x?password=s3cret&sslmode=require", "postgres://db/x?password=***&sslmode=require"),
        ("postgresql://u:p%40ss@db/x", "postgresql://u:***@db/x"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_postgres_locations_hide_their_password() -> None:
    loc = parse_location("postgresql://u:s3cret@db/x?password=other")
    assert loc.kind == "postgres"
    assert "s3cret" not in loc.display and "other" not in loc.display
    assert loc.target.startswith("postgresql://u:s3cret@")
    assert loc.scrub("failed for s3cret and other") == "failed for *** and ***"
    assert loc.key() == parse_location("postgresql://u:different@db/x?password=x").key()


@pytest.mark.parametrize("text", ["ledger.sqlite3", "/var/lib/clawback/l.db", "~/l.db"])
def test_paths_are_sqlite(text: str) -> None:
    loc = parse_location(text)
    assert loc.kind == "sqlite"
    assert "~" not in loc.target


def test_sqlite_urls_and_path_objects() -> None:
    assert parse_location("sqlite:///tmp/x.db").path == Path("/tmp/x.db")
    assert parse_location(Path("/tmp/y.db")).target == "/tmp/y.db"
    with pytest.raises(UsageError, match="absolute"):
        parse_location("sqlite://relative.db")


@pytest.mark.parametrize("text", ["mysql://u:s3cret@h/x", "http://h/x", "   "])
def test_unsupported_locations_are_usage_errors_without_the_password(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_location(text)
    assert "s3cret" not in str(info.value)
