"""The embedded ledger: an append-only SQLite file in which every entry hashes the one before it.

Each row holds the signed record's canonical JSON, its EIP-712 digest, and ``entry_hash =
sha256(prev_entry_hash | position | record_hash | record JSON)``, where ``prev_entry_hash`` is the
previous row's ``entry_hash``. Reading re-computes both hashes and checks the link to the row
before, so an edited record, a removed or reordered row, or a row inserted in the middle is reported
as a :class:`~minds371.errors.LedgerError` naming its position. Someone able to write the file can
re-compute these hashes, which is why readers also check every record's signature: the chain finds
accidents and clumsy edits, the signatures find forgeries. The ``name`` and ``sequence`` columns
(the index readers look records up by) are covered by neither, so every read checks them against
the record itself. Removing a name's newest rows and re-hashing the rest is caught by the signed
ledger head (:mod:`minds371_registry.head`) kept in the ``meta`` table; what no local file can show
is the whole file put back to an older copy, which the readers' memory of sequences seen and an
EVM ledger are for.

SQLite runs in WAL mode. Writes and long reads go through one worker thread at a time; the short
indexed read behind ``latest`` and ``history(limit=...)`` runs inline on a second, read-only
connection, because a thread hop costs more than the query and WAL readers never wait for writers.
"""

from __future__ import annotations

import hashlib
import shlex
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, Self

import anyio
import anyio.to_thread
import pydantic

from minds371.config import home, private_file
from minds371.errors import ConfigurationError, LedgerError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_registry._sqlite import use_wal
from minds371_registry.ledger._protocol import LedgerEntry
from minds371_registry.records import (
    EMPTY_HASH,
    DeploymentRecord,
    RecordDomain,
    record_digest,
)

__all__ = ["GENESIS_HASH", "LocalLedger", "entry_hash"]

#: Makes a new signed head from the stored one (JSON), the entry count and the entries appended;
#: returns its JSON and its id (its signature: short, and unique to that head).
HeadUpdate = Callable[[str | None, int, list[LedgerEntry]], tuple[str, str]]

#: ``prev_entry_hash`` of the ledger's first entry.
GENESIS_HASH = "00" * 32

