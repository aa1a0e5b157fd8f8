"""The signed ledger head: what a local ledger held when a trusted signer last wrote to it.

A record's signature proves who wrote it, and its ``sequence`` and ``prev_hash`` prove what came
before it; neither can prove that nothing came *after* it. Whoever can write the ledger file can cut
a name's newest records (and re-hash the rows after them) and readers would serve the older record.
The head closes that gap: after each append the writer signs, as EIP-712 typed data in the
ledger's domain,

``LedgerHead(uint64 entries, bytes32 lastEntryHash, bytes32 namesHash, uint64 issuedAt)``

where ``entries`` is the number of ledger entries, ``lastEntryHash`` the hash-chain link of the last
one and ``namesHash`` commits to every name's latest ``(sequence, record hash)``: the keccak of the
concatenated ``keccak(name) || uint256(sequence) || recordHash`` of the names in sorted order. A
reader who finds a name's latest record older than the head says, or a ledger shorter than the head
or not extending it, knows records were removed. A ledger may run ahead of its head (a writer that
stopped between the append and the head): the records past it are still signed and chained.

What a head cannot show is a whole ledger file put back to an older copy, head included: that is
what a client's memory of the sequences it has seen (``SeenSequences``) and an EVM ledger are for.

A writer signs each new head with a :class:`HeadBuilder`, which keeps the previous head's names
ready (sorted, with each name's part of ``namesHash`` and of the stored JSON): the head it signs is
:func:`sign_head`'s, without validating, sorting and serializing every name again.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated

from eth_hash.auto import keccak
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from minds371.errors import SignatureError
from minds371_registry.records import RecordDomain, recover_signer

if TYPE_CHECKING:
    from minds371_registry.keys import RecordSigner

__all__ = [
    "HEAD_TYPE",
    "HeadBuilder",
    "LedgerHead",
    "NameHead",
    "head_digest",
    "names_hash",
    "sign_head",
    "verify_head",
]

#: The EIP-712 type of a head, as ``eth_signTypedData_v4`` takes it.
HEAD_TYPE: list[dict[str, str]] = [
    {"name": "entries", "type": "uint64"},
    {"name": "lastEntryHash", "type": "bytes32"},
    {"name": "namesHash", "type": "bytes32"},
    {"name": "issuedAt", "type": "uint64"},
]
_HEAD_TYPEHASH = keccak(
    ("LedgerHead(" + ",".join(f"{f['type']} {f['name']}" for f in HEAD_TYPE) + ")").encode()
)
_HEX32 = r"^0x[0-9a-f]{64}$"


class NameHead(BaseModel):
    """A name's latest record as a head states it.

    Attributes:
        sequence: The record's sequence.
        record_hash: Its EIP-712 digest (``0x``-hex).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sequence: Annotated[int, Field(ge=1, le=2**64 - 1)]
    record_hash: Annotated[str, StringConstraints(pattern=_HEX32)]


class LedgerHead(BaseModel):
    """A signed statement of a ledger's length, last link and every name's latest record.

    Attributes:
        entries: How many entries the ledger held.
        last_entry_hash: The hash-chain link of the last of them (64 hex digits).
        names: Each name's latest record.
        issued_at: When it was signed (Unix seconds).
        signer: The address that signed it.
        signature: The 65-byte signature, ``0x``-hex.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: Annotated[int, Field(ge=1, le=2**64 - 1)]
    last_entry_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    names: dict[str, NameHead]
    issued_at: Annotated[int, Field(ge=0, le=2**64 - 1)]
    signer: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
    signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{130}$")]


def names_hash(names: Iterable[tuple[str, NameHead]]) -> bytes:
    """The commitment to every name's latest record (see the module docstring)."""
    ordered = sorted(names, key=_by_name)
    return keccak(b"".join(_name_part(name, h.sequence, h.record_hash) for name, h in ordered))


def _by_name(item: tuple[str, NameHead]) -> str:
    return item[0]


@lru_cache(maxsize=65_536)
def _name_part(name: str, sequence: int, record_hash: str) -> bytes:
    # A head names every name of the ledger and each append signs a new one: all but one of its
    # parts are the previous head's, so they are kept rather than hashed again.
    return keccak(name.encode()) + sequence.to_bytes(32, "big") + bytes.fromhex(record_hash[2:])


def head_digest(head: LedgerHead, domain: RecordDomain) -> bytes:
    """The EIP-712 digest of ``head`` in ``domain``: what its signer signed."""
    return _digest(
        domain, head.entries, head.last_entry_hash, names_hash(head.names.items()), head.issued_at
    )


def _digest(
    domain: RecordDomain, entries: int, last_entry_hash: str, names_digest: bytes, issued_at: int
) -> bytes:
    struct = keccak(
        _HEAD_TYPEHASH
        + entries.to_bytes(32, "big")
        + bytes.fromhex(last_entry_hash)
        + names_digest
        + issued_at.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + domain.separator() + struct)


