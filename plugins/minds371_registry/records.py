"""Deployment records: what a deployment registers, signed as EIP-712 typed data.

A :class:`DeploymentRecord` states where a named service runs (Akash owner and dseq, network,
providers, endpoints, manifest version hash) and points at its metadata by CID. Records of one name
form a chain: each carries its ``sequence`` (1, 2, 3, ...) and ``prev_hash``, the EIP-712 digest of
the record before it, so that a reader can tell a replayed or reordered record from the latest one.
A record with ``retired`` set is a tombstone: the name's service was closed, and the record lists no
providers and no endpoints; it is signed and chained like any other record.

The signature is EIP-712 (``eth_signTypedData_v4``) over the record's fields, bound to a
:class:`RecordDomain` (name, version, chain id and, on a chain, the contract address), so a record
signed for one ledger cannot be replayed on another. The digest is computed here directly from the
fixed type (several thousand records a second); ``tests/registry/test_records.py`` checks it
against eth-account's generic ``encode_typed_data``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Annotated, Any

from eth_hash.auto import keccak
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from minds371.errors import SignatureError

__all__ = [
    "EMPTY_HASH",
    "RECORD_TYPES",
    "DeploymentFacts",
    "DeploymentRecord",
    "RecordDomain",
    "check_link",
    "record_digest",
    "recover_signer",
    "typed_data",
    "verify_record",
]

#: ``prev_hash`` of the first record of a name.
EMPTY_HASH = "0x" + "00" * 32

_HEX32 = r"^0x[0-9a-f]{64}$"
_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
# Akash account addresses: bech32 with the "akash" prefix (data part 38 characters for 20 bytes).
_AKASH_ADDRESS = r"^akash1[02-9ac-hj-np-z]{38,58}$"
_UINT64_MAX = 2**64 - 1

ServiceName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$"),
]
AkashAddress = Annotated[str, StringConstraints(pattern=_AKASH_ADDRESS)]
Uint64 = Annotated[int, Field(ge=0, le=_UINT64_MAX)]
# A host (a name, an IPv4 address or a bracketed IPv6 one), then an optional port of 1-65535.
_ENDPOINT = re.compile(
    r"^(https?|tcp|udp)://(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#:\[\]]+)(?::(\d{1,5}))?(?:[/?#]\S*)?$"
)

#: The EIP-712 types of a record, as ``eth_signTypedData_v4`` takes them.
RECORD_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "DeploymentRecord": [
        {"name": "name", "type": "string"},
        {"name": "sequence", "type": "uint64"},
        {"name": "prevHash", "type": "bytes32"},
        {"name": "owner", "type": "string"},
        {"name": "dseq", "type": "uint64"},
        {"name": "network", "type": "string"},
        {"name": "providers", "type": "string[]"},
        {"name": "endpoints", "type": "string[]"},
        {"name": "manifestHash", "type": "bytes32"},
        {"name": "metadataCid", "type": "string"},
        {"name": "issuedAt", "type": "uint64"},
        {"name": "expiresAt", "type": "uint64"},
        {"name": "retired", "type": "bool"},
    ],
}


def _encode_type(primary: str) -> bytes:
    fields = ",".join(f"{f['type']} {f['name']}" for f in RECORD_TYPES[primary])
    return f"{primary}({fields})".encode()


_RECORD_TYPEHASH = keccak(_encode_type("DeploymentRecord"))
_DOMAIN_TYPEHASH_FULL = keccak(_encode_type("EIP712Domain"))
_DOMAIN_TYPEHASH_NO_CONTRACT = keccak(b"EIP712Domain(string name,string version,uint256 chainId)")


class RecordDomain(BaseModel):
    """The EIP-712 domain records are signed in: which registry, on which chain and contract.

    Attributes:
        name: The registry's name (signed, so records of another registry do not verify).
        version: The record format's version.
        chain_id: The EVM chain id; ``0`` for the local ledger, which is on no chain.
        verifying_contract: The registry contract's address, when the ledger is on a chain.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "minds371 registry"
    # "2": records carry ``retired``; a ledger of version 1 records is refused by its domain.
    version: str = "2"
    chain_id: Annotated[int, Field(ge=0)] = 0
    verifying_contract: Annotated[str, StringConstraints(pattern=_ADDRESS)] | None = None

    def as_typed_data(self) -> dict[str, Any]:
        """The domain as the ``domain`` member of ``eth_signTypedData_v4`` data."""
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
        }
        if self.verifying_contract is not None:
            data["verifyingContract"] = to_checksum_address(self.verifying_contract)
        return data

    def separator(self) -> bytes:
        """The EIP-712 domain separator (32 bytes)."""
        return _domain_separator(self.name, self.version, self.chain_id, self.verifying_contract)


