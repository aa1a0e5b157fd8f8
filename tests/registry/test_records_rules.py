"""The rules of registry records one at a time: facts, expiry, signature form, chain links.

``test_records.py`` checks the digest against eth-account and that tampering is caught; these pin
each refusal's exact reason and details, and each boundary.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from minds371.errors import SignatureError
from minds371_registry import DeploymentRecord, RecordDomain, RecordSigner, record_digest
from minds371_registry.records import (
    EMPTY_HASH,
    RECORD_TYPES,
    check_link,
    recover_signer,
    typed_data,
    verify_record,
)

from .conftest import OWNER, PROVIDER_ADDRESS, make_facts

LOCAL = RecordDomain()
CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
ON_CHAIN = RecordDomain(chain_id=31337, verifying_contract=CONTRACT)


def sign(signer: RecordSigner, name: str = "web", sequence: int = 1, prev: str = EMPTY_HASH,
         domain: RecordDomain = LOCAL, **facts: Any) -> DeploymentRecord:  # fmt: skip
    return signer.sign_record(
        make_facts(name, **facts),
        sequence=sequence,
        prev_hash=prev,
        metadata_cid="bafkreiabc",
        domain=domain,
        issued_at=1_700_000_000,
    )


def link(record: DeploymentRecord, domain: RecordDomain = LOCAL) -> str:
    return "0x" + record_digest(record, domain).hex()


def field_errors(**overrides: Any) -> list[tuple[str, str]]:
    with pytest.raises(pydantic.ValidationError) as caught:
        make_facts(**overrides)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


# -- facts -----------------------------------------------------------------------------------


def test_ttl_and_expires_at_are_exclusive() -> None:
    assert field_errors(ttl_seconds=60, expires_at=1_800_000_000) == [
        ("expires_at", "Value error, give ttl_seconds or expires_at, not both")
    ]
    assert make_facts(expires_at=1_800_000_000).expires_at == 1_800_000_000


def test_expiry_from_ttl_from_a_fixed_time_or_never() -> None:
    assert make_facts(ttl_seconds=60).expiry(1000) == 1060
    assert make_facts(expires_at=5000).expiry(1000) == 5000
    assert make_facts().expiry(1000) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "https://app.example.com",
        "tcp://10.0.0.1:5432",
        "udp://host:53",
        "https://h/path?q=1#f",
        "http://[2001:db8::1]:8080/",
        "tcp://h:65535",
    ],
)
def test_endpoint_urls_of_each_scheme_are_accepted(url: str) -> None:
    assert make_facts(endpoints=(url,)).endpoints == (url,)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/",
        "http://",
        "http://a b/",
        "h:80",
        " http://h/",
        "http://h:123456/",
        "http://h:65536/",
        "tcp://h:0",
        "http://h:80:81/",
    ],
)
def test_other_endpoints_are_refused_naming_the_url(url: str) -> None:
    assert field_errors(endpoints=(url,)) == [
        (
            "endpoints",
            f"Value error, {url!r} is not an endpoint URL "
            "(http://, https://, tcp:// or udp://host:port)",
        )
    ]


def test_endpoints_must_not_repeat() -> None:
    assert field_errors(endpoints=("http://h/", "http://h/")) == [
        ("endpoints", "Value error, endpoints must not repeat")
    ]
    assert make_facts(endpoints=("http://h/", "http://h:81/")).endpoints[1] == "http://h:81/"


def test_a_tombstone_with_providers_only_is_refused(signer: RecordSigner) -> None:
    record = sign(signer, providers=(), endpoints=())
    data = {**record.model_dump(), "retired": True}
    assert DeploymentRecord.model_validate(data).retired
    with pytest.raises(pydantic.ValidationError, match="lists no providers and no endpoints"):
        DeploymentRecord.model_validate({**data, "providers": (PROVIDER_ADDRESS,)})


@pytest.mark.parametrize(("now", "expired"), [(1_700_000_059, False), (1_700_000_060, True)])
def test_a_record_expires_at_its_expiry(signer: RecordSigner, now: int, expired: bool) -> None:
    assert sign(signer, ttl_seconds=60).is_expired(now) is expired


def test_a_record_without_expiry_never_expires(signer: RecordSigner) -> None:
    record = sign(signer)
    assert record.expires_at == 0
    assert record.is_expired(2**63) is False


def test_canonical_json_is_the_records_compact_json_in_field_order(signer: RecordSigner) -> None:
    record = sign(signer)
    body = record.canonical_json()
    assert body.startswith('{"name":"web","sequence":1,"prev_hash":"0x00')
    assert DeploymentRecord.model_validate_json(body) == record


# -- the domain and the typed data -----------------------------------------------------------


def test_a_local_domain_has_no_contract_and_a_chain_domain_a_checksummed_one() -> None:
    assert LOCAL.as_typed_data() == {"name": "minds371 registry", "version": "2", "chainId": 0}
    assert ON_CHAIN.as_typed_data() == {
        "name": "minds371 registry",
        "version": "2",
        "chainId": 31337,
        "verifyingContract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    }


def test_typed_data_names_the_domain_fields_it_uses(signer: RecordSigner) -> None:
    local = typed_data(sign(signer), LOCAL)
    assert [f["name"] for f in local["types"]["EIP712Domain"]] == ["name", "version", "chainId"]
    chain = typed_data(sign(signer, domain=ON_CHAIN), ON_CHAIN)
    assert chain["types"]["EIP712Domain"] == RECORD_TYPES["EIP712Domain"]
    assert chain["primaryType"] == "DeploymentRecord"
    assert len(RECORD_TYPES["EIP712Domain"]) == 4  # the local domain's cut did not edit it


def test_every_domain_field_changes_the_digest(signer: RecordSigner) -> None:
    record = sign(signer)
    digests = {
        record_digest(record, domain)
        for domain in (
            LOCAL,
            RecordDomain(name="another registry"),
            RecordDomain(version="3"),
            RecordDomain(chain_id=1),
            ON_CHAIN,
            RecordDomain(chain_id=31337, verifying_contract="0x" + "11" * 20),
        )
    }
    assert len(digests) == 6


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    ["0x" + "00" * 64 + "1b00", "0x" + "00" * 63 + "1b", "0x" + "11" * 64 + "1d", "0xzz"],
    ids=["66 bytes", "64 bytes", "v 29", "not hex"],
)
def test_a_malformed_signature_is_refused_as_malformed(signature: str) -> None:
    with pytest.raises(SignatureError, match=r"^malformed signature: "):
        recover_signer(b"\x01" * 32, signature)


def test_a_signature_with_v_27_or_28_recovers(signer: RecordSigner) -> None:
    record = sign(signer)
    v = int(record.signature[-2:], 16)
    assert v in (27, 28)
    assert recover_signer(record_digest(record, LOCAL), record.signature) == signer.address
    flipped = record.signature[:-2] + format(55 - v, "02x")  # the other parity: another key
    assert recover_signer(record_digest(record, LOCAL), flipped) != signer.address


def test_a_mismatched_signer_is_named_with_both_addresses(signer: RecordSigner) -> None:
    other = RecordSigner.generate()
    record = sign(signer).model_copy(update={"signer": other.address})
    with pytest.raises(SignatureError) as caught:
        verify_record(record, LOCAL, [other.address])
    assert caught.value.message == (
        f"record web#1: signature does not match its signer {other.address} "
        f"(it was signed by {signer.address}, or the record was altered)"
    )
    assert caught.value.details == {
        "name": "web",
        "sequence": 1,
        "claimed": other.address,
        "recovered": signer.address,
    }


def test_an_untrusted_signer_is_named(signer: RecordSigner) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_record(sign(signer), LOCAL, [RecordSigner.generate().address])
    assert caught.value.message == (
        f"record web#1 is signed by {signer.address}, which is not a trusted signer"
    )
    assert caught.value.details == {"name": "web", "sequence": 1, "signer": signer.address}


def test_trusted_addresses_match_in_any_case(signer: RecordSigner) -> None:
    record = sign(signer)
    for address in (signer.address.lower(), signer.address.upper().replace("0X", "0x")):
        assert verify_record(record, LOCAL, {address: None}) == record_digest(record, LOCAL)
    lower_claim = record.model_copy(update={"signer": signer.address.lower()})
    assert verify_record(lower_claim, LOCAL, [signer.address]) == record_digest(record, LOCAL)


# -- the chain of a name ---------------------------------------------------------------------


def test_without_chain_checks_any_place_is_accepted(signer: RecordSigner) -> None:
    later = sign(signer, sequence=5, prev="0x" + "22" * 32)
    assert verify_record(later, LOCAL, [signer.address], check_chain=False) == record_digest(
        later, LOCAL
    )
    with pytest.raises(SignatureError, match="out of order"):
        verify_record(later, LOCAL, [signer.address])


def test_the_first_record_links_to_the_empty_hash(signer: RecordSigner) -> None:
    check_link(sign(signer), None, LOCAL)
    wrong = sign(signer, prev="0x" + "22" * 32)
    with pytest.raises(SignatureError) as caught:
        check_link(wrong, None, LOCAL)
    assert caught.value.details == {
        "name": "web",
        "sequence": 1,
        "expected_prev_hash": EMPTY_HASH,
        "prev_hash": "0x" + "22" * 32,
    }


def test_a_next_record_links_by_sequence_and_digest(signer: RecordSigner) -> None:
    first = sign(signer)
    second = sign(signer, sequence=2, prev=link(first))
    check_link(second, first, LOCAL)
    check_link(second, first, LOCAL, previous_digest=record_digest(first, LOCAL))
    # a given digest is trusted as the previous record's: a wrong one is a mismatch
    with pytest.raises(SignatureError, match="previous-hash mismatch"):
        check_link(second, first, LOCAL, previous_digest=b"\x33" * 32)
    # the digest is taken in the ledger's domain
    with pytest.raises(SignatureError, match="previous-hash mismatch"):
        check_link(second, first, ON_CHAIN)


def test_out_of_order_names_the_expected_sequence(signer: RecordSigner) -> None:
    first = sign(signer)
    third = sign(signer, sequence=3, prev=link(first))
    with pytest.raises(SignatureError) as caught:
        check_link(third, first, LOCAL)
    assert caught.value.message == (
        "record web#3 is out of order: expected sequence 2 (a replayed or reordered record)"
    )
    assert caught.value.details == {"name": "web", "sequence": 3, "expected_sequence": 2}


def test_a_fork_names_both_hashes(signer: RecordSigner) -> None:
    first = sign(signer)
    fork = sign(signer, sequence=2, prev="0x" + "44" * 32)
    with pytest.raises(SignatureError) as caught:
        check_link(fork, first, LOCAL)
    assert caught.value.message == (
        "record web#2 does not link to the record before it "
        "(previous-hash mismatch: a forked or replayed record)"
    )
    assert caught.value.details == {
        "name": "web",
        "sequence": 2,
        "expected_prev_hash": link(first),
        "prev_hash": "0x" + "44" * 32,
    }


def test_a_record_following_another_name_is_refused_before_its_sequence(
    signer: RecordSigner,
) -> None:
    api = sign(signer, "api")
    # the right sequence and link for `api`, but another name: only the name check refuses it
    web = sign(signer, "web", sequence=2, prev=link(api))
    with pytest.raises(SignatureError) as caught:
        check_link(web, api, LOCAL)
    assert caught.value.message == "record web#2 follows a record of 'api'"
    assert caught.value.details == {"name": "web", "sequence": 2}
    # and with a wrong sequence too, the name is what is reported
    with pytest.raises(SignatureError, match="follows a record of 'api'"):
        check_link(sign(signer, "web", sequence=7, prev=link(api)), api, LOCAL)


def test_records_of_the_same_owner_differ_by_every_signed_fact(signer: RecordSigner) -> None:
    base = sign(signer)
    variants = [
        sign(signer, owner="akash1" + "z" * 38),
        sign(signer, network="mainnet"),
        sign(signer, manifest_hash="cd" * 32),
        sign(signer, providers=(PROVIDER_ADDRESS, "akash1" + "x" * 38)),
        sign(signer, ttl_seconds=5),
    ]
    digests = {record_digest(r, LOCAL) for r in [base, *variants]}
    assert len(digests) == 6
    assert base.owner == OWNER


def test_verify_record_checks_the_link_with_the_callers_digest(signer: RecordSigner) -> None:
    first = sign(signer)
    second = sign(signer, sequence=2, prev=link(first))
    good = record_digest(first, LOCAL)
    assert verify_record(second, LOCAL, [signer.address], previous=first, previous_digest=good)
    with pytest.raises(SignatureError, match="previous-hash mismatch"):
        verify_record(second, LOCAL, [signer.address], previous=first, previous_digest=b"\x33" * 32)
