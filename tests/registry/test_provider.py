"""The registry end to end on the embedded stack, and the security proofs: forged, untrusted,
replayed and swapped records are refused and never reach discovery."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minds371.errors import (
    ConfigurationError,
    ContentMismatch,
    LedgerError,
    RegistryError,
    ServiceUnavailable,
    SignatureError,
    ValidationError,
)
from minds371_registry import (
    BlockchainRegistryProvider,
    LocalContentStore,
    LocalLedger,
    RecordSigner,
)
from minds371_registry.records import record_digest

from ._tamper import rewrite_row
from .conftest import hits, make_facts, overwrite_block

FORGED = "http://10.6.6.6:80/"


async def test_register_then_resolve(
    registry: BlockchainRegistryProvider, http_endpoint: Callable[..., str]
):
    url = http_endpoint(200)
    first = await registry.register(
        make_facts(endpoints=(url,)), {"sdl": "version: '2.0'", "price": 1.5}
    )
    assert first.sequence == 1 and first.ledger == "local" and first.cid.startswith("bafkrei")
    second = await registry.register(make_facts(endpoints=(url,), dseq=99), {"note": "redeploy"})
    assert second.sequence == 2
    resolved = await registry.resolve("web")
    assert resolved.sequence == 2 and resolved.record.dseq == 99
    assert resolved.record_id == second.record_id
    assert resolved.metadata == {"note": "redeploy"}
    assert resolved.record.prev_hash == first.record_id
    assert [e.record.sequence for e in await registry.history("web")] == [1, 2]
    assert (await registry.connect("web")).url == url
    report = await registry.verify(check_content=True)
    assert report.ok and report.entries == 2 and report.names == 1


async def test_bad_input_is_named_and_nothing_is_written(registry: BlockchainRegistryProvider):
    with pytest.raises(ValidationError) as info:
        await registry.register(
            {
                "name": "Web!",
                "owner": "bob",
                "dseq": 0,
                "network": "sandbox",
                "endpoints": ["ftp://x"],
                "manifest_hash": "zz",
            },
        )
    paths = {issue.path for issue in info.value.issues}
    assert {"/name", "/owner", "/dseq", "/endpoints", "/manifest_hash"} <= paths
    with pytest.raises(ValidationError) as meta:
        await registry.register(make_facts(), {"when": object()})
    assert meta.value.issues[0].path == "/metadata"
    with pytest.raises(ValidationError):
        await registry.resolve("NOT A NAME")
    assert [e async for e in registry.ledger.entries()] == []


async def test_unknown_name_and_read_only(registry: BlockchainRegistryProvider, tmp_path: Path):
    with pytest.raises(RegistryError, match="no record"):
        await registry.resolve("nobody")
    reader = BlockchainRegistryProvider(
        ledger=LocalLedger(tmp_path / "x.db"), content=LocalContentStore(tmp_path)
    )
    async with reader:
        with pytest.raises(ConfigurationError, match="no trusted signers"):
            await reader.resolve("web")
        with pytest.raises(ConfigurationError, match="read-only"):
            await reader.register(make_facts())


async def test_expired_record_is_not_resolved(clean_environ: Path, signer: RecordSigner):
    now = [1_700_000_000.0]
    provider = BlockchainRegistryProvider(
        ledger=LocalLedger(clean_environ / "l.db"),
        content=LocalContentStore(clean_environ / "c"),
        signer=signer,
        clock=lambda: now[0],
    )
    async with provider:
        await provider.register(make_facts(ttl_seconds=60))
        assert (await provider.resolve("web")).record.expires_at == 1_700_000_060
        now[0] += 61
        with pytest.raises(RegistryError, match="expired"):
            await provider.resolve("web")


# -- security proofs -------------------------------------------------------------------------------


async def _two_records(registry: BlockchainRegistryProvider, url: str) -> None:
    await registry.register(make_facts(endpoints=(url,)), {"v": 1})
    await registry.register(make_facts(endpoints=(url,), dseq=2), {"v": 2})


def _rewrite_row(path: Path, position: int, body: str, digest: str) -> None:
    """Replace a row's record and re-compute the whole hash chain from there, as an attacker
    with write access to the file would."""
    rewrite_row(path, position, body, digest)


@pytest.fixture
def forged(http_endpoint: Callable[..., str]) -> str:
    """The attacker's endpoint: a live, healthy server, so that any probe of it would show."""
    return http_endpoint(200)


async def _assert_refused(
    registry: BlockchainRegistryProvider, error: type[Exception], forged: str
) -> None:
    with pytest.raises(error):
        await registry.resolve("web")
    with pytest.raises(error):
        await registry.endpoints("web")
    with pytest.raises(error):
        await registry.connect("web")
    report = await registry.verify(check_content=True)
    assert not report.ok and report.error == error.__name__
    assert hits(forged) == 0  # discovery never even probed the forged endpoint


