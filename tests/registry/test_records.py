from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

from minds371.errors import SignatureError
from minds371_registry import DeploymentRecord, RecordDomain, RecordSigner, record_digest
from minds371_registry.records import EMPTY_HASH, recover_signer, typed_data, verify_record

from .conftest import make_facts

DOMAINS = [
    RecordDomain(),
    RecordDomain(chain_id=31337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3"),
]


def _sign(
    signer: RecordSigner, domain: RecordDomain, sequence: int = 1, prev_hash: str = EMPTY_HASH
) -> DeploymentRecord:
    return signer.sign_record(
        make_facts(ttl_seconds=60),
        sequence=sequence,
        prev_hash=prev_hash,
        metadata_cid="bafkreiabc",
        domain=domain,
        issued_at=1_700_000_000,
    )


@pytest.mark.parametrize("domain", DOMAINS)
def test_digest_equals_eth_account_typed_data_hash(signer: RecordSigner, domain: RecordDomain):
    record = _sign(signer, domain)
    message = encode_typed_data(full_message=typed_data(record, domain))
    assert _hash_eip191_message(message) == record_digest(record, domain)
    # A wallet's eth_signTypedData_v4 over the same document recovers the same signer.
    assert Account.recover_message(message, signature=record.signature) == signer.address


@pytest.mark.parametrize("domain", DOMAINS)
def test_signature_is_the_one_a_wallet_makes_over_the_typed_data(domain: RecordDomain):
    # Deterministic ECDSA (RFC 6979, low s): a wallet signing the same typed data with the same
    # key produces the record's signature to the byte, v included.
    key = "0x" + "4c" * 32
    for sequence in (1, 2, 3):
        record = _sign(RecordSigner(key), domain, sequence=sequence)
        wallet = Account.sign_typed_data(key, full_message=typed_data(record, domain))
        assert record.signature == "0x" + bytes(wallet.signature).hex()


def test_digest_with_empty_and_many_providers_matches_eth_account(signer: RecordSigner):
    domain = DOMAINS[1]
    for providers in ((), ("akash1" + "p" * 38, "akash1" + "z" * 38, "akash1" + "x" * 38)):
        record = _sign(signer, domain).model_copy(update={"providers": providers})
        message = encode_typed_data(full_message=typed_data(record, domain))
        assert _hash_eip191_message(message) == record_digest(record, domain)


@pytest.mark.parametrize("domain", DOMAINS)
def test_signed_record_verifies(signer: RecordSigner, domain: RecordDomain):
    record = _sign(signer, domain)
    assert record.expires_at == 1_700_000_060
    digest = verify_record(record, domain, [signer.address.lower()])
    assert digest == record_digest(record, domain)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endpoints", ("http://evil.example:80/",)),
        ("dseq", 999),
        ("sequence", 2),
        ("metadata_cid", "bafkreiother"),
        ("expires_at", 0),
        ("providers", ()),
    ],
)
def test_any_edited_field_breaks_the_signature(signer: RecordSigner, field: str, value: object):
    record = _sign(signer, DOMAINS[0])
    forged = record.model_copy(update={field: value})
    with pytest.raises(SignatureError, match="does not match its signer"):
        verify_record(forged, DOMAINS[0], [signer.address], check_chain=False)


def test_record_signed_in_another_domain_does_not_verify(signer: RecordSigner):
    record = _sign(signer, DOMAINS[0])
    with pytest.raises(SignatureError):
        verify_record(record, DOMAINS[1], [signer.address])


def test_untrusted_signer_is_rejected(signer: RecordSigner):
    record = _sign(signer, DOMAINS[0])
    other = RecordSigner.generate()
    with pytest.raises(SignatureError, match="not a trusted signer"):
        verify_record(record, DOMAINS[0], [other.address])


def test_claiming_another_signer_is_rejected(signer: RecordSigner):
    trusted = RecordSigner.generate()
    record = _sign(signer, DOMAINS[0]).model_copy(update={"signer": trusted.address})
    with pytest.raises(SignatureError, match="does not match its signer"):
        verify_record(record, DOMAINS[0], [trusted.address])


