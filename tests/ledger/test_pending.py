"""Pending files: appended, read back in order, emptied; never a partial line."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clawback.ledger.pending import PendingFile, replay_pending
from tests.ledger.factories import make_record


def test_append_read_mark_reset_close(tmp_path: Path) -> None:
    pending = PendingFile(tmp_path, "l.db")
    records = [make_record(i) for i in range(5)]
    pending.append(records[:3])
    pending.append(records[3:])
    assert pending.path is not None and pending.path.name.startswith("l.db.pending-")
    got, offset = pending.read(limit=4)
    assert got == records[:4]
    pending.mark_written(offset, len(got))
    assert not pending.empty and pending.count == 1
    got, offset = pending.read(limit=10)
    assert got == records[4:]
    pending.mark_written(offset, 1)
    assert pending.empty
    pending.reset()
    assert pending.path.stat().st_size == 0
    pending.close()
    assert not pending.path.exists()


def test_a_write_cut_short_leaves_no_partial_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pending = PendingFile(tmp_path, "l.db")
    first, cut, last = make_record(0), make_record(1), make_record(2)
    pending.append([first])
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 20:
            real_write(fd, bytes(data[:20]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("clawback.ledger.pending.os.write", half_then_full)
    with pytest.raises(OSError, match="No space"):
        pending.append([cut])
    monkeypatch.setattr("clawback.ledger.pending.os.write", real_write)
    pending.append([last])
    got, _ = pending.read(limit=10)
    assert got == [first, last]
    assert pending.count == 2
    pending.close()


def test_a_file_whose_writer_is_alive_in_another_process_is_not_replayed(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; "
        "from clawback.ledger.pending import PendingFile; "
        "from tests.ledger.factories import make_record; "
        f"p = PendingFile(Path({str(tmp_path)!r}), 'l.db'); p.append([make_record(0)]); "
        "print('ready', flush=True); sys.stdin.readline()"
    )
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=repo
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        written: list[object] = []
        assert replay_pending(tmp_path, "l.db", written.extend).files == 0
        assert written == []
    finally:
        child.communicate("\n", timeout=30)
    result = replay_pending(tmp_path, "l.db", written.extend)
    assert result.files == 1 and len(written) == 1
    assert not list(tmp_path.glob("l.db.pending-*"))