async def test_record_edited_in_the_sqlite_file(
    registry: BlockchainRegistryProvider, http_endpoint, forged: str
):
    genuine = http_endpoint(200)
    await _two_records(registry, genuine)
    path = registry.ledger.path  # type: ignore[attr-defined]
    with sqlite3.connect(path, isolation_level=None) as db:
        (body,) = db.execute("SELECT record FROM entries WHERE position = 2").fetchone()
        assert genuine in body
        db.execute(
            "UPDATE entries SET record = ? WHERE position = 2", (body.replace(genuine, forged),)
        )
    await _assert_refused(registry, LedgerError, forged)
    report = await registry.verify()
    assert report.position == 2


async def test_record_edited_with_the_hash_chain_recomputed(
    registry: BlockchainRegistryProvider, http_endpoint, forged: str
):
    await _two_records(registry, http_endpoint(200))
    latest = await registry.ledger.latest("web")
    assert latest is not None
    edited = latest.record.model_copy(update={"endpoints": (forged,)})
    digest = "0x" + record_digest(edited, registry.ledger.domain).hex()
    _rewrite_row(registry.ledger.path, 2, edited.canonical_json(), digest)  # type: ignore[attr-defined]
    await _assert_refused(registry, SignatureError, forged)


async def test_record_signed_by_an_untrusted_key(
    registry: BlockchainRegistryProvider, http_endpoint, forged: str
):
    await _two_records(registry, http_endpoint(200))
    latest = await registry.ledger.latest("web")
    assert latest is not None
    intruder = RecordSigner.generate()
    planted = intruder.sign_record(
        make_facts(endpoints=(forged,)),
        sequence=2,
        prev_hash=latest.record.prev_hash,
        metadata_cid=latest.record.metadata_cid,
        domain=registry.ledger.domain,
    )
    digest = "0x" + record_digest(planted, registry.ledger.domain).hex()
    _rewrite_row(registry.ledger.path, 2, planted.canonical_json(), digest)  # type: ignore[attr-defined]
    await _assert_refused(registry, SignatureError, forged)
    with pytest.raises(SignatureError, match="not a trusted signer"):
        await registry.resolve("web")


async def test_replayed_older_record(
    registry: BlockchainRegistryProvider, http_endpoint, forged: str
):
    # The service once ran at `forged`, an address since handed to someone else.
    await registry.register(make_facts(endpoints=(forged,)), {"v": 1})
    await registry.register(make_facts(endpoints=(http_endpoint(200),), dseq=2), {"v": 2})
    await registry.register(make_facts(endpoints=(http_endpoint(200),), dseq=3), {"v": 3})
    old = (await registry.ledger.history("web"))[0]
    # Through the ledger's API: refused outright.
    with pytest.raises(LedgerError, match="does not follow"):
        await registry.ledger.append(old.record)
    # Written into the file over the latest entry, chain re-computed: refused on read.
    _rewrite_row(registry.ledger.path, 3, old.record.canonical_json(), old.record_hash)  # type: ignore[attr-defined]
    await _assert_refused(registry, SignatureError, forged)
    with pytest.raises(SignatureError, match="out of order"):
        await registry.resolve("web")


async def test_metadata_swapped_under_its_cid(
    registry: BlockchainRegistryProvider, http_endpoint, forged: str
):
    receipt = await registry.register(
        make_facts(endpoints=(http_endpoint(200),)), {"endpoint": "good"}
    )
    store = registry.content
    assert isinstance(store, LocalContentStore)
    overwrite_block(store, receipt.cid, b'{"endpoint":"' + forged.encode() + b'"}')
    with pytest.raises(ContentMismatch):
        await registry.resolve("web")
    with pytest.raises(ContentMismatch):
        await registry.connect("web")
    report = await registry.verify()  # the metadata is checked by default
    assert not report.ok and report.error == "ContentMismatch" and report.position == 1
    assert report.content_checked
    assert (await registry.verify(check_content=False)).ok  # the ledger itself is intact
    assert hits(forged) == 0


async def test_all_endpoints_down(
    registry: BlockchainRegistryProvider, dead_endpoint: str, http_endpoint
):
    await registry.register(make_facts(endpoints=(dead_endpoint, http_endpoint(503))))
    with pytest.raises(ServiceUnavailable) as info:
        await registry.connect("web")
    assert dead_endpoint in info.value.message and "HTTP 503" in info.value.message
    assert info.value.retryable


async def test_register_refuses_to_extend_a_forged_head(registry: BlockchainRegistryProvider):
    await registry.register(make_facts(), {"v": 1})
    latest = await registry.ledger.latest("web")
    assert latest is not None
    forged = RecordSigner.generate().sign_record(
        make_facts(endpoints=(FORGED,)),
        sequence=1,
        prev_hash=latest.record.prev_hash,
        metadata_cid=latest.record.metadata_cid,
        domain=registry.ledger.domain,
    )
    digest = "0x" + record_digest(forged, registry.ledger.domain).hex()
    _rewrite_row(registry.ledger.path, 1, forged.canonical_json(), digest)  # type: ignore[attr-defined]
    with pytest.raises(SignatureError, match="not a trusted signer"):
        await registry.register(make_facts(dseq=2), {"v": 2})
    assert len(await registry.ledger.history("web")) == 1


