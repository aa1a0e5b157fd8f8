"""A reader's memory of the newest record it has seen of each name, kept across runs.

A signed ledger head shows rows cut from a ledger, but not a whole ledger file put back to an older
copy (head and all). A client that remembers the highest sequence it has verified per name, and
the record's digest, notices that: a later read that finds an older sequence (or the same sequence
with another digest) is refused as a rollback (or fork). The memory is a small JSON file under the
home, ``registry/seen.json`` (mode 0600), keyed by the ledger's EIP-712 domain so that two ledgers
never mix. Noting a name appends a line to a companion log (``registry/seen.log``), so it costs as
much as the names noted, not as much as every name held; the log is folded into ``seen.json`` when
it outgrows it. Several processes may share both files, and none loses a note another wrote (see
:mod:`minds371_registry._seen_file`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import anyio.lowlevel

from minds371.errors import SignatureError
from minds371_registry._seen_file import SeenFile, seen_file
from minds371_registry.records import RecordDomain

__all__ = ["SeenSequences", "check_seen"]


class SeenSequences:
    """The highest sequence (and its record's digest) seen per name, per ledger domain.

    Args:
        path: The JSON file (created mode 0600 when the log is first compacted into it); its
            log is beside it, with the suffix ``.log`` (created mode 0600 by the first note).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def _file(self) -> SeenFile:
        # Shared by every instance on the same path (each registration may open a registry):
        # the files are read once, then only what another process added since.
        return seen_file(self.path)

    def lookup(self, domain: RecordDomain, name: str) -> tuple[int, str] | None:
        """The highest sequence seen of ``name`` and its record's digest, if any was."""
        names = self._file.memory().get(_key(domain))
        seen = names.get(name) if isinstance(names, dict) else None
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
        """Note ``name``'s record ``sequence`` as seen, unless a higher one already was.

        Returns once the note is written (to the log, with one ``O_APPEND`` write).
        """
        self.remember_all(domain, [(name, sequence, record_hash)])

    def remember_all(self, domain: RecordDomain, notes: Iterable[tuple[str, int, str]]) -> None:
        """:meth:`remember` of several ``(name, sequence, record_hash)`` notes, with one write."""
        key = _key(domain)
        names = self._file.memory().get(key)
        if not isinstance(names, dict):
            names = {}
        fresh = []
        for name, sequence, record_hash in notes:
            seen = names.get(name)
            if isinstance(seen, list) and len(seen) == 2 and int(seen[0]) >= sequence:
                continue
            fresh.append((key, name, sequence, record_hash))
        self._file.append(fresh)

    async def remember_durably(
        self, domain: RecordDomain, name: str, sequence: int, record_hash: str
    ) -> None:
        """:meth:`remember`, for a caller on an event loop (see :meth:`remember_all_durably`)."""
        await self.remember_all_durably(domain, [(name, sequence, record_hash)])

    async def remember_all_durably(
        self, domain: RecordDomain, notes: Iterable[tuple[str, int, str]]
    ) -> None:
        """:meth:`remember_all`: a group of registrations appended together is noted at once.

        The write is one append of the group's lines, made on the loop: it costs about what a
        hand-off to a worker thread would. Once in a while (the log outgrew the snapshot) it
        also compacts the log, which costs as much as the names held. A checkpoint after the
        write, as an awaited write in a worker thread was: a cancelled caller hears of it once
        its notes are on disk.
        """
        self.remember_all(domain, notes)
        await anyio.lowlevel.checkpoint()


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


def _key(domain: RecordDomain) -> str:
    return "0x" + domain.separator().hex()
