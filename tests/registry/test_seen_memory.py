"""The memory of names seen on disk: a snapshot (seen.json) and the log of notes made since."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from minds371.errors import SignatureError
from minds371_registry import RecordDomain
from minds371_registry._seen_file import SeenFile
from minds371_registry.seen import SeenSequences

from .conftest import REPO

DOMAIN = RecordDomain()
KEY = "0x" + DOMAIN.separator().hex()
H = {n: "0x" + f"{n:02x}" * 32 for n in range(256)}


def _reader(path: Path) -> SeenSequences:
    """A reader that looks at the files afresh, as another process does."""

    class Fresh(SeenSequences):
        @property
        def _file(self) -> SeenFile:
            return SeenFile(self.path)

    return Fresh(path)


def test_notes_go_to_the_log_and_a_compaction_folds_them_into_the_snapshot(tmp_path: Path):
    path = tmp_path / "registry" / "seen.json"
    memory = SeenFile(path, compact_from=4096)
    for group in range(40):  # 200 notes, about 100 bytes each: compacted along the way
        memory.append([(KEY, f"svc-{group}-{i}", 1, H[i]) for i in range(5)])
    memory.append([(KEY, "svc-0-0", 2, H[9])])
    log = path.with_suffix(".log")
    snapshot = json.loads(path.read_text())
    assert len(snapshot[KEY]) >= 150  # folded in at least once
    assert log.stat().st_size <= max(4096, path.stat().st_size)  # emptied since
    reader = _reader(path)
    assert reader.lookup(DOMAIN, "svc-39-4") == (1, H[4])
    assert reader.lookup(DOMAIN, "svc-0-0") == (2, H[9])
    # Compacted now, everything is in the snapshot and the log is empty.
    memory.compact()
    assert log.stat().st_size == 0
    assert len(json.loads(path.read_text())[KEY]) == 200
    assert json.loads(path.read_text())[KEY]["svc-0-0"] == [2, H[9]]
    assert _reader(path).lookup(DOMAIN, "svc-17-3") == (1, H[3])


def test_files_are_private_whatever_the_umask_or_an_earlier_mode(tmp_path: Path):
    path = tmp_path / "seen.json"
    log = path.with_suffix(".log")
    log.write_text("")
    log.chmod(0o644)  # made by hand, say
    old = os.umask(0)
    try:
        memory = SeenFile(path)
        memory.append([(KEY, "web", 1, H[1])])
        assert log.stat().st_mode & 0o777 == 0o600
        memory.compact()
        assert path.stat().st_mode & 0o777 == 0o600
        fresh = tmp_path / "other" / "seen.json"
        SeenFile(fresh).append([(KEY, "web", 1, H[1])])
        assert fresh.with_suffix(".log").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_rollback_is_still_refused_after_a_compaction(tmp_path: Path):
    path = tmp_path / "seen.json"
    memory = SeenSequences(path)
    memory.remember(DOMAIN, "web", 5, H[5])
    SeenFile(path).compact()
    assert path.with_suffix(".log").stat().st_size == 0
    reader = _reader(path)
    with pytest.raises(SignatureError, match="#5 was seen before: the ledger was rolled back"):
        reader.check(DOMAIN, "web", 3, H[3])
    with pytest.raises(SignatureError, match="history was rewritten"):
        reader.check(DOMAIN, "web", 5, H[6])
    reader.check(DOMAIN, "web", 6, H[6])


def test_a_torn_last_line_is_skipped_and_spoils_no_later_note(tmp_path: Path):
    path = tmp_path / "seen.json"
    log = path.with_suffix(".log")
    SeenFile(path).append([(KEY, "web", 2, H[2])])
    with log.open("a") as out:  # a write cut short by a crash: no newline, half a note
        out.write(json.dumps([KEY, "api", 7, H[7]])[:30])
    reader = _reader(path)
    assert reader.lookup(DOMAIN, "web") == (2, H[2])
    assert reader.lookup(DOMAIN, "api") is None  # never trusted
    # The next note, appended after the fragment, is read whole.
    SeenFile(path).append([(KEY, "db", 1, H[1])])
    assert _reader(path).lookup(DOMAIN, "db") == (1, H[1])
    assert _reader(path).lookup(DOMAIN, "web") == (2, H[2])
    # A reader that saw the fragment before the note reads the note too.
    assert reader.lookup(DOMAIN, "db") == (1, H[1])


def test_a_damaged_memory_is_rebuilt_not_trusted(tmp_path: Path):
    path = tmp_path / "seen.json"
    path.write_text('{"not": json')
    log = path.with_suffix(".log")
    log.write_text(
        "\n".join(
            [
                json.dumps([KEY, "web", 3, H[3]]),
                "garbage",
                json.dumps([KEY, "api", "one", H[1]]),  # not a sequence
                json.dumps([KEY, "db", 1, H[1]]),
            ]
        )
        + "\n"
    )
    memory = SeenSequences(path)
    assert memory.lookup(DOMAIN, "web") == (3, H[3])
    assert memory.lookup(DOMAIN, "api") is None
    memory.remember(DOMAIN, "cache", 1, H[1])
    SeenFile(path).compact()
    assert json.loads(path.read_text()) == {
        KEY: {"web": [3, H[3]], "db": [1, H[1]], "cache": [1, H[1]]}
    }


def test_an_existing_snapshot_of_the_older_format_keeps_working(tmp_path: Path):
    path = tmp_path / "seen.json"
    path.write_text(json.dumps({KEY: {"web": [4, H[4]]}}, sort_keys=True))
    path.chmod(0o600)
    memory = SeenSequences(path)
    with pytest.raises(SignatureError, match="rolled back"):
        memory.check(DOMAIN, "web", 3, H[3])
    memory.remember(DOMAIN, "api", 1, H[1])
    memory.remember(DOMAIN, "web", 2, H[2])  # lower: not noted
    assert _reader(path).lookup(DOMAIN, "web") == (4, H[4])
    assert _reader(path).lookup(DOMAIN, "api") == (1, H[1])
    assert path.with_suffix(".log").read_text().count("\n") == 1  # one note, one line


LAST = 1000

_NOTER = """
import sys
import warnings
from pathlib import Path

