"""The embedded content store: CID-addressed blocks in one SQLite file under the state directory.

Objects live in ``<root>/blocks.sqlite3`` (a row per CID: its bytes and whether it is pinned).
Reading re-computes the CID from the bytes, so a row edited on disk is refused with
:class:`~minds371.errors.ContentMismatch` rather than served. Nothing is ever garbage collected.

One file rather than a file per object: each registration stores and pins its metadata, and on a
busy disk a new file (an inode) costs a burst of registrations far more than a row does (README,
"Performance"). Stores written before keep their objects as files (``<root>/<last two
characters>/<cid>``, pinned by a name under ``<root>/pins``); those are still read and pinned
where they are, and new objects never go there.

Writes are group-committed: the puts and pins that arrive while one commit runs share the next.
A commit runs on the event loop's thread, where it costs tens of microseconds (WAL mode,
``synchronous=NORMAL``: no flush to disk); if another process holds the database's write lock,
that commit waits for it in a worker thread instead, so the loop never blocks on a lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import anyio
import anyio.to_thread

from minds371.config import home, private_file
from minds371.errors import ContentMismatch, RegistryError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_registry._group import GroupCommit, Waiting
from minds371_registry._sqlite import use_wal
from minds371_registry.content._unixfs import cid_of, normalize_cid

__all__ = ["DATABASE_NAME", "LocalContentStore"]

#: The database's file name in the store's folder.
DATABASE_NAME = "blocks.sqlite3"

_log = get_logger("minds371.registry.content")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    cid TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    pinned INTEGER NOT NULL DEFAULT 0
);
"""
# How long a commit that found the database locked by another process waits for it, in a thread.
_BUSY_TIMEOUT_MS = 5000


class _Write(NamedTuple):
    """One queued write: store ``data`` under ``cid`` (``data`` set), or pin ``cid``."""

    cid: str
    data: bytes | None


class LocalContentStore(AsyncResource):
    """Content-addressed blocks in a folder (default ``$MINDS371_HOME/registry/content``).

    Args:
        root: The folder; it and its database are created on first use.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else home() / "registry" / "content"
        self._conn: sqlite3.Connection | None = None
        self._writer = anyio.Lock()
        self._writes: GroupCommit[_Write, None] = GroupCommit(self._commit, key=id)
        self._opening = anyio.Lock()
        self._in_thread = False  # a commit waits for another process's lock in a worker thread

    @property
    def database(self) -> Path:
        """The SQLite file that holds the blocks."""
        return self.root / DATABASE_NAME

    async def aclose(self) -> None:
        """Close the database (a later call opens it again)."""
        async with self._writer:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    async def check(self) -> None:
        """Open the database: a folder that cannot hold it is reported before anything is spent.

        Raises:
            RegistryError: if the database cannot be created or opened.
        """
        await self._connection()

    def path_of(self, cid: str) -> Path:
        """Where an object of a store written before this layout is kept as a file."""
        cid = normalize_cid(cid)
        return self.root / cid[-2:] / cid

    # -- writing ---------------------------------------------------------------------------------

    async def put(self, data: bytes) -> str:
        """Store ``data`` and return its CID (storing the same bytes twice is a no-op).

        Raises:
            RegistryError: if the database cannot be written.
        """
        cid = cid_of(data)  # normalized already
        await self._writes.submit(_Write(cid, bytes(data)), self._writer)
        _log.debug("minds371.registry.content.stored", cid=cid, size=len(data))
        return cid

    async def pin(self, cid: str) -> None:
        """Mark ``cid`` as pinned (it must be stored here).

        Raises:
            RegistryError: if nothing is stored under ``cid``.
        """
        await self._writes.submit(_Write(normalize_cid(cid), None), self._writer)

    async def _commit(self, group: list[Waiting[_Write, None]]) -> None:
        """Commit a group of writes; a pin of what is not stored fails that pin alone."""
        conn = await self._connection()
        legacy = self._legacy_bytes  # a pin of an object of the file layout moves it in
        try:
            _apply(conn, group, legacy, wait=False)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                _fail(group, self.database, exc)
                return
            # Another process writes to this store now: wait for it off the event loop.
            self._in_thread = True
            try:
                await anyio.to_thread.run_sync(lambda: _apply(conn, group, legacy, wait=True))
            except sqlite3.Error as exc:
                _fail(group, self.database, exc)
            finally:
                self._in_thread = False
        except sqlite3.Error as exc:
            _fail(group, self.database, exc)

    def _legacy_bytes(self, cid: str) -> bytes | None:
        """An object of the file layout, verified; None if it has no file."""
        path = self.path_of(cid)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _verified(cid, data, str(path))

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, cid: str) -> bytes:
        """Return the bytes stored under ``cid``, verified against it.

        Raises:
            ContentMismatch: if the stored bytes do not hash to ``cid``.
            RegistryError: if nothing is stored under ``cid``.
            ValidationError: if ``cid`` is not a CID.
        """
        cid = normalize_cid(cid)
        row = await self._row(cid)
        if row is not None:
            return _verified(cid, bytes(row[0]), str(self.database))
        data = self._legacy_bytes(cid)
        if data is None:
            raise RegistryError(
                f"content {cid} is not in the local store ({self.root})", details={"cid": cid}
            )
        return data

    async def is_pinned(self, cid: str) -> bool:
        """Whether ``cid`` was pinned."""
        cid = normalize_cid(cid)
        row = await self._row(cid)
        if row is not None and row[1]:
            return True
        return (self.root / "pins" / cid).exists()

    async def _row(self, cid: str) -> tuple[bytes, int] | None:
        if self._conn is None and not self.database.exists():
            return None  # nothing stored here yet: a read makes no database
        conn = await self._connection()
        if self._in_thread:  # the connection is in a commit's transaction: wait for it
            async with self._writer:
                return _select(conn, cid, self.database)
        return _select(conn, cid, self.database)

    # -- the database ----------------------------------------------------------------------------

    async def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            async with self._opening:
                if self._conn is None:
                    # In a thread: a new database waits out other processes making it too.
                    self._conn = await anyio.to_thread.run_sync(_open, self.database)
        return self._conn


def _open(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the blocks database at ``path``, private to its owner.

    Raises:
        RegistryError: if it cannot be created or opened.
    """
    conn: sqlite3.Connection | None = None
    try:
        private_file(path)  # SQLite's -wal and -shm take the database's mode
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # Opened in a worker thread: making the table waits for another process that writes
        # (or makes it too); the commits that follow never wait on the loop (see _commit).
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        conn.execute("PRAGMA busy_timeout=0")  # a commit that finds a lock goes to a thread
    except (OSError, sqlite3.Error) as exc:
        if conn is not None:
            conn.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise RegistryError(
            f"cannot open the content store {path}: {reason}", details={"path": str(path)}
        ) from exc
    return conn