@lru_cache(maxsize=64)
def _domain_separator(name: str, version: str, chain_id: int, contract: str | None) -> bytes:
    parts = [keccak(name.encode()), keccak(version.encode()), chain_id.to_bytes(32, "big")]
    if contract is None:
        return keccak(_DOMAIN_TYPEHASH_NO_CONTRACT + b"".join(parts))
    return keccak(_DOMAIN_TYPEHASH_FULL + b"".join(parts) + bytes(12) + bytes.fromhex(contract[2:]))


class DeploymentFacts(BaseModel):
    """What a deployment tells the registry about itself (the input of ``register``).

    Attributes:
        name: The service name others resolve (lower case, digits, ``.``, ``_``, ``-``).
        owner: The Akash account that owns the deployment (``akash1...``).
        dseq: The deployment sequence number on Akash.
        network: Where it runs (``sandbox``, ``mainnet``, ``testnet``, ...).
        providers: The Akash providers that hold its leases.
        endpoints: Where it answers: ``http(s)://host[:port][/path]`` or ``tcp://host:port``
            (none for a deployment that exposes nothing; it is recorded but cannot be connected to).
        manifest_hash: The manifest version hash (SHA-256, 64 hex digits).
        ttl_seconds: How long the record stays valid after it is issued, if it expires.
        expires_at: Or when it stops being valid (Unix seconds); not both.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ServiceName
    owner: AkashAddress
    dseq: Annotated[int, Field(ge=1, le=_UINT64_MAX)]
    network: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    providers: tuple[AkashAddress, ...] = ()
    endpoints: Annotated[tuple[str, ...], Field(max_length=64)] = ()
    manifest_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    ttl_seconds: Annotated[int, Field(ge=1, le=10 * 365 * 86400)] | None = None
    expires_at: Annotated[int, Field(ge=1, le=_UINT64_MAX)] | None = None

    @field_validator("expires_at")
    @classmethod
    def _one_expiry(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("ttl_seconds") is not None:
            raise ValueError("give ttl_seconds or expires_at, not both")
        return value

    def expiry(self, issued_at: int) -> int:
        """When a record of these facts issued at ``issued_at`` expires (0: never)."""
        if self.expires_at is not None:
            return self.expires_at
        return issued_at + self.ttl_seconds if self.ttl_seconds else 0

    @field_validator("endpoints")
    @classmethod
    def _check_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            match = _ENDPOINT.match(url)
            if match is None or not 0 < int(match.group(2) or 1) <= 65535:
                raise ValueError(
                    f"{url!r} is not an endpoint URL (http://, https://, tcp:// or udp://host:port)"
                )
        if len(set(value)) != len(value):
            raise ValueError("endpoints must not repeat")
        return value


class DeploymentRecord(BaseModel):
    """One signed entry of a service's history.

    Attributes:
        name: The service name.
        sequence: 1 for a name's first record, then one more for each record after it.
        prev_hash: The EIP-712 digest of the name's previous record (:data:`EMPTY_HASH` for the
            first).
        owner: The Akash account that owns the deployment.
        dseq: The deployment sequence number.
        network: Where the deployment runs.
        providers: The providers holding its leases.
        endpoints: Where the service answers.
        manifest_hash: The manifest version hash (64 hex digits).
        metadata_cid: CID (CIDv1, base32) of the record's metadata JSON in the content store.
        issued_at: When it was signed (Unix seconds).
        expires_at: When it stops being valid (Unix seconds); 0 if it does not expire.
        retired: Whether this is a tombstone: the service was closed and the name serves
            nothing until a later record says otherwise.
        signer: The address that signed it (checksummed).
        signature: The 65-byte signature, ``0x``-hex (``r || s || v`` with ``v`` 27 or 28).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ServiceName
    sequence: Annotated[int, Field(ge=1, le=_UINT64_MAX)]
    prev_hash: Annotated[str, StringConstraints(pattern=_HEX32)]
    owner: AkashAddress
    dseq: Uint64
    network: str
    providers: tuple[str, ...]
    endpoints: tuple[str, ...]
    manifest_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    metadata_cid: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    issued_at: Uint64
    expires_at: Uint64 = 0
    retired: bool = False
    signer: Annotated[str, StringConstraints(pattern=_ADDRESS)]
    signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{130}$")]

    @model_validator(mode="after")
    def _tombstone_serves_nothing(self) -> DeploymentRecord:
        if self.retired and (self.endpoints or self.providers):
            raise ValueError("a retired record (tombstone) lists no providers and no endpoints")
        return self

    def message(self) -> dict[str, Any]:
        """The record's fields as the ``message`` of ``eth_signTypedData_v4`` data."""
        return {
            "name": self.name,
            "sequence": self.sequence,
            "prevHash": bytes.fromhex(self.prev_hash[2:]),
            "owner": self.owner,
            "dseq": self.dseq,
            "network": self.network,
            "providers": list(self.providers),
            "endpoints": list(self.endpoints),
            "manifestHash": bytes.fromhex(self.manifest_hash),
            "metadataCid": self.metadata_cid,
            "issuedAt": self.issued_at,
            "expiresAt": self.expires_at,
            "retired": self.retired,
        }

    def canonical_json(self) -> str:
        """The record as compact JSON in field order: how ledgers store it (deterministic)."""
        return self.model_dump_json()

    def is_expired(self, now: float) -> bool:
        """Whether the record has an expiry and ``now`` (Unix seconds) is past it."""
        return self.expires_at != 0 and now >= self.expires_at


