"""Reading eval datasets and ledger samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clawback.errors import InputFileError, UsageError
from clawback.routing.samples import labels_of, read_dataset, sample_from_record, take_sample


def _write(tmp_path: Path, lines: list[object]) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n")
    return path


REQ = {"messages": [{"role": "user", "content": "hi"}]}


def test_both_line_shapes(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {"id": 1, "request": REQ, "label": "a"},
            {"custom_id": "x", "params": REQ, "label": "b", "labels": ["a", "b", "c"]},
        ],
    )
    samples = read_dataset(path, "label")
    assert [s.id for s in samples] == ["1", "x"]
    assert samples[0].body["max_tokens"] == 1024
    assert labels_of(samples) == frozenset({"a", "b", "c"})
    assert labels_of(samples[:1]) == frozenset({"a"})


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "line 1 is not valid JSON"),
        ({"id": 1}, "expected a 'request'"),
        ({"id": 1, "request": {"messages": []}, "label": "a"}, "non-empty 'messages'"),
        ({"id": 1, "request": REQ}, "no ground-truth field 'label'"),
        ({"id": [1], "request": REQ, "label": "a"}, "id"),
    ],
)
def test_bad_lines(tmp_path: Path, line: object, fragment: str) -> None:
    with pytest.raises(InputFileError, match=fragment.replace("(", r"\(")):
        read_dataset(_write(tmp_path, [line]), "label")


def test_duplicate_ids_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="more than once"):
        read_dataset(_write(tmp_path, [{"id": 1, "request": REQ}, {"id": 1, "request": REQ}]))
    with pytest.raises(InputFileError, match="no samples"):
        read_dataset(_write(tmp_path, [""]))
    with pytest.raises(InputFileError, match="cannot read"):
        read_dataset(tmp_path / "missing.jsonl")


def test_seeded_sample(tmp_path: Path) -> None:
    samples = read_dataset(_write(tmp_path, [{"id": i, "request": REQ} for i in range(50)]))
    a = take_sample(samples, 10, seed=1)
    assert a == take_sample(samples, 10, seed=1)
    assert a != take_sample(samples, 10, seed=2)
    assert take_sample(samples, None, 0) == samples
    with pytest.raises(UsageError):
        take_sample(samples, 0, 0)


def test_ledger_sample_forms() -> None:
    plain = sample_from_record("r1", "where is my card?")
    assert plain.body["messages"] == [{"role": "user", "content": "where is my card?"}]
    structured = sample_from_record(
        "r2", json.dumps({"request": {"system": "s", "messages": [{"role": "user", "content": "x"}]}})
    )
    assert structured.body["system"] == "s"
