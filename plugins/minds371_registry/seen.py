"""A reader's memory of the newest record it has seen of each name, kept across runs.

A signed ledger head shows rows cut from a ledger, but not a whole ledger file put back to an older
copy (head and all). A client that remembers the highest sequence it has verified per name, and
the record's digest, notices that: a later read that finds an older sequence (or the same sequence
with another digest) is refused as a rollback (or fork). The memory is a small JSON file under the
home, ``registry/seen.json`` (mode 0600), keyed by the ledger's EIP-712 domain so that two ledgers
never mix; several processes may share it (each write merges with what is on disk, keeping the
highest sequence).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from minds371.config import private_dir
from minds371.errors import SignatureError
from minds371_registry.records import RecordDomain

__all__ = ["SeenSequences", "check_seen"]

_files: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}


class _Pending:
    """A file's memory while this process has notes not yet on disk (``remember_durably``).

    ``data`` is the whole memory, newer than the file, until a write of its latest note
    (``noted``) lands (``written``); then the file is read as usual again.
    """

    __slots__ = ("data", "lock", "noted", "written")

    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None
        self.lock: anyio.Lock | None = None
        self.noted = 0
        self.written = 0


_pending: dict[str, _Pending] = {}


class SeenSequences:
    """The highest sequence (and its record's digest) seen per name, per ledger domain.

    Args:
        path: The JSON file (created on the first write, mode 0600).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    # The file as last read or written in this process, and its identity then (inode, mtime,
    # size), shared by every instance on the same path (each registration opens a registry): a
    # register looks a name up and remembers it, and parsing the whole file each time costs as
    # much as the names it holds. Any write (ours, another process's, an edit) changes the
    # identity, and the file is read again.
    @property
    def _cached(self) -> tuple[tuple[int, int, int], dict[str, Any]] | None:
        return _files.get(str(self.path))

    @_cached.setter
    def _cached(self, value: tuple[tuple[int, int, int], dict[str, Any]] | None) -> None:
        if value is None:
            _files.pop(str(self.path), None)
        else:
            _files[str(self.path)] = value

    def _load(self) -> dict[str, Any]:
        pending = _pending.get(str(self.path))
        if pending is not None and pending.data is not None:
            return pending.data  # newer than the file until the coming write
        try:
            identity = _identity(self.path)
            if self._cached is not None and self._cached[0] == identity:
                return self._cached[1]
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            self._cached = None
            return {}
        except (OSError, ValueError):
            # A damaged memory protects nothing; it is rewritten from what is verified next.
            self._cached = None
            return {}
        if not isinstance(data, dict):
            self._cached = None
            return {}
        self._cached = (identity, data)
        return data

    def lookup(self, domain: RecordDomain, name: str) -> tuple[int, str] | None:
        """The highest sequence seen of ``name`` and its record's digest, if any was."""
        seen = self._load().get(_key(domain), {}).get(name)
        if not isinstance(seen, list) or len(seen) != 2:
            return None
        return int(seen[0]), str(seen[1])

    def check(self, domain: RecordDomain, name: str, sequence: int, record_hash: str) -> None:
        """Refuse ``name``'s latest record if an earlier read saw a newer (or another) one.

        Raises:
            SignatureError: see :func:`check_seen`.
        """
        check_seen(name, sequence, record_hash, self.lookup(domain, name))

    def remember(self, domain: RecordDomain, name: str, sequence: int, record_hash: str) -> None:
        """Note ``name``'s record ``sequence`` as seen, unless a higher one already was."""
        data = self._load()
        names = data.setdefault(_key(domain), {})
        seen = names.get(name)
        if isinstance(seen, list) and len(seen) == 2 and int(seen[0]) >= sequence:
            return
        names[name] = [sequence, record_hash]
        self._cached = None  # `data` is changed from here on: the file must be read again
        pending = _pending.get(str(self.path))
        if pending is not None and pending.data is not None:
            # `data` is the pending memory: an asynchronous write may be under way with an
            # older text, so the note stays pending too, for the next one.
            pending.noted += 1
            self._write(json.dumps(data, sort_keys=True))
            return
        self._cached = (self._write(json.dumps(data, sort_keys=True)), data)

    async def remember_durably(
        self, domain: RecordDomain, name: str, sequence: int, record_hash: str
    ) -> None:
        """:meth:`remember`, with the concurrent notes of one process written together.

        Returns, as :meth:`remember` does, once the note is on disk. Notes made while a write is
        under way (in a worker thread) wait for it and go to disk in the next one: a burst of
        registrations rewrites the file a few times instead of once per record, since the file
        holds every name and costs as much to write as the names it holds.
        """
        await self.remember_all_durably(domain, [(name, sequence, record_hash)])

    async def remember_all_durably(
        self, domain: RecordDomain, notes: Iterable[tuple[str, int, str]]
    ) -> None:
        """:meth:`remember_durably` of several ``(name, sequence, record_hash)`` notes at once.

        A group of registrations appended together is noted with one write of the file.
        """
        data = self._load()
        names = data.setdefault(_key(domain), {})
        changed = False
        for name, sequence, record_hash in notes:
            seen = names.get(name)
            if isinstance(seen, list) and len(seen) == 2 and int(seen[0]) >= sequence:
                continue
            names[name] = [sequence, record_hash]
            changed = True
        if not changed:
            return
        pending = _pending.setdefault(str(self.path), _Pending())
        pending.data = data  # reads in this process see the note from now on
        pending.noted += 1
        mine = pending.noted
        self._cached = None
        if pending.lock is None:
            pending.lock = anyio.Lock()
        async with pending.lock:
            if pending.written >= mine:
                return  # a write that began after the note carried it
            current = pending.data  # kept until every note is written, so never None here
            assert current is not None
            # Serialized on the loop, where nothing changes the memory meanwhile.
            text, upto = json.dumps(current, sort_keys=True), pending.noted
            identity = await anyio.to_thread.run_sync(self._write, text)
            pending.written = upto
            if pending.noted == upto:  # nothing noted since: the file is the memory again
                pending.data = None
                self._cached = (identity, current)

    def _write(self, text: str) -> tuple[int, int, int]:
        """Replace the file with ``text`` (mode 0600); return its new identity."""
        private_dir(self.path.parent)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".seen-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as out:  # mkstemp creates it 0600
                # One write of the whole text: json.dump writes every token on its own.
                out.write(text)
            identity = _identity(Path(tmp))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return identity


def check_seen(name: str, sequence: int, record_hash: str, seen: tuple[int, str] | None) -> None:
    """Refuse ``name``'s latest record ``sequence`` if ``seen`` (what was seen before) is newer.

    Read ``seen`` before the record: a record appended in between is then newer, never older.

    Raises:
        SignatureError: a rollback (a lower sequence than seen) or a fork (the same sequence
            with another digest).
    """
    if seen is None:
        return
    seen_sequence, seen_hash = seen
    details = {"name": name, "sequence": sequence, "seen_sequence": seen_sequence}
    if sequence < seen_sequence:
        raise SignatureError(
            f"the ledger's latest record of {name!r} is #{sequence}, but #{seen_sequence} was "
            "seen before: the ledger was rolled back",
            details=details,
        )
    if sequence == seen_sequence and record_hash != seen_hash:
        raise SignatureError(
            f"record {name}#{sequence} is not the one seen before under that sequence: "
            "the ledger's history was rewritten",
            details=details,
        )


def _identity(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _key(domain: RecordDomain) -> str:
    return "0x" + domain.separator().hex()
