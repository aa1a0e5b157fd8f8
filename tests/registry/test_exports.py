from __future__ import annotations

import pytest

import minds371_registry
from tests.exports import assert_complete_all

PUBLIC_MODULES = [
    "minds371_registry",
    "minds371_registry.content",
    "minds371_registry.content.kubo",
    "minds371_registry.content.local",
    "minds371_registry.discovery",
    "minds371_registry.head",
    "minds371_registry.keys",
    "minds371_registry.ledger",
    "minds371_registry.ledger.evm",
    "minds371_registry.ledger.local",
    "minds371_registry.models",
    "minds371_registry.provider",
    "minds371_registry.records",
    "minds371_registry.seen",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_declares_a_complete_all(name: str) -> None:
    assert_complete_all(name)


def test_the_documented_api_is_exported() -> None:
    documented = {
        "BlockchainRegistryProvider",
        "DeploymentFacts",
        "RegistryReceipt",
        "ServiceRecord",
        "EvmLedger",
        "LocalLedger",
        "KuboContentStore",
        "LocalContentStore",
    }
    assert documented <= set(minds371_registry.__all__)


def test_the_plugin_adds_the_cli_commands() -> None:
    from minds371.cli import build_parser

    parser = build_parser([minds371_registry.plugin])
    args = parser.parse_args(["registry", "verify", "--json"])
    assert args.json and callable(args.handler)
    assert parser.parse_args(["discover", "web"]).name == "web"