def verify_head(head: LedgerHead, domain: RecordDomain, trusted: Iterable[str]) -> None:
    """Check that ``head`` is signed by its signer, and that the signer is trusted.

    Raises:
        SignatureError: if the signature does not recover the claimed signer, or the signer is
            not trusted (a forged or edited head).
    """
    signer = recover_signer(head_digest(head, domain), head.signature)
    if signer.lower() != head.signer.lower():
        raise SignatureError(
            "the ledger head's signature does not match its signer (it was edited or forged)",
            details={"claimed": head.signer, "recovered": signer},
        )
    if signer.lower() not in {address.lower() for address in trusted}:
        raise SignatureError(
            f"the ledger head is signed by {signer}, which is not a trusted signer",
            details={"signer": signer},
        )


def sign_head(
    signer: RecordSigner,
    domain: RecordDomain,
    *,
    entries: int,
    last_entry_hash: str,
    names: dict[str, NameHead],
    issued_at: int,
) -> LedgerHead:
    """Build and sign a head."""
    unsigned = LedgerHead(
        entries=entries,
        last_entry_hash=last_entry_hash,
        names=names,
        issued_at=issued_at,
        signer=signer.address,
        signature="0x" + "00" * 65,
    )
    return unsigned.model_copy(
        update={"signature": signer.sign_digest(head_digest(unsigned, domain))}
    )


class HeadBuilder:
    """Every name's latest record, kept ready to sign and store the next head of a ledger.

    A head names every name of the ledger, and an append changes a few of them. Building each new
    head from scratch (a model of every name validated, the names sorted, hashed and serialized)
    costs as much as the ledger has names, so a burst of registrations would cost the square of
    it. The builder keeps the names sorted, with each name's part of ``namesHash`` and of the
    head's JSON, and replaces only what changed: the next head costs a few joins of bytes done in
    C, however many names there are. What it signs is exactly :func:`sign_head`'s head, and its
    JSON parses (:meth:`LedgerHead.model_validate_json`) to that head.

    Args:
        names: The names of the head to continue from (that head's ``names``).
    """

    __slots__ = ("_names", "_order", "_parts", "_texts")

    def __init__(self, names: Mapping[str, NameHead] | None = None) -> None:
        self._names: dict[str, NameHead] = dict(names or {})
        self._order = sorted(self._names)
        self._parts = {n: _name_part(n, h.sequence, h.record_hash) for n, h in self._names.items()}
        self._texts = {n: _name_json(n, h) for n, h in self._names.items()}

    def get(self, name: str) -> NameHead | None:
        """What the head states of ``name``, if it names it."""
        return self._names.get(name)

    def set(self, name: str, sequence: int, record_hash: str) -> None:
        """Make ``name``'s latest record the one of ``sequence`` with digest ``record_hash``.

        Raises:
            pydantic.ValidationError: the sequence or the digest is not one a head can state.
        """
        named = NameHead(sequence=sequence, record_hash=record_hash)
        if name not in self._names:
            bisect.insort(self._order, name)
        self._names[name] = named
        self._parts[name] = _name_part(name, sequence, record_hash)
        self._texts[name] = _name_json(name, named)

    def sign(
        self,
        signer: RecordSigner,
        domain: RecordDomain,
        *,
        entries: int,
        last_entry_hash: str,
        issued_at: int,
    ) -> tuple[LedgerHead, str]:
        """Sign the head of the names as they are now; return it and its JSON, to be stored.

        The head is a snapshot: later changes to the builder do not change it.
        """
        # Validated once here, without the names (each was validated as it was set).
        checked = LedgerHead(
            entries=entries,
            last_entry_hash=last_entry_hash,
            names={},
            issued_at=issued_at,
            signer=signer.address,
            signature=_NO_SIGNATURE,
        )
        names_digest = keccak(b"".join(map(self._parts.__getitem__, self._order)))
        signature = signer.sign_digest(
            _digest(domain, entries, last_entry_hash, names_digest, issued_at)
        )
        head = LedgerHead.model_construct(
            **{**checked.__dict__, "names": dict(self._names), "signature": signature}
        )
        text = (
            f'{{"entries":{entries},"last_entry_hash":"{last_entry_hash}","names":{{'
            + ",".join(map(self._texts.__getitem__, self._order))
            + f'}},"issued_at":{issued_at},"signer":"{checked.signer}",'
            f'"signature":"{signature}"}}'
        )
        return head, text


_NO_SIGNATURE = "0x" + "00" * 65


def _name_json(name: str, head: NameHead) -> str:
    return f'{json.dumps(name)}:{{"sequence":{head.sequence},"record_hash":"{head.record_hash}"}}'
