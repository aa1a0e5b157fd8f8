from __future__ import annotations

import importlib

import pytest

import minds371_registry

PUBLIC_MODULES = [
    "minds371_registry",
    "minds371_registry.content",
    "minds371_registry.content.kubo",
    "minds371_registry.content.local",
    "minds371_registry.discovery",
    "minds371_registry.keys",
    "minds371_registry.ledger",
    "minds371_registry.ledger.evm",
    "minds371_registry.ledger.local",
    "minds371_registry.models",
    "minds371_registry.provider",
    "minds371_registry.records",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_declares_a_complete_all(name: str) -> None:
    module = importlib.import_module(name)
    declared = set(module.__all__)
    for exported in declared:
        assert hasattr(module, exported), f"{name}.__all__ names missing {exported}"
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", name) == name
        and (callable(value) or isinstance(value, type))
    }
    assert public <= declared, f"{name} defines public names missing from __all__"


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