@lru_cache(maxsize=65_536)
def _string_hash(value: str) -> bytes:
    # Names, owners, networks and endpoints repeat across records; a keccak call costs ~6 us.
    return keccak(value.encode())


def _string_array_hash(items: Iterable[str]) -> bytes:
    return keccak(b"".join(_string_hash(item) for item in items))


def _struct_hash(record: DeploymentRecord) -> bytes:
    return keccak(
        b"".join(
            (
                _RECORD_TYPEHASH,
                _string_hash(record.name),
                record.sequence.to_bytes(32, "big"),
                bytes.fromhex(record.prev_hash[2:]),
                _string_hash(record.owner),
                record.dseq.to_bytes(32, "big"),
                _string_hash(record.network),
                _string_array_hash(record.providers),
                _string_array_hash(record.endpoints),
                bytes.fromhex(record.manifest_hash),
                _string_hash(record.metadata_cid),
                record.issued_at.to_bytes(32, "big"),
                record.expires_at.to_bytes(32, "big"),
                int(record.retired).to_bytes(32, "big"),
            )
        )
    )


def record_digest(record: DeploymentRecord, domain: RecordDomain) -> bytes:
    """The EIP-712 digest of ``record`` in ``domain``: what is signed, and the record's id.

    The signer and signature fields are not part of it.
    """
    return keccak(b"\x19\x01" + domain.separator() + _struct_hash(record))


def typed_data(record: DeploymentRecord, domain: RecordDomain) -> dict[str, Any]:
    """The full ``eth_signTypedData_v4`` document of ``record``, for wallets and cross-checks."""
    types = dict(RECORD_TYPES)
    if domain.verifying_contract is None:
        types["EIP712Domain"] = RECORD_TYPES["EIP712Domain"][:3]
    return {
        "types": types,
        "primaryType": "DeploymentRecord",
        "domain": domain.as_typed_data(),
        "message": record.message(),
    }


