"""``private_file`` makes a file private without opening it, so no SQLite lock is dropped.

POSIX record locks (SQLite's) belong to the process and go away when the process closes any
descriptor of the file: a helper that opened and closed a database to set its mode would hand
another process a database this process believes it has locked.
"""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from minds371.config import private_file

WRITE = "import sqlite3, sys; sqlite3.connect(sys.argv[1], timeout=0).execute('CREATE TABLE t (a)')"


def test_a_lock_this_process_holds_survives_making_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        private_file(path)
        other = subprocess.run(
            [sys.executable, "-c", WRITE, str(path)], capture_output=True, text=True, check=False
        )
        assert other.returncode != 0
        assert "database is locked" in other.stderr
    finally:
        holder.close()


def test_a_missing_file_is_made_empty_and_private_and_an_existing_one_made_private(
    tmp_path: Path,
) -> None:
    made = private_file(tmp_path / "new" / "file")
    assert made.read_bytes() == b""
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.parent.stat().st_mode) == 0o700
    existing = tmp_path / "existing"
    existing.write_text("kept")
    existing.chmod(0o644)
    private_file(existing, 0o700)
    assert existing.read_text() == "kept"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o700
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        private_file(tmp_path)


@pytest.mark.parametrize(("durable", "flushes"), [(True, 2), (False, 0)])
def test_write_private_flushes_file_and_folder_only_when_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, flushes: int
) -> None:
    import os

    from minds371.config import write_private

    flushed: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        flushed.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    path = tmp_path / "out" / "script.sh"
    write_private(path, "old", mode=0o700)
    flushed.clear()
    write_private(path, "#!/bin/sh\n", mode=0o700, durable=durable)
    assert len(flushed) == flushes
    assert path.read_text() == "#!/bin/sh\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["script.sh"]  # no temporary file left
