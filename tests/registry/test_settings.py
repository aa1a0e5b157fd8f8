"""`BlockchainRegistryProvider.default()` from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from minds371.errors import ConfigurationError
from minds371_registry import (
    BlockchainRegistryProvider,
    EvmLedger,
    KuboContentStore,
    LocalContentStore,
    LocalLedger,
    RecordSigner,
    deploy_registry_contract,
)

from .conftest import fund, make_facts


async def test_default_is_the_embedded_stack_in_home(clean_environ: Path):
    registry = BlockchainRegistryProvider.default()
    assert isinstance(registry.ledger, LocalLedger) and isinstance(
        registry.content, LocalContentStore
    )
    assert registry.ledger.path == clean_environ / "registry" / "ledger.sqlite3"
    assert registry.signer is not None  # a development key was generated
    async with registry:
        receipt = await registry.register(make_facts())
    # A read-only registry in the same home trusts that key and generates nothing.
    reader = BlockchainRegistryProvider.default(read_only=True)
    assert reader.signer is not None and reader.signer.address == receipt.signer
    async with reader:
        assert (await reader.resolve("web")).record_id == receipt.record_id


async def test_read_only_default_with_trusted_signers(clean_environ: Path):
    trusted = RecordSigner.generate().address
    reader = BlockchainRegistryProvider.default(
        read_only=True, environ={"MINDS371_REGISTRY_TRUSTED": f" {trusted.lower()} ,"}
    )
    assert reader.signer is None and reader.trusted_signers == {trusted.lower()}
    assert not (clean_environ / "registry" / "dev-key").exists()
    await reader.aclose()


def test_bad_trusted_address_is_named(clean_environ: Path):
    with pytest.raises(ConfigurationError, match="MINDS371_REGISTRY_TRUSTED: 'bob'"):
        BlockchainRegistryProvider.default(
            read_only=True, environ={"MINDS371_REGISTRY_TRUSTED": "bob"}
        )


def test_rpc_url_without_contract_is_refused(clean_environ: Path):
    env = {"MINDS371_REGISTRY_RPC_URL": "http://127.0.0.1:8545"}
    with pytest.raises(ConfigurationError, match="MINDS371_REGISTRY_CONTRACT"):
        BlockchainRegistryProvider.default(read_only=True, environ=env)


async def test_evm_and_kubo_from_the_environment(clean_environ: Path, anvil: str):
    owner = RecordSigner.generate()
    await fund(anvil, owner.address)
    address, block = await deploy_registry_contract(anvil, owner)
    env = {
        "MINDS371_REGISTRY_KEY": owner._key.to_hex(),
        "MINDS371_REGISTRY_RPC_URL": anvil,
        "MINDS371_REGISTRY_CONTRACT": address,
        "MINDS371_REGISTRY_FROM_BLOCK": str(block),
    }
    async with BlockchainRegistryProvider.default(environ=env) as registry:
        assert isinstance(registry.ledger, EvmLedger)
        receipt = await registry.register(make_facts())
        assert receipt.ledger == "evm" and receipt.signer == owner.address
    kubo = BlockchainRegistryProvider.default(
        read_only=True, environ={"MINDS371_IPFS_API": "http://127.0.0.1:5001"}
    )
    assert isinstance(kubo.content, KuboContentStore)
    await kubo.aclose()


async def test_a_configured_key_never_reaches_the_logs(clean_environ: Path):
    from structlog.testing import capture_logs

    signer = RecordSigner.generate()
    key = signer._key.to_hex()
    env = {"MINDS371_REGISTRY_KEY": key}
    with capture_logs() as logs:
        async with BlockchainRegistryProvider.default(environ=env) as registry:
            receipt = await registry.register(make_facts())
            # Even a careless caller logging the key gets it redacted.
            from minds371.logging import get_logger

            get_logger("test").warning("oops", detail=f"key is {key}")
    assert receipt.signer == signer.address
    text = repr(logs)
    assert key.removeprefix("0x") not in text
    assert any(e["event"] == "minds371.registry.registered" for e in logs)
