"""The content-store seam: put bytes, get them back by CID, verified."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, runtime_checkable

__all__ = ["ContentStore"]


@runtime_checkable
class ContentStore(Protocol):
    """Content-addressed storage that speaks IPFS CIDs (CIDv1, base32).

    Every backend computes or checks CIDs exactly as ``ipfs add --cid-version=1`` does, and never
    hands back bytes that do not hash to the CID asked for. Backends are async context managers;
    :meth:`aclose` releases what the backend created (never an injected HTTP client).
    """

    async def put(self, data: bytes) -> str:
        """Store ``data``; return its CID.

        Raises:
            ContentMismatch: if a remote store answers with another CID than ``data`` has.
            RegistryError: if the store cannot be reached or refuses the data.
        """
        ...

    async def get(self, cid: str) -> bytes:
        """Return the bytes stored under ``cid``, after checking that they hash to it.

        Raises:
            ContentMismatch: if the bytes found do not hash to ``cid``.
            RegistryError: if nothing is stored under ``cid`` or the store cannot be reached.
            ValidationError: if ``cid`` is not a CID.
        """
        ...

    async def pin(self, cid: str) -> None:
        """Keep ``cid`` from garbage collection.

        Raises:
            RegistryError: if the content is not there or the store refuses.
        """
        ...

    async def check(self) -> None:
        """Check, cheaply, that the store can be used now (before anything depends on it).

        Raises:
            RegistryError: if the store cannot be reached (an IPFS node that does not answer).
        """
        ...

    async def aclose(self) -> None:
        """Release what the store created (files, HTTP clients). Idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
