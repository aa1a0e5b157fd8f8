"""The EVM ledger against a real Anvil node."""

from __future__ import annotations

from pathlib import Path

import pytest

from minds371.errors import LedgerError, SignatureError
from minds371_registry import (
    BlockchainRegistryProvider,
    EvmLedger,
    LocalContentStore,
    RecordDomain,
    RecordSigner,
    deploy_registry_contract,
)
from minds371_registry.records import EMPTY_HASH

from .conftest import fund, make_facts, overwrite_block, stored_blocks


def _swap_record_body(root: Path) -> None:
    # The record body is the only stored object with a signature in it (the other is metadata).
    store = LocalContentStore(root)
    bodies = [(cid, data) for cid, data in stored_blocks(store).items() if b'"signature"' in data]
    assert len(bodies) == 1
    cid, data = bodies[0]
    overwrite_block(store, cid, data.replace(b"127.0.0.1", b"10.6.6.6"))


async def _deployed(anvil: str) -> tuple[RecordSigner, str, int]:
    owner = RecordSigner.generate()
    await fund(anvil, owner.address)
    address, block = await deploy_registry_contract(anvil, owner)
    return owner, address, block


async def test_round_trip_through_the_provider(anvil: str, tmp_path: Path):
    owner, address, block = await _deployed(anvil)
    content = LocalContentStore(tmp_path)
    ledger = EvmLedger(
        anvil, address, content=content, signer=owner, from_block=block, chain_id=31337
    )
    async with BlockchainRegistryProvider(ledger=ledger, content=content, signer=owner) as registry:
        assert registry.ledger.domain.verifying_contract == address
        first = await registry.register(make_facts(), {"v": 1})
        second = await registry.register(make_facts(dseq=7), {"v": 2})
        assert first.ledger == "evm" and first.entry.startswith(f"evm:31337:{address}:0x")
        resolved = await registry.resolve("web")
        assert resolved.sequence == 2 and resolved.record_id == second.record_id
        assert resolved.metadata == {"v": 2}
        history = await registry.history("web")
        assert [e.record_hash for e in history] == [first.record_id, second.record_id]
        assert (await registry.verify(check_content=True)).ok


async def test_publish_by_a_non_owner_reverts_with_its_reason(anvil: str, tmp_path: Path):
    owner, address, block = await _deployed(anvil)
    intruder = RecordSigner.generate()
    await fund(anvil, intruder.address)
    content = LocalContentStore(tmp_path)
    async with (
        EvmLedger(anvil, address, content=content, signer=owner, from_block=block) as mine,
        EvmLedger(anvil, address, content=content, signer=intruder, from_block=block) as theirs,
    ):
        record = owner.sign_record(
            make_facts(),
            sequence=1,
            prev_hash=EMPTY_HASH,
            metadata_cid="bafkreiabc",
            domain=mine.domain,
        )
        entry = await mine.append(record)
        hijack = intruder.sign_record(
            make_facts(endpoints=("http://10.6.6.6/",)),
            sequence=2,
            prev_hash=entry.record_hash,
            metadata_cid="bafkreiabc",
            domain=theirs.domain,
        )
        with pytest.raises(LedgerError, match=r"NotOwner\(name='web'") as info:
            await theirs.append(hijack)
        assert info.value.details["reason"].startswith("NotOwner")
        # Replay of the first record, and a fork off the genesis: both revert.
        with pytest.raises(LedgerError, match=r"BadSequence\(name='web', expected=2, got=1\)"):
            await mine.append(record)
        fork = owner.sign_record(
            make_facts(dseq=5),
            sequence=2,
            prev_hash=EMPTY_HASH,
            metadata_cid="bafkreiabc",
            domain=mine.domain,
        )
        with pytest.raises(LedgerError, match=r"BadPrevious"):
            await mine.append(fork)
        assert [e.record for e in await mine.history("web")] == [record]


async def test_record_body_swapped_in_the_content_store(anvil: str, tmp_path: Path):
    owner, address, block = await _deployed(anvil)
    content = LocalContentStore(tmp_path)
    ledger = EvmLedger(anvil, address, content=content, signer=owner, from_block=block)
    async with BlockchainRegistryProvider(ledger=ledger, content=content, signer=owner) as registry:
        await registry.register(make_facts(), {"v": 1})
        _swap_record_body(tmp_path)
        with pytest.raises(LedgerError, match="cannot be read from its CID"):
            await registry.resolve("web")
        assert not (await registry.verify()).ok


