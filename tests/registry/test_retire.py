"""Retiring a name: a signed, chained tombstone that discovery honours."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from minds371.errors import ConfigurationError, ServiceUnavailable
from minds371_registry import (
    BlockchainRegistryProvider,
    EvmLedger,
    LocalContentStore,
    LocalLedger,
)

from .conftest import hits, make_facts
from .test_evm_ledger import _deployed


async def test_retired_name_resolves_to_its_tombstone(
    registry: BlockchainRegistryProvider, http_endpoint: Callable[..., str]
):
    url = http_endpoint(200)
    first = await registry.register(make_facts(endpoints=(url,)), {"v": 1})
    receipt = await registry.retire("web", dseq=1234, reason="ttl")
    assert receipt is not None and receipt.created and receipt.sequence == 2
    resolved = await registry.resolve("web")
    assert resolved.retired and resolved.endpoints == () and resolved.record.providers == ()
    assert resolved.record.prev_hash == first.record_id  # chained like any record
    assert (resolved.record.dseq, resolved.record.owner) == (1234, make_facts().owner)
    assert resolved.metadata == {"retired": "ttl", "dseq": 1234}
    assert await registry.endpoints("web") == []
    with pytest.raises(ServiceUnavailable, match="'web' was retired") as info:
        await registry.connect("web")
    assert info.value.retryable is False
    assert hits(url) == 0  # nothing of the old deployment is probed
    assert [e.record.retired for e in await registry.history("web")] == [False, True]
    assert (await registry.verify()).ok


async def test_retiring_is_idempotent_and_only_for_the_deployment_named(
    registry: BlockchainRegistryProvider,
):
    assert await registry.retire("web") is None  # nothing registered
    await registry.register(make_facts(dseq=7))
    assert await registry.retire("web", dseq=8) is None  # the name serves another deployment
    assert not (await registry.resolve("web")).retired
    first = await registry.retire("web", dseq=7)
    again = await registry.retire("web", dseq=7)
    assert first is not None and again is not None
    assert again.created is False and again.record_id == first.record_id
    assert len(await registry.history("web")) == 2


async def test_a_retired_name_can_be_registered_again(
    registry: BlockchainRegistryProvider, http_endpoint: Callable[..., str]
):
    url = http_endpoint(200)
    await registry.register(make_facts(endpoints=(url,)))
    await registry.retire("web")
    # The same facts as before the tombstone: a new record, not "unchanged".
    receipt = await registry.register(make_facts(endpoints=(url,)))
    assert receipt.created and receipt.sequence == 3
    resolved = await registry.resolve("web")
    assert not resolved.retired and resolved.endpoints == (url,)


async def test_names_of_a_deployment(registry: BlockchainRegistryProvider):
    await registry.register(make_facts("web", dseq=5))
    await registry.register(make_facts("api", dseq=5))
    await registry.register(make_facts("db", dseq=6))
    await registry.register(make_facts("old", dseq=5))
    await registry.register(make_facts("old", dseq=9))  # moved on
    assert await registry.names_of_deployment(5, "sandbox") == ["api", "web"]
    assert await registry.names_of_deployment(5, "mainnet") == []
    await registry.retire("web")
    assert await registry.names_of_deployment(5, "sandbox") == ["api"]


async def test_a_read_only_registry_cannot_retire(clean_environ: Path):
    reader = BlockchainRegistryProvider(
        ledger=LocalLedger(clean_environ / "l.db"),
        content=LocalContentStore(clean_environ / "c"),
        trusted_signers=["0x" + "11" * 20],
    )
    async with reader:
        with pytest.raises(ConfigurationError, match="read-only"):
            await reader.retire("web")


async def test_tombstone_on_the_evm_ledger(anvil: str, tmp_path: Path):
    owner, address, block = await _deployed(anvil)
    content = LocalContentStore(tmp_path)
    ledger = EvmLedger(anvil, address, content=content, signer=owner, from_block=block)
    async with BlockchainRegistryProvider(ledger=ledger, content=content, signer=owner) as registry:
        await registry.register(make_facts(), {"v": 1})
        receipt = await registry.retire("web", dseq=1234)
        assert receipt is not None and receipt.ledger == "evm" and receipt.sequence == 2
        resolved = await registry.resolve("web")
        assert resolved.retired and resolved.endpoints == ()
        assert [e.record.retired for e in await registry.history("web")] == [False, True]
        report = await registry.verify()
        assert report.ok and report.entries == 2 and not report.head_checked


async def test_registering_what_the_tombstone_says_revives_the_name(
    registry: BlockchainRegistryProvider,
):
    # Same owner, dseq, network, hash, no endpoints and even the same metadata: still not the
    # "unchanged" case, since the tombstone says the service is gone.
    await registry.register(make_facts(providers=(), endpoints=()))
    await registry.retire("web", reason="closed")
    facts = make_facts(providers=(), endpoints=())
    receipt = await registry.register(facts, {"retired": "closed", "dseq": 1234})
    assert receipt.created and receipt.sequence == 3
    assert not (await registry.resolve("web")).retired
