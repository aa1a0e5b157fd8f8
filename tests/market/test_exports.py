"""Every public module of the market area declares a complete ``__all__``; the top-level
package exports the contract the deployment agent codes against."""

from __future__ import annotations

import importlib

import pytest

import minds371_akash

MODULES = [
    "minds371_akash",
    "minds371_akash.market",
    "minds371_akash.market.console",
    "minds371_akash.market.cli",
    "minds371_akash.bidding",
    "minds371_akash.pricing",
    "minds371_akash.diagnose",
    "minds371_akash.provider",
    "minds371_akash.networks",
    "minds371_akash._deploy_types",
    "minds371_akash._readiness",
    "minds371_akash._prepare",
    "minds371_akash._provider_base",
    "minds371_akash._operations",
    "minds371_akash._bid_wait",
    "minds371_akash._diagnosis",
    "minds371_akash._no_bids",
    "minds371_akash.market._models",
    "minds371_akash.market._errors",
    "minds371_akash.market._retry",
    "minds371_akash.market._parse",
    "minds371_akash.market._gateway",
    "minds371_akash.market._console_gateway",
    "minds371_akash.market._process",
    "minds371_akash.market._backend",
]

CONTRACT = {
    "NETWORKS",
    "AkashIntegrationProvider",
    "BidPolicy",
    "Budget",
    "CostReport",
    "DeployEvent",
    "DeployJournal",
    "DeploymentNotReady",
    "DeploymentResult",
    "Diagnosis",
    "EventHook",
    "HealthReport",
    "PreparedDeployment",
    "check_health",
    "diagnosis_of",
    "open_backend",
    "plugin",
}


@pytest.mark.parametrize("name", MODULES)
def test_all_is_declared_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list)
    for exported in module.__all__:
        assert getattr(module, exported) is not None, f"{name}.{exported}"


def test_top_level_contract() -> None:
    assert set(minds371_akash.__all__) == CONTRACT


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = minds371_akash.NoSuchThing  # type: ignore[attr-defined]


async def test_console_and_cli_backends_satisfy_the_protocol() -> None:
    from minds371_akash.market import CliBackend, ConsoleBackend, MarketBackend

    async with CliBackend() as cli, ConsoleBackend("http://127.0.0.1:9", api_key="k-123456") as con:
        assert isinstance(cli, MarketBackend)
        assert isinstance(con, MarketBackend)