from minds371_registry._seen_file import SeenFile

path, parity, key = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
memory = SeenFile(path, compact_from=2048)  # compacted every few dozen notes
print("ready", flush=True)
sys.stdin.readline()  # both start together
for sequence in range(1 + parity, LAST + 1, 2):
    memory.append(
        [(key, "web", sequence, f"0x{sequence:064x}"), (key, f"own-{parity}-{sequence}", 1, "0x")]
    )
"""


def test_two_processes_noting_the_same_name_lose_nothing(tmp_path: Path):
    # One notes web at the odd sequences, the other at the even ones, each with a name of its
    # own per note, both compacting as they go: neither loses what the other wrote.
    path = tmp_path / "seen.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    noter = _NOTER.replace("LAST", str(LAST))
    with contextlib.ExitStack() as stack:
        children = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-c", noter, str(path), str(parity), KEY],
                    env=env,
                    cwd=REPO,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            for parity in (0, 1)
        ]
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.close()
        assert [child.wait(timeout=60) for child in children] == [0, 0]
    reader = _reader(path)
    assert reader.lookup(DOMAIN, "web") == (LAST, f"0x{LAST:064x}")
    missing = [
        (parity, sequence)
        for parity in (0, 1)
        for sequence in range(1 + parity, LAST + 1, 2)
        if reader.lookup(DOMAIN, f"own-{parity}-{sequence}") is None
    ]
    assert missing == []
    SeenFile(path).compact()
    assert len(json.loads(path.read_text())[KEY]) == LAST + 1


def test_a_forked_child_notes_through_its_own_open_log(tmp_path: Path):
    # A lock on an open file inherited through fork is shared with the parent: the child must
    # open the log itself, or its compaction would not keep the parent's appends out (and its
    # unlocking would drop the parent's lock).
    path = tmp_path / "seen.json"
    memory = SeenFile(path)
    memory.append([(KEY, "web", 1, H[1])])
    assert memory._fd is not None
    fcntl.flock(memory._fd, fcntl.LOCK_SH)  # the parent, appending meanwhile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads about
        pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            memory.append([(KEY, "api", 1, H[1])])
            assert memory._fd is not None
            try:
                fcntl.flock(memory._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                code = 3  # the parent's lock did not keep it out
            except BlockingIOError:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    fcntl.flock(memory._fd, fcntl.LOCK_UN)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _reader(path).lookup(DOMAIN, "api") == (1, H[1])
