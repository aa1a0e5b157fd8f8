"""The on-disk form of the memory of names seen: a snapshot and an append-only log of notes.

``seen.json`` holds ``{domain: {name: [sequence, record_hash]}}``; its companion ``seen.log``
holds the notes made since, one JSON line each (``[domain, name, sequence, record_hash]``). Noting
a group of names appends its lines with one ``O_APPEND`` write, so it costs as much as the group,
not as much as every name held; the memory is the snapshot with the log's notes merged over it
(the highest sequence of a name wins). When the log outgrows the snapshot it is compacted: merged
into a new snapshot (a temporary file renamed over it) and emptied.

Several processes may share the files. Appends and reads take a shared ``flock`` on the log, a
compaction an exclusive one, so no note lands between a compaction's read of the log and its
emptying. A note written by one process is never lost by another: appends from two processes both
land, and a compaction merges what the snapshot and the log hold at that moment.

Damage is survived, never trusted: a snapshot that is not JSON counts as empty (the log's notes
and later ones rebuild it), and a log line that does not parse is skipped. A write cut short (a
crash) leaves a last line without its newline; readers leave it aside, and an append that finds
the log so ended starts with a newline, so that the torn fragment stays a line of its own, skipped,
rather than spoiling the note written after it. Both files are created mode 0600. Like the whole
file written before, the notes are handed to the operating system before a note returns, not
``fsync``-ed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from minds371.config import private_dir

__all__ = ["SeenFile", "seen_file"]

#: A log smaller than this is never compacted (a few hundred notes), whatever the snapshot's size.
COMPACT_MIN_BYTES = 64 * 1024

Memory = dict[str, dict[str, list[Any]]]
_Identity = tuple[int, int, int]


class SeenFile:
    """The memory stored at ``path`` (and ``path`` with the suffix ``.log``), as of the last look.

    One instance per path in a process (:func:`seen_file`); its methods are thread-safe.

    Args:
        path: The snapshot (``seen.json``).
        compact_from: The log is compacted once it is larger than this and than the snapshot.
    """

    def __init__(self, path: Path, *, compact_from: int = COMPACT_MIN_BYTES) -> None:
        self.path = path
        self.compact_from = compact_from
        self.log_path = path.with_suffix(".log")
        self._lock = threading.Lock()
        self._fd: int | None = None  # the log, open for appending (and reading)
        self._opener = 0  # the process that opened it
        # The memory as of the last look, and what it was read from: the snapshot's identity
        # (inode, mtime, size) and how far into the log (which inode, up to which byte).
        self._data: Memory = {}
        self._snapshot: _Identity | None = None
        self._log: tuple[int, int] | None = None
        self._loaded = False

    def memory(self) -> Memory:
        """The memory, with whatever another process wrote since the last look merged in.

        Costs two ``stat`` calls when nothing changed, the new log lines when only the log grew.
        """
        with self._lock:
            # The log first: a compaction replaces the snapshot before it empties the log, so a
            # log as last read and a snapshot unchanged after it mean nothing was compacted.
            log, snapshot = _log_state(self.log_path), _identity(self.path)
            if self._loaded and snapshot == self._snapshot and log == self._log:
                return self._data
            try:
                if log is None:
                    raise FileNotFoundError(self.log_path)
                with self._shared() as fd:
                    self._catch_up(fd)
            except OSError:
                # No log (nothing to lock; the snapshot is replaced atomically), or one this
                # process may not write (a home it only reads): read both as they are.
                self._reload(None)
            return self._data

    def append(self, notes: Iterable[tuple[str, str, int, str]]) -> None:
        """Append ``(domain, name, sequence, record_hash)`` notes (one write), then maybe compact.

        The memory holds them once this returns (whatever it held before is merged in too).
        """
        lines = [_line(note) for note in notes]
        if not lines:
            return
        text = "".join(lines).encode()
        with self._lock:
            with self._shared(create=True) as fd:
                self._catch_up(fd)
                assert self._log is not None  # _catch_up read the log
                if self._log[1] != os.fstat(fd).st_size:
                    # The log does not end with a whole line: a writer crashed mid-line (or one
                    # is writing now). A newline first keeps that fragment a line of its own.
                    text = b"\n" + text
                written = os.write(fd, text)
                if written != len(text):  # a full disk: the torn rest is skipped by readers
                    raise OSError(f"the memory of names seen was cut short writing {self.log_path}")
                size = os.fstat(fd).st_size
                if size == self._log[1] + len(text):  # nothing else was written in between
                    self._log = (self._log[0], size)
                self._merge_lines(lines)
                snapshot_size = self._snapshot[2] if self._snapshot is not None else 0
            if size > max(snapshot_size, self.compact_from):
                self._compact()

    def compact(self) -> None:
        """Merge the log into a new snapshot and empty it (done by :meth:`append` as needed)."""
        with self._lock:
            self._compact()

    # -- reading ---------------------------------------------------------------------------------

    def _catch_up(self, fd: int) -> None:
        """Bring the memory up to the files; the caller holds a lock on the log (``fd``)."""
        snapshot, log = _identity(self.path), os.fstat(fd)
        if (
            self._loaded
            and snapshot == self._snapshot
            and self._log is not None
            and self._log[0] == log.st_ino
            and self._log[1] <= log.st_size
        ):
            self._read_log(fd, self._log[1], log.st_size)
        else:
            self._reload(fd)

    def _reload(self, fd: int | None) -> None:
        """Read the snapshot, then the whole log over it (``fd``, locked, or else by its path)."""
        self._data, self._snapshot = _read_snapshot(self.path)
        self._loaded = True
        self._log = None
        if fd is not None:
            stat = os.fstat(fd)
            self._log = (stat.st_ino, 0)
            self._read_log(fd, 0, stat.st_size)
            return
        try:
            with open(self.log_path, "rb") as log:
                stat = os.fstat(log.fileno())
                self._log = (stat.st_ino, 0)
                self._read_log(log.fileno(), 0, stat.st_size)
        except FileNotFoundError:
            pass
        except OSError:
            self._log = None  # unreadable: looked at again next time

    def _read_log(self, fd: int, start: int, end: int) -> None:
        """Merge the complete lines of the log between ``start`` and ``end``."""
        assert self._log is not None
        if end <= start:
            return
        chunk = os.pread(fd, end - start, start)
        complete = chunk.rfind(b"\n") + 1  # a last line without its newline is left for later
        self._log = (self._log[0], start + complete)
        self._merge_lines(chunk[:complete].decode(errors="replace").split("\n"))

    def _merge_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            note = _parse(line)
            if note is not None:
                _merge(self._data, *note)

    # -- writing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _shared(self, *, create: bool = False) -> Iterator[int]:
        with self._locked(fcntl.LOCK_SH, create=create) as fd:
            yield fd

    @contextlib.contextmanager
    def _locked(self, kind: int, *, create: bool) -> Iterator[int]:
        """The log's descriptor, locked with ``kind``; reopened if the log was replaced."""
        while True:
            fd = self._open(create=create)
            fcntl.flock(fd, kind)
            try:
                at_path = _log_state(self.log_path)  # appends may move its size meanwhile
                if at_path is not None and at_path[0] == os.fstat(fd).st_ino:
                    yield fd
                    return
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            # Deleted or replaced since it was opened (by hand): open the one at the path.
            os.close(fd)
            self._fd = None

    def _open(self, *, create: bool) -> int:
        if self._fd is not None and self._opener != os.getpid():
            # Inherited through a fork: a lock taken on the parent's open file is the parent's
            # too, so the two would not exclude each other. This process opens its own.
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._opener = os.getpid()
            flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            if create:
                private_dir(self.log_path.parent)
                flags |= os.O_CREAT
            self._fd = os.open(self.log_path, flags, 0o600)
            if os.fstat(self._fd).st_mode & 0o777 != 0o600:
                os.fchmod(self._fd, 0o600)
        return self._fd

    def _compact(self) -> None:
        """Write the snapshot and log merged as the new snapshot; empty the log (caller locks)."""
        with self._locked(fcntl.LOCK_EX, create=True) as fd:
            self._reload(fd)  # everything, as of now: nobody appends while this holds the lock
            text = json.dumps(self._data, sort_keys=True)
            self._snapshot = _replace(self.path, text)
            os.ftruncate(fd, 0)
            self._log = (os.fstat(fd).st_ino, 0)


