"""What the registry hands back: receipts, verified service records and integrity reports."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from minds371_registry.ledger import LedgerEntry
from minds371_registry.records import DeploymentRecord

__all__ = ["RegistryReceipt", "ServiceRecord", "VerifyReport"]


class RegistryReceipt(BaseModel):
    """Proof that a record was registered.

    Attributes:
        record_id: The record's EIP-712 digest (``0x``-hex): its identity everywhere.
        name: The service name.
        sequence: The record's place in the name's history (1 for the first).
        cid: The metadata's CID (CIDv1, base32).
        signer: The address that signed the record.
        ledger: Which ledger holds it (``local``, ``evm``).
        entry: Where the ledger holds it (``sqlite:/path#12``, ``evm:31337:0x..:0xtx``).
        entry_hash: The ledger's proof: the hash-chain link, or the transaction hash.
        issued_at: When the record was signed (Unix seconds).
        expires_at: When it stops being valid (Unix seconds; 0 if never).
        created: False when the name's latest record already said exactly this, and it is
            returned instead of a new one (re-running a registration is harmless).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    name: str
    sequence: int
    cid: str
    signer: str
    ledger: str
    entry: str
    entry_hash: str
    issued_at: int
    expires_at: int
    created: bool = True

    @classmethod
    def of(cls, entry: LedgerEntry, ledger: str, *, created: bool) -> RegistryReceipt:
        """The receipt of a ledger entry."""
        record = entry.record
        return cls(
            record_id=entry.record_hash,
            name=record.name,
            sequence=record.sequence,
            cid=record.metadata_cid,
            signer=record.signer,
            ledger=ledger,
            entry=entry.location,
            entry_hash=entry.entry_hash,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
            created=created,
        )


class ServiceRecord(BaseModel):
    """A name's latest record, after every check passed.

    The checks: ledger integrity, signature, trusted signer, chain link, expiry, metadata CID.

    Attributes:
        record: The signed record.
        record_id: Its EIP-712 digest.
        metadata: The metadata JSON stored under ``record.metadata_cid`` (verified).
        location: Where the ledger holds it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    record: DeploymentRecord
    record_id: str
    metadata: dict[str, Any]
    location: str

    @property
    def name(self) -> str:
        """The service name."""
        return self.record.name

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoints, in the order the record lists them."""
        return self.record.endpoints

    @property
    def sequence(self) -> int:
        """The record's sequence number."""
        return self.record.sequence

    @property
    def signer(self) -> str:
        """The address that signed the record."""
        return self.record.signer

    @property
    def retired(self) -> bool:
        """Whether the name was retired (its latest record is a tombstone; no endpoints)."""
        return self.record.retired


class VerifyReport(BaseModel):
    """The outcome of walking the whole ledger.

    Attributes:
        ok: Whether every entry passed.
        entries: How many entries were checked (up to and including a bad one).
        names: How many names were seen.
        ledger: Which ledger was walked.
        problem: What is wrong with the first bad entry.
        error: The error type of the first bad entry (``SignatureError``, ``LedgerError``, ...).
        position: The position of the first bad entry in the ledger, when known.
        name: The service name of the first bad entry, when known.
        sequence: Its sequence number, when known.
        content_checked: Whether every metadata blob was checked against its CID.
        head_checked: Whether a signed ledger head was checked (False on an anchored ledger,
            whose contract plays that part, and on an empty one).
        seconds: How long the walk took.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    entries: int
    names: int
    ledger: str
    problem: str | None = None
    error: str | None = None
    position: int | None = None
    name: str | None = None
    sequence: int | None = None
    content_checked: bool = False
    head_checked: bool = False
    seconds: float = 0.0

    @classmethod
    def failure(
        cls, base: dict[str, Any], exc: Exception, entry: LedgerEntry | None
    ) -> VerifyReport:
        """A failed report from the first error found (and the entry it was found at)."""
        details = getattr(exc, "details", {}) or {}
        return cls(
            ok=False,
            problem=str(exc),
            error=type(exc).__name__,
            position=entry.position if entry else details.get("position"),
            name=entry.record.name if entry else details.get("name"),
            sequence=entry.record.sequence if entry else details.get("sequence"),
            **base,
        )
