"""The ledger seam: an append-only, tamper-evident log of signed deployment records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Annotated, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from minds371_registry.records import DeploymentRecord, RecordDomain

__all__ = ["HeadStore", "Ledger", "LedgerEntry"]


class LedgerEntry(BaseModel):
    """A record as a ledger holds it.

    Attributes:
        position: Where it is in the ledger: the row number of the local ledger (1 for its first
            entry), the block number on an EVM chain.
        record: The signed record.
        record_hash: The record's EIP-712 digest in the ledger's domain (``0x``-hex): its id.
        entry_hash: The ledger's own proof of the entry: the hash-chain link of the local ledger,
            the transaction hash on an EVM chain.
        location: Where to find it, for people (``sqlite:/path#12``, ``evm:31337:0x..:0x..``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: Annotated[int, Field(ge=1)]
    record: DeploymentRecord
    record_hash: str
    entry_hash: str
    location: str


@runtime_checkable
class Ledger(Protocol):
    """An append-only log of signed records, ordered, that detects edits and deletions.

    A ledger checks order (each record of a name follows the one before it), not trust: which
    signers to believe is the reader's decision (``BlockchainRegistryProvider`` checks
    signatures). Backends are async context managers; :meth:`aclose` releases what they created.
    """

    @property
    def domain(self) -> RecordDomain:
        """The EIP-712 domain records on this ledger must be signed in."""
        ...

    @property
    def kind(self) -> str:
        """A short name of the backend (``local``, ``evm``)."""
        ...

    @property
    def anchored(self) -> bool:
        """Whether the ledger itself keeps each name's latest record out of a writer's reach.

        True for a contract's state on a chain. A ledger that is not must also be a
        :class:`HeadStore`, whose signed head readers check.
        """
        ...

    async def append(self, record: DeploymentRecord) -> LedgerEntry:
        """Append the next record of its name.

        Raises:
            LedgerError: if the record does not follow the name's latest record (sequence or
                previous hash), or the ledger refused or failed the append (a revert, with its
                reason).
        """
        ...

    async def latest(self, name: str) -> LedgerEntry | None:
        """The latest entry of ``name``, or None if it has none.

        Raises:
            LedgerError: if the entry or its link to the ledger before it was tampered with.
        """
        ...

    async def history(self, name: str, *, limit: int | None = None) -> list[LedgerEntry]:
        """The entries of ``name``, oldest first; with ``limit``, only the last ``limit`` ones.

        Raises:
            LedgerError: if an entry returned or its link to the ledger was tampered with.
        """
        ...

    def entries(self) -> AsyncIterator[LedgerEntry]:
        """Every entry of the ledger in order, checking the ledger's integrity on the way.

        Raises:
            LedgerError: at the first entry that was edited, removed or reordered.
        """
        ...

    async def aclose(self) -> None:
        """Release what the ledger created (database connections, HTTP clients). Idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class HeadStore(Protocol):
    """Where a ledger that is not anchored keeps its signed head (``minds371_registry.head``)."""

    async def head_state(self) -> tuple[str | None, int]:
        """The stored head's id (None if none was written) and the last position, together."""
        ...

    async def read_head(self) -> tuple[str | None, str | None, int]:
        """The stored head's id, the head as JSON and the last position, read in one snapshot."""
        ...

    async def append_many(
        self,
        records: Iterable[DeploymentRecord],
        *,
        head: Callable[[str | None, int, list[LedgerEntry]], tuple[str, str]] | None = None,
    ) -> list[LedgerEntry]:
        """Append records and, in the same transaction, the head that ``head`` makes.

        ``head`` gets the stored head, the entry count after the append and the entries appended,
        and returns the new head's JSON and its id.
        """
        ...
