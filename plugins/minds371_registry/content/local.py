"""The embedded content store: CID-addressed files under the state directory.

Each stored object is one file named by its CID (``<root>/<last two characters>/<cid>``, the
sharding IPFS's flatfs uses), written atomically. Reading re-computes the CID from the bytes, so a
file edited or swapped on disk is refused with :class:`~minds371.errors.ContentMismatch` rather
than served. Pins are markers under ``<root>/pins``: a hard link to the stored file (an empty file
where links fail, and in stores pinned before); nothing is ever garbage collected here.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from pathlib import Path

import anyio.to_thread

from minds371.config import home, private_dir, write_all
from minds371.errors import ContentMismatch, RegistryError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_registry.content._unixfs import cid_of, normalize_cid

__all__ = ["LocalContentStore"]

_log = get_logger("minds371.registry.content")

# Below this size a read or write is faster inline than through a worker thread.
_INLINE_LIMIT = 64 * 1024


class LocalContentStore(AsyncResource):
    """Content-addressed files in a directory (default ``$MINDS371_HOME/registry/content``).

    Args:
        root: The directory; created on first write.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else home() / "registry" / "content"

    async def aclose(self) -> None:
        """Nothing to release: files are opened and closed per call."""

    async def check(self) -> None:
        """Files need no node: there is nothing to reach."""

    def path_of(self, cid: str) -> Path:
        """Where the object ``cid`` is (or would be) stored."""
        cid = normalize_cid(cid)
        return self.root / cid[-2:] / cid

    async def put(self, data: bytes) -> str:
        """Store ``data`` and return its CID (storing the same bytes twice is a no-op)."""
        if len(data) <= _INLINE_LIMIT:
            return self._put(data)
        return await anyio.to_thread.run_sync(self._put, data)

    def _put(self, data: bytes) -> str:
        cid = cid_of(data)  # normalized already
        folder = self.root / cid[-2:]
        path = folder / cid
        if os.path.exists(path):
            return cid
        fd, tmp = _create_temporary(folder)
        try:
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _log.debug("minds371.registry.content.stored", cid=cid, size=len(data))
        return cid

    async def get(self, cid: str) -> bytes:
        """Return the bytes stored under ``cid``, verified against it.

        Raises:
            ContentMismatch: if the file's bytes do not hash to ``cid``.
            RegistryError: if nothing is stored under ``cid``.
            ValidationError: if ``cid`` is not a CID.
        """
        cid = normalize_cid(cid)
        path = self.path_of(cid)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise RegistryError(
                f"content {cid} is not in the local store ({self.root})", details={"cid": cid}
            ) from None
        if size <= _INLINE_LIMIT:
            return self._read_verified(cid, path)
        return await anyio.to_thread.run_sync(self._read_verified, cid, path)

    def _read_verified(self, cid: str, path: Path) -> bytes:
        data = path.read_bytes()
        actual = cid_of(data)
        if actual != cid:
            raise ContentMismatch(
                f"content stored under {cid} hashes to {actual}: the local store was altered",
                details={"cid": cid, "actual": actual, "path": str(path)},
            )
        return data

    async def pin(self, cid: str) -> None:
        """Mark ``cid`` as pinned (it must be stored here).

        Raises:
            RegistryError: if nothing is stored under ``cid``.
        """
        cid = normalize_cid(cid)
        stored = self.root / cid[-2:] / cid
        marker = self.root / "pins" / cid
        # The marker is a second name of the stored file (a hard link): each registration pins
        # its metadata, and a new file costs the file system far more than a new name does.
        # Markers made before (empty files) and made where links fail count the same.
        try:
            os.link(stored, marker)
            return
        except FileExistsError:
            return
        except FileNotFoundError:
            if not stored.exists():
                raise RegistryError(
                    f"cannot pin {cid}: it is not in the local store", details={"cid": cid}
                ) from None
            private_dir(marker.parent)  # the first pin
        except OSError:
            pass  # a file system without hard links: an empty file instead
        try:
            os.link(stored, marker)
        except FileExistsError:
            pass
        except OSError:
            with contextlib.suppress(FileExistsError):
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    async def is_pinned(self, cid: str) -> bool:
        """Whether ``cid`` was pinned."""
        return (self.root / "pins" / normalize_cid(cid)).exists()


# Temporary names of this process: its id and a counter (each registration stores a blob, and
# tempfile's random names cost more to draw than the file costs to write).
_temporaries = itertools.count()


def _create_temporary(folder: Path) -> tuple[int, str]:
    """Create a new private (0600) file in ``folder`` (made if missing); its descriptor, path."""
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{next(_temporaries)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for attempt in range(2):
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileNotFoundError:  # the folder's first object
            if attempt:
                raise
            private_dir(folder)
        except FileExistsError:  # left by a process of the same id (another host, a crash)
            break
    return tempfile.mkstemp(dir=folder, prefix=".tmp-")