@lru_cache(maxsize=65_536)
def recover_signer(digest: bytes, signature: str) -> str:
    """Recover the checksummed address that signed ``digest``.

    A pure function of its arguments, so results are cached (``recover_signer.cache_clear()``
    empties the cache): re-reading a record already verified costs a digest, not an ECDSA
    recovery. An altered record has another digest and is recovered afresh.

    Raises:
        SignatureError: if the signature is malformed or recovers no key.
    """
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
        if len(raw) != 65 or raw[64] not in (27, 28):
            raise ValueError("expected 65 bytes ending in v = 27 or 28")
        sig = Signature(signature_bytes=raw[:64] + bytes([raw[64] - 27]))
        return str(sig.recover_public_key_from_msg_hash(digest).to_checksum_address())
    except (ValueError, BadSignature) as exc:
        raise SignatureError(f"malformed signature: {exc}") from exc


def verify_record(
    record: DeploymentRecord,
    domain: RecordDomain,
    trusted: Iterable[str] | Mapping[str, Any],
    *,
    previous: DeploymentRecord | None = None,
    previous_digest: bytes | None = None,
    check_chain: bool = True,
) -> bytes:
    """Check a record's signature, signer and place in its name's chain; return its digest.

    Args:
        record: The record to check.
        domain: The domain it must have been signed in.
        trusted: Addresses whose records are accepted (any case).
        previous: The name's record just before this one, or None if this must be the first.
        previous_digest: ``previous``'s digest, if the caller computed it already.
        check_chain: Whether to check ``sequence`` and ``prev_hash`` against ``previous``.

    Raises:
        SignatureError: if the signature does not recover the claimed signer, the signer is not
            trusted, or the sequence or previous hash does not follow ``previous``.
    """
    digest = record_digest(record, domain)
    signer = recover_signer(digest, record.signature)
    details = {"name": record.name, "sequence": record.sequence}
    if signer.lower() != record.signer.lower():
        raise SignatureError(
            f"record {record.name}#{record.sequence}: signature does not match its signer "
            f"{record.signer} (it was signed by {signer}, or the record was altered)",
            details={**details, "claimed": record.signer, "recovered": signer},
        )
    if signer.lower() not in {address.lower() for address in trusted}:
        raise SignatureError(
            f"record {record.name}#{record.sequence} is signed by {signer}, which is not a "
            "trusted signer",
            details={**details, "signer": signer},
        )
    if check_chain:
        check_link(record, previous, domain, previous_digest=previous_digest)
    return digest


def check_link(
    record: DeploymentRecord,
    previous: DeploymentRecord | None,
    domain: RecordDomain,
    *,
    previous_digest: bytes | None = None,
) -> None:
    """Check that ``record`` directly follows ``previous`` in its name's chain.

    Raises:
        SignatureError: if the sequence is not one more, or ``prev_hash`` is not the digest of
            ``previous`` (a replayed, reordered or forked record).
    """
    expected_seq = 1 if previous is None else previous.sequence + 1
    if previous is None:
        expected_prev = EMPTY_HASH
    else:
        expected_prev = "0x" + (previous_digest or record_digest(previous, domain)).hex()
    details = {"name": record.name, "sequence": record.sequence}
    if previous is not None and previous.name != record.name:
        raise SignatureError(
            f"record {record.name}#{record.sequence} follows a record of {previous.name!r}",
            details=details,
        )
    if record.sequence != expected_seq:
        raise SignatureError(
            f"record {record.name}#{record.sequence} is out of order: expected sequence "
            f"{expected_seq} (a replayed or reordered record)",
            details={**details, "expected_sequence": expected_seq},
        )
    if record.prev_hash != expected_prev:
        raise SignatureError(
            f"record {record.name}#{record.sequence} does not link to the record before it "
            "(previous-hash mismatch: a forked or replayed record)",
            details={**details, "expected_prev_hash": expected_prev, "prev_hash": record.prev_hash},
        )