async def test_untrusted_signer_on_chain_is_refused(anvil: str, tmp_path: Path):
    owner, address, block = await _deployed(anvil)
    content = LocalContentStore(tmp_path)
    writer = EvmLedger(anvil, address, content=content, signer=owner, from_block=block)
    async with BlockchainRegistryProvider(ledger=writer, content=content, signer=owner) as registry:
        await registry.register(make_facts())
    reader_ledger = EvmLedger(anvil, address, content=content, from_block=block)
    stranger = RecordSigner.generate().address
    async with BlockchainRegistryProvider(
        ledger=reader_ledger, content=content, trusted_signers=[stranger]
    ) as reader:
        with pytest.raises(SignatureError, match="not a trusted signer"):
            await reader.resolve("web")
    reader_ledger2 = EvmLedger(anvil, address, content=content, from_block=block)
    async with BlockchainRegistryProvider(
        ledger=reader_ledger2, content=content, trusted_signers=[owner.address]
    ) as reader:
        assert (await reader.resolve("web")).signer == owner.address


async def test_no_contract_at_the_address_is_a_configuration_error(anvil: str, tmp_path: Path):
    from minds371.errors import ConfigurationError

    ledger = EvmLedger(anvil, "0x" + "42" * 20, content=LocalContentStore(tmp_path))
    with pytest.raises(ConfigurationError, match="no contract is deployed"):
        async with ledger:
            pass
    await ledger.aclose()


async def test_unreachable_node_is_a_retryable_ledger_error(tmp_path: Path):
    from .conftest import free_port

    ledger = EvmLedger(
        f"http://127.0.0.1:{free_port()}", "0x" + "42" * 20, content=LocalContentStore(tmp_path)
    )
    with pytest.raises(LedgerError) as info:
        async with ledger:
            pass
    assert info.value.retryable
    await ledger.aclose()


async def test_read_only_ledger_refuses_to_publish(anvil: str, tmp_path: Path):
    from minds371.errors import ConfigurationError

    owner, address, _ = await _deployed(anvil)
    async with EvmLedger(anvil, address, content=LocalContentStore(tmp_path)) as ledger:
        record = owner.sign_record(
            make_facts(),
            sequence=1,
            prev_hash=EMPTY_HASH,
            metadata_cid="bafkreiabc",
            domain=ledger.domain,
        )
        with pytest.raises(ConfigurationError, match="read-only"):
            await ledger.append(record)


async def test_latest_records_are_found_from_the_head(anvil: str, tmp_path: Path):
    owner, address, block = await _deployed(anvil)
    content = LocalContentStore(tmp_path)
    ledger = EvmLedger(anvil, address, content=content, signer=owner, from_block=block)
    async with BlockchainRegistryProvider(ledger=ledger, content=content, signer=owner) as registry:
        for dseq in range(1, 5):
            await registry.register(make_facts(dseq=dseq))
            await registry.register(make_facts("api", dseq=dseq))
        full = await ledger.history("web")
        assert [e.record.dseq for e in full] == [1, 2, 3, 4]
        assert await ledger.history("web", limit=2) == full[-2:]
        assert await ledger.history("web", limit=10) == full
        assert await ledger.history("nobody", limit=2) == []
        assert [e.record.name async for e in ledger.entries()] == ["web", "api"] * 4


async def test_publish_waits_for_confirmations(anvil: str, tmp_path: Path):
    import anyio
    import httpx

    owner, address, block = await _deployed(anvil)
    content = LocalContentStore(tmp_path)
    record = owner.sign_record(
        make_facts(),
        sequence=1,
        prev_hash=EMPTY_HASH,
        metadata_cid="bafkreiabc",
        domain=RecordDomain(chain_id=31337, verifying_contract=address),
    )
    done = anyio.Event()

    async def publish(ledger: EvmLedger) -> None:
        await ledger.append(record)
        done.set()

    async with EvmLedger(
        anvil, address, content=content, signer=owner, from_block=block, confirmations=2
    ) as ledger:
        async with anyio.create_task_group() as group, httpx.AsyncClient() as client:
            group.start_soon(publish, ledger)
            await anyio.sleep(0.3)
            assert not done.is_set()  # mined (Anvil mines at once) but not yet confirmed
            await client.post(
                anvil, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [2]}
            )
            with anyio.fail_after(5):
                await done.wait()
        assert (await ledger.latest("web")) is not None


async def test_publish_not_confirmed_in_time_is_retryable(anvil: str, tmp_path: Path):
    owner, address, block = await _deployed(anvil)
    ledger = EvmLedger(
        anvil,
        address,
        content=LocalContentStore(tmp_path),
        signer=owner,
        from_block=block,
        confirmations=5,
        receipt_timeout=0.3,
    )
    async with ledger:
        record = owner.sign_record(
            make_facts(),
            sequence=1,
            prev_hash=EMPTY_HASH,
            metadata_cid="bafkreiabc",
            domain=ledger.domain,
        )
        with pytest.raises(LedgerError, match="not mined and confirmed") as info:
            await ledger.append(record)
    assert info.value.retryable