def _apply(
    conn: sqlite3.Connection,
    group: list[Waiting[_Write, None]],
    legacy: Callable[[str], bytes | None],
    *,
    wait: bool,
) -> None:
    """Write ``group`` in one transaction and settle each call (``wait``: for a held lock)."""
    if wait:
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            outcomes: list[RegistryError | None] = []
            for waiting in group:
                outcomes.append(_write(conn, waiting.item, legacy))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
    finally:
        if wait:
            conn.execute("PRAGMA busy_timeout=0")
    for waiting, error in zip(group, outcomes, strict=True):
        if error is None:
            waiting.resolve(None)
        else:
            waiting.fail(error)


def _write(
    conn: sqlite3.Connection, write: _Write, legacy: Callable[[str], bytes | None]
) -> RegistryError | None:
    """Apply one write in the open transaction; the error of a pin of nothing stored."""
    if write.data is not None:
        conn.execute(
            "INSERT OR IGNORE INTO blocks (cid, data) VALUES (?, ?)", (write.cid, write.data)
        )
        return None
    if conn.execute("UPDATE blocks SET pinned = 1 WHERE cid = ?", (write.cid,)).rowcount:
        return None
    data = legacy(write.cid)  # a store written before: its object may be a file
    if data is None:
        return RegistryError(
            f"cannot pin {write.cid}: it is not in the local store", details={"cid": write.cid}
        )
    # An object of the file layout: pinned, it moves into the database.
    conn.execute(
        "INSERT OR REPLACE INTO blocks (cid, data, pinned) VALUES (?, ?, 1)", (write.cid, data)
    )
    return None


def _select(conn: sqlite3.Connection, cid: str, database: Path) -> tuple[bytes, int] | None:
    try:
        row = conn.execute("SELECT data, pinned FROM blocks WHERE cid = ?", (cid,)).fetchone()
    except sqlite3.Error as exc:
        raise RegistryError(
            f"cannot read the content store {database}: {exc}", details={"cid": cid}
        ) from exc
    return None if row is None else (row[0], row[1])


def _verified(cid: str, data: bytes, where: str) -> bytes:
    actual = cid_of(data)
    if actual != cid:
        raise ContentMismatch(
            f"content stored under {cid} hashes to {actual}: the local store was altered",
            details={"cid": cid, "actual": actual, "path": where},
        )
    return data


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc)
    return "locked" in message or "busy" in message


def _fail(group: list[Waiting[_Write, None]], database: Path, exc: BaseException) -> None:
    error = RegistryError(
        f"cannot write the content store {database}: {exc}", details={"path": str(database)}
    )
    for waiting in group:
        if not waiting.settled:
            waiting.fail(error)