_log = get_logger("minds371.registry.ledger")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    position INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    record TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    prev_entry_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    appended_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_name_sequence ON entries (name, sequence);
CREATE INDEX IF NOT EXISTS entries_name_position ON entries (name, position);
"""
_COLUMNS = "position, record, record_hash, prev_entry_hash, entry_hash, name, sequence"
_BATCH = 2000
_INLINE_LIMIT = 16


def entry_hash(prev_entry_hash: str, position: int, record_hash: str, record_json: str) -> str:
    """The hash-chain link of one entry (hex)."""
    material = f"{prev_entry_hash}|{position}|{record_hash}|{record_json}".encode()
    return hashlib.sha256(material).hexdigest()


class LocalLedger(AsyncResource):
    """A hash-chained, append-only ledger in one SQLite file.

    Args:
        path: The database file (default ``$MINDS371_HOME/registry/ledger.sqlite3``).
        domain: The EIP-712 domain of its records (default: chain id 0, no contract).

    Raises:
        ConfigurationError: (on first use) if the file was created for another domain.
    """

    def __init__(self, path: Path | None = None, *, domain: RecordDomain | None = None) -> None:
        self.path = path if path is not None else home() / "registry" / "ledger.sqlite3"
        self._domain = domain or RecordDomain()
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._limiter = anyio.CapacityLimiter(1)

    @property
    def domain(self) -> RecordDomain:
        """The EIP-712 domain of this ledger's records."""
        return self._domain

    @property
    def kind(self) -> str:
        """``local``."""
        return "local"

    @property
    def anchored(self) -> bool:
        """False: a file can be cut, so readers check a signed head (see ``read_head``)."""
        return False

    async def __aenter__(self) -> Self:
        await self._run(self._connect)
        return self

    async def aclose(self) -> None:
        """Close the database connection."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)

    async def _run(self, func: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            _private_database(self.path)  # SQLite's -wal and -shm take the database's mode
        except OSError as exc:  # a folder in its place, no permission, a read-only disk
            raise LedgerError(
                f"cannot open the ledger at {self.path}: {exc.strerror or exc}",
                details={"path": str(self.path)},
            ) from exc
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=5000")
            use_wal(conn)
            conn.executescript(_SCHEMA)
            # Several processes (or runtimes' tasks) may open a new ledger at once: the first
            # domain written wins, and every opener then checks it holds its own. Read first:
            # once it is written, opening the ledger takes no write lock, so a burst of
            # registrations (each opens the ledger) does not queue behind appends to open it.
            domain_json = self._domain.model_dump_json()
            stored = conn.execute("SELECT value FROM meta WHERE key = 'domain'").fetchone()
            if stored is None:
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('domain', ?)", (domain_json,)
                )
                stored = conn.execute("SELECT value FROM meta WHERE key = 'domain'").fetchone()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from exc
        if stored[0] != domain_json:
            conn.close()
            raise _other_domain(self.path, stored[0], self._domain)
        self._conn = conn
        return conn

    # -- writing ---------------------------------------------------------------------------------

    async def append(self, record: DeploymentRecord) -> LedgerEntry:
        """Append the next record of its name (see :class:`~minds371_registry.ledger.Ledger`)."""
        entries: list[LedgerEntry] = await self._run(self._append_many, [record])
        return entries[0]

    async def append_many(
        self, records: Iterable[DeploymentRecord], *, head: HeadUpdate | None = None
    ) -> list[LedgerEntry]:
        """Append several records in one transaction (all or none), in the order given.

        Args:
            records: The records, each the next of its name.
            head: Makes the new signed head from the stored one (JSON or None), the number of
                entries after the append, the last entry's link and the entries appended; it is
                stored in the same transaction, so that the head never lags a writer's append.
                If it raises, nothing is appended.
        """
        return list(await self._run(self._append_many, list(records), head))

    def _append_many(
        self, records: list[DeploymentRecord], head: HeadUpdate | None = None
    ) -> list[LedgerEntry]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = self._insert_all(conn, records)
                if head is not None and out:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
                    new, head_id = head(None if row is None else str(row[0]), out[-1].position, out)
                    conn.executemany(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        [("head", new), ("head_id", head_id)],
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot append to the ledger {self.path}: {exc}") from exc
        if len(out) == 1:
            _log.info(
                "minds371.registry.ledger.appended",
                name=out[0].record.name,
                sequence=out[0].record.sequence,
                position=out[0].position,
            )
        elif out:
            _log.info(
                "minds371.registry.ledger.appended_many",
                count=len(out),
                first=out[0].position,
                last=out[-1].position,
            )
        return out

    def _insert_all(
        self, conn: sqlite3.Connection, records: list[DeploymentRecord]
    ) -> list[LedgerEntry]:
        row = conn.execute(
            "SELECT position, entry_hash FROM entries ORDER BY position DESC LIMIT 1"
        )
        last = row.fetchone()
        position, prev_entry = (last[0], last[1]) if last else (0, GENESIS_HASH)
        heads: dict[str, tuple[int, str]] = {}
        out: list[LedgerEntry] = []
        now = time.time()
        for record in records:
            if record.name not in heads:
                found = conn.execute(
                    "SELECT sequence, record_hash FROM entries WHERE name = ? "
                    "ORDER BY position DESC LIMIT 1",
                    (record.name,),
                ).fetchone()
                heads[record.name] = (found[0], found[1]) if found else (0, EMPTY_HASH)
            head_seq, head_hash = heads[record.name]
            if record.sequence != head_seq + 1 or record.prev_hash != head_hash:
                raise LedgerError(
                    f"record {record.name}#{record.sequence} does not follow the ledger's latest "
                    f"record of {record.name!r} (sequence {head_seq}): expected sequence "
                    f"{head_seq + 1} linking to {head_hash}",
                    details={"name": record.name, "sequence": record.sequence, "head": head_seq},
                )
            position += 1
            digest = "0x" + record_digest(record, self._domain).hex()
            body = record.canonical_json()
            link = entry_hash(prev_entry, position, digest, body)
            conn.execute(
                "INSERT INTO entries (position, name, sequence, record, record_hash, "
                "prev_entry_hash, entry_hash, appended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (position, record.name, record.sequence, body, digest, prev_entry, link, now),
            )
            heads[record.name] = (record.sequence, digest)
            prev_entry = link
            out.append(self._entry(position, record, digest, link))
        return out

    def _entry(
        self, position: int, record: DeploymentRecord, digest: str, link: str
    ) -> LedgerEntry:
        return LedgerEntry(
            position=position,
            record=record,
            record_hash=digest,
            entry_hash=link,
            location=f"sqlite:{self.path}#{position}",
        )

    # -- reading ---------------------------------------------------------------------------------

    async def latest(self, name: str) -> LedgerEntry | None:
        """The latest entry of ``name``, checked, or None."""
        found = await self.history(name, limit=1)
        return found[-1] if found else None

    async def history(self, name: str, *, limit: int | None = None) -> list[LedgerEntry]:
        """The checked entries of ``name``, oldest first (the last ``limit`` with a limit)."""
        if limit is not None and limit <= _INLINE_LIMIT:
            return self._history(self._read_connection(), name, limit)
        return list(await self._run(lambda: self._history(self._connect(), name, limit)))

    def _read_connection(self) -> sqlite3.Connection:
        if self._reader is None:
            if self._conn is None:
                self._connect()  # creates the file and schema, checks the domain
            try:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._reader = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from exc
        return self._reader

    def _history(self, conn: sqlite3.Connection, name: str, limit: int | None) -> list[LedgerEntry]:
        try:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE name = ? ORDER BY position DESC LIMIT ?",
                (name, -1 if limit is None else limit),
            ).fetchall()
            out = []
            for row in reversed(rows):
                before = conn.execute(
                    "SELECT entry_hash FROM entries WHERE position = ?", (row[0] - 1,)
                ).fetchone()
                expected_prev = GENESIS_HASH if row[0] == 1 else (before[0] if before else None)
                out.append(self._checked(row, expected_prev))
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger {self.path}: {exc}") from exc
        return out

    async def entries(self) -> AsyncIterator[LedgerEntry]:
        """Every entry in order, each checked against the one before it."""
        position, prev = 0, GENESIS_HASH
        while True:
            rows: list[tuple[Any, ...]] = await self._run(self._page, position)
            if not rows:
                return
            for row in rows:
                if row[0] != position + 1:
                    raise LedgerError(
                        f"ledger entry {position + 1} is missing (the next is {row[0]}): "
                        "entries were removed",
                        details={"position": position + 1},
                    )
                entry = self._checked(row, prev)
                position, prev = entry.position, entry.entry_hash
                yield entry

    def _page(self, after: int) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE position > ? ORDER BY position LIMIT ?",
                (after, _BATCH),
            ).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger {self.path}: {exc}") from exc

    def _checked(self, row: tuple[Any, ...], expected_prev: str | None) -> LedgerEntry:
        position, body, digest, prev_entry, link, name, sequence = row
        details = {"position": position}
        if expected_prev is None or prev_entry != expected_prev:
            raise LedgerError(
                f"ledger entry {position} does not link to the entry before it: entries were "
                "removed, reordered or edited",
                details=details,
            )
        if entry_hash(prev_entry, position, digest, body) != link:
            raise LedgerError(
                f"ledger entry {position} was altered: its hash does not match its content",
                details=details,
            )
        try:
            record = DeploymentRecord.model_validate_json(body)
        except pydantic.ValidationError as exc:
            raise LedgerError(
                f"ledger entry {position} holds a malformed record: {exc.errors()[0]['msg']}",
                details=details,
            ) from None
        if "0x" + record_digest(record, self._domain).hex() != digest:
            raise LedgerError(
                f"ledger entry {position} was altered: its record does not match its record hash",
                details=details,
            )
        if (name, sequence) != (record.name, record.sequence):
            # The index columns are in no hash: a renamed row would serve another name's record.
            raise LedgerError(
                f"ledger entry {position} is filed as {name}#{sequence} but holds the record "
                f"{record.name}#{record.sequence}: its index columns were edited",
                details=details,
            )
        return self._entry(position, record, digest, link)

    # -- the signed head -------------------------------------------------------------------------

    async def head_state(self) -> tuple[str | None, int]:
        """The stored head's id (None if no head was written) and the ledger's last position.

        Read together in one snapshot, inline (two short indexed reads): this runs on every
        resolve, while the head itself (every name's latest record) is read only when its id
        changed.
        """
        head_id, last, _ = self._read_head(self._read_connection(), with_body=False)
        return head_id, last

    async def read_head(self) -> tuple[str | None, str | None, int]:
        """The stored head's id, the head itself (JSON) and the last position, in one snapshot.

        The id and the head are None when no head was written.
        """
        head_id, last, body = await self._run(
            lambda: self._read_head(self._connect(), with_body=True)
        )
        return head_id, body, last

    def _read_head(
        self, conn: sqlite3.Connection, *, with_body: bool
    ) -> tuple[str | None, int, str | None]:
        keys = ("head_id", "head") if with_body else ("head_id",)
        try:
            conn.execute("BEGIN")  # one read snapshot: a writer's commit lands before or after
            try:
                rows = dict(
                    conn.execute(
                        f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(keys))})",
                        keys,
                    ).fetchall()
                )
                (last,) = conn.execute("SELECT MAX(position) FROM entries").fetchone()
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger {self.path}: {exc}") from exc
        return rows.get("head_id"), int(last or 0), rows.get("head")


def _private_database(path: Path) -> None:
    """Make the database file private (created empty if missing) without opening it.

    See :func:`minds371.config.private_file`: opening and closing it here would drop the locks
    another connection of this process (another task's ledger) holds on it.
    """
    private_file(path)


def _other_domain(path: Path, stored: str, domain: RecordDomain) -> ConfigurationError:
    """The error for a ledger whose records were signed under another domain than ``domain``.

    A ledger of an older record format (the same registry, a lower ``version``) is what an
    upgrade leaves behind: its records stay valid under their own format, but records of this
    format cannot extend their chains, so the message says how to start a new ledger.
    """
    ours = domain.model_dump_json()
    message = f"the ledger {path} holds records of domain {stored}, not {ours}"
    try:
        theirs = RecordDomain.model_validate_json(stored)
    except pydantic.ValidationError:
        return ConfigurationError(message)
    same_registry = theirs.model_copy(update={"version": domain.version}) == domain
    if not (same_registry and theirs.version.isdigit() and domain.version.isdigit()):
        return ConfigurationError(message)
    if int(theirs.version) > int(domain.version):
        return ConfigurationError(
            f"the registry ledger {path} was written by a newer minds371 (record format "
            f"{theirs.version}; this one reads and writes format {domain.version}): upgrade "
            "minds371 to use it"
        )
    aside = path.with_name(f"{path.stem}-format{theirs.version}{path.suffix}")
    return ConfigurationError(
        f"the registry ledger {path} was written by an older minds371 (record format "
        f"{theirs.version}; this one writes format {domain.version} and cannot extend those "
        f"records' chains). Its records stay as they are; to start a new ledger, move it aside: "
        f"mv {shlex.quote(str(path))} {shlex.quote(str(aside))}",
        details={"ledger": str(path), "format": theirs.version, "move_to": str(aside)},
    )