def test_chain_link_checks(signer: RecordSigner):
    domain = DOMAINS[0]
    first = _sign(signer, domain)
    second = _sign(signer, domain, sequence=2, prev_hash="0x" + record_digest(first, domain).hex())
    verify_record(second, domain, [signer.address], previous=first)
    # The first record replayed after the second: out of order.
    with pytest.raises(SignatureError, match="out of order"):
        verify_record(first, domain, [signer.address], previous=second)
    # A second record that links to something else: a fork.
    fork = _sign(signer, domain, sequence=2, prev_hash="0x" + "11" * 32)
    with pytest.raises(SignatureError, match="previous-hash mismatch"):
        verify_record(fork, domain, [signer.address], previous=first)
    # A later record with its predecessor missing.
    with pytest.raises(SignatureError, match="expected sequence 1"):
        verify_record(second, domain, [signer.address], previous=None)


def test_malformed_signature_is_a_signature_error(signer: RecordSigner):
    with pytest.raises(SignatureError, match="malformed"):
        recover_signer(b"\x00" * 32, "0x" + "00" * 64 + "05")


def test_signer_never_shows_its_key(signer: RecordSigner):
    key_hex = signer._key.to_hex().removeprefix("0x")
    assert key_hex not in repr(signer)
    assert signer.address in repr(signer)


def test_a_record_chained_to_another_names_record_is_refused(signer: RecordSigner):
    # Sequence and previous hash both follow `api`#1: only the name tells the chains apart.
    domain = DOMAINS[0]
    api = signer.sign_record(
        make_facts("api"),
        sequence=1,
        prev_hash=EMPTY_HASH,
        metadata_cid="bafkreiabc",
        domain=domain,
    )
    web = _sign(signer, domain, sequence=2, prev_hash="0x" + record_digest(api, domain).hex())
    with pytest.raises(SignatureError, match=r"web#2 follows a record of 'api'"):
        verify_record(web, domain, [signer.address], previous=api)


def test_a_tombstone_lists_nothing_and_its_flag_is_signed(signer: RecordSigner):
    domain = DOMAINS[1]
    tomb = signer.sign_record(
        make_facts(providers=(), endpoints=()),
        sequence=1,
        prev_hash=EMPTY_HASH,
        metadata_cid="bafkreiabc",
        domain=domain,
        retired=True,
    )
    message = encode_typed_data(full_message=typed_data(tomb, domain))
    assert _hash_eip191_message(message) == record_digest(tomb, domain)
    verify_record(tomb, domain, [signer.address])
    # Un-retiring it (to bring the old deployment back) breaks the signature.
    with pytest.raises(SignatureError, match="does not match its signer"):
        verify_record(tomb.model_copy(update={"retired": False}), domain, [signer.address])
    with pytest.raises(ValueError, match="tombstone"):
        DeploymentRecord.model_validate({**tomb.model_dump(), "endpoints": ("http://10.6.6.6/",)})


@pytest.mark.parametrize("domain", DOMAINS)
def test_head_digest_equals_eth_account_typed_data_hash(signer: RecordSigner, domain: RecordDomain):
    from minds371_registry.head import (
        HEAD_TYPE,
        NameHead,
        head_digest,
        names_hash,
        sign_head,
        verify_head,
    )

    names = {
        "web": NameHead(sequence=3, record_hash="0x" + "ab" * 32),
        "api": NameHead(sequence=1, record_hash="0x" + "cd" * 32),
    }
    head = sign_head(
        signer, domain, entries=4, last_entry_hash="ef" * 32, names=names, issued_at=1_700_000_000
    )
    document = {
        "types": {
            "EIP712Domain": typed_data(_sign(signer, domain), domain)["types"]["EIP712Domain"],
            "LedgerHead": HEAD_TYPE,
        },
        "primaryType": "LedgerHead",
        "domain": domain.as_typed_data(),
        "message": {
            "entries": 4,
            "lastEntryHash": bytes.fromhex("ef" * 32),
            "namesHash": names_hash(names.items()),
            "issuedAt": 1_700_000_000,
        },
    }
    message = encode_typed_data(full_message=document)
    assert _hash_eip191_message(message) == head_digest(head, domain)
    assert Account.recover_message(message, signature=head.signature) == signer.address
    verify_head(head, domain, [signer.address])
    # The names commitment does not depend on the order the names come in.
    assert names_hash(reversed(list(names.items()))) == names_hash(names.items())