_files: dict[Path, SeenFile] = {}
_files_lock = threading.Lock()


def seen_file(path: Path) -> SeenFile:
    """The process's one :class:`SeenFile` of ``path`` (every registry on it shares the look)."""
    with _files_lock:
        found = _files.get(path)
        if found is None:
            found = _files[path] = SeenFile(path)
        return found


def _merge(data: Memory, domain: str, name: str, sequence: int, record_hash: str) -> bool:
    """Note ``name`` at ``sequence`` unless as high a sequence is held; whether it changed."""
    names = data.get(domain)
    if not isinstance(names, dict):
        names = data[domain] = {}
    seen = names.get(name)
    if isinstance(seen, list) and len(seen) == 2 and isinstance(seen[0], int):
        if seen[0] >= sequence:
            return False
    names[name] = [sequence, record_hash]
    return True


def _line(note: tuple[str, str, int, str]) -> str:
    return json.dumps(list(note), separators=(",", ":")) + "\n"


def _parse(line: str) -> tuple[str, str, int, str] | None:
    """A note of the log, or None for an empty, torn or damaged line."""
    if not line:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not (isinstance(value, list) and len(value) == 4):
        return None
    domain, name, sequence, record_hash = value
    if (
        isinstance(domain, str)
        and isinstance(name, str)
        and type(sequence) is int
        and isinstance(record_hash, str)
    ):
        return domain, name, sequence, record_hash
    return None


def _read_snapshot(path: Path) -> tuple[Memory, _Identity | None]:
    try:
        identity = _identity(path)
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        # Missing, or damaged: a damaged memory protects nothing, and is rebuilt from the log
        # and what is verified next (at the next compaction).
        return {}, _identity(path)
    if not isinstance(data, dict):
        return {}, identity
    return data, identity


def _replace(path: Path, text: str) -> _Identity:
    """Replace ``path`` with ``text`` (mode 0600); return its new identity."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".seen-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as out:  # mkstemp creates it 0600
            out.write(text)
        identity = _identity(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    assert identity is not None
    return identity


def _identity(path: Path) -> _Identity | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _log_state(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size