async def test_concurrent_registrations_get_consecutive_sequences(
    registry: BlockchainRegistryProvider,
):
    import anyio

    receipts = []

    async def one(dseq: int) -> None:
        receipts.append(await registry.register(make_facts(dseq=dseq), {"dseq": dseq}))

    async with anyio.create_task_group() as group:
        for dseq in range(1, 6):
            group.start_soon(one, dseq)
    assert sorted(r.sequence for r in receipts) == [1, 2, 3, 4, 5]
    assert (await registry.verify()).ok


async def test_rejections_are_logged_for_operators(registry: BlockchainRegistryProvider):
    from structlog.testing import capture_logs

    receipt = await registry.register(make_facts(), {"endpoint": "good"})
    store = registry.content
    assert isinstance(store, LocalContentStore)
    overwrite_block(store, receipt.cid, b"{}")
    with capture_logs() as logs, pytest.raises(ContentMismatch):
        await registry.resolve("web")
    rejected = [e for e in logs if e["event"] == "minds371.registry.rejected"]
    assert rejected and rejected[0]["error"] == "ContentMismatch"
    assert rejected[0]["log_level"] == "warning"


async def test_pydantic_metadata_is_stored_as_json(registry: BlockchainRegistryProvider):
    from pydantic import BaseModel

    class Meta(BaseModel):
        price: float
        leases: list[str]

    await registry.register(make_facts(), Meta(price=1.5, leases=["a", "b"]))
    assert (await registry.resolve("web")).metadata == {"price": 1.5, "leases": ["a", "b"]}


async def test_two_writers_on_one_ledger_file_both_succeed(
    clean_environ: Path, signer: RecordSigner
):
    # Two providers (as two processes would) share the SQLite file, the key and the home's memory
    # of sequences seen; each append that loses the race is signed again on top of the winner's
    # record, and neither takes the other's newer record for a rollback.
    import anyio

    from minds371_registry import SeenSequences

    def provider() -> BlockchainRegistryProvider:
        return BlockchainRegistryProvider(
            ledger=LocalLedger(clean_environ / "l.db"),
            content=LocalContentStore(clean_environ / "c"),
            signer=signer,
            seen=SeenSequences(clean_environ / "seen.json"),
        )

    async with provider() as one, provider() as two:
        async with anyio.create_task_group() as group:
            for dseq in range(1, 4):
                group.start_soon(one.register, make_facts(dseq=dseq))
                group.start_soon(two.register, make_facts(dseq=dseq + 10))
        history = await one.history("web")
        assert [e.record.sequence for e in history] == [1, 2, 3, 4, 5, 6]
        assert (await two.verify()).ok


async def test_oversized_metadata_is_refused(registry: BlockchainRegistryProvider):
    registry.max_metadata_bytes = 100
    with pytest.raises(ValidationError, match="more than the 100 allowed"):
        await registry.register(make_facts(), {"blob": "x" * 200})
    assert await registry.ledger.history("web") == []


_FIELDS = [
    "name",
    "owner",
    "dseq",
    "network",
    "providers",
    "endpoints",
    "manifest_hash",
    "ttl_seconds",
    "extra",
]
_VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3)
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.sampled_from(_FIELDS), _VALUES))
async def test_any_facts_mapping_is_refused_naming_fields(
    registry: BlockchainRegistryProvider, fields
):
    with pytest.raises(ValidationError) as info:
        await registry.register(fields)
    assert info.value.issues
    assert all(issue.path.startswith("/") for issue in info.value.issues)


async def test_absolute_expiry(registry: BlockchainRegistryProvider):
    import time

    soon = int(time.time()) + 3600
    receipt = await registry.register(make_facts(expires_at=soon))
    assert receipt.expires_at == soon
    with pytest.raises(ValidationError) as past:
        await registry.register(make_facts(expires_at=1_000))
    assert past.value.issues[0].path == "/expires_at"
    with pytest.raises(ValidationError, match="not both") as both:
        await registry.register(
            {**make_facts().model_dump(), "ttl_seconds": 60, "expires_at": soon}
        )
    assert both.value.issues[0].path == "/expires_at"


async def test_repeating_a_registration_appends_nothing(registry: BlockchainRegistryProvider):
    first = await registry.register(make_facts(), {"v": 1})
    again = await registry.register(make_facts(), {"v": 1})
    assert first.created and not again.created
    assert again.record_id == first.record_id and again.sequence == 1
    changed = await registry.register(make_facts(), {"v": 2})
    assert changed.created and changed.sequence == 2
    refreshed = await registry.register(make_facts(ttl_seconds=60), {"v": 2})
    assert refreshed.created and refreshed.sequence == 3
    renewed = await registry.register(make_facts(ttl_seconds=60), {"v": 2})
    assert renewed.created and renewed.sequence == 4  # a TTL always asks for a fresh expiry
    assert len(await registry.history("web")) == 4


async def test_a_deployment_without_endpoints_is_recorded_but_not_connectable(
    registry: BlockchainRegistryProvider,
):
    await registry.register(make_facts(endpoints=()))
    assert (await registry.resolve("web")).endpoints == ()
    assert await registry.endpoints("web") == []
    with pytest.raises(ServiceUnavailable, match="no endpoints"):
        await registry.connect("web")
