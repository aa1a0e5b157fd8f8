"""The watcher's funding rule: Console's auto top-up or its own deposits, within the budget."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from minds371_akash import AkashIntegrationProvider, BidPolicy, Budget
from minds371_akash.market import CliBackend, MarketBackend, runway_of
from minds371_akash.networks import in_process_client
from minds371_deploy._top_up import keep_funded
from minds371_sandbox import SandboxNetwork, SandboxServer
from tests.standins import standins

BLOCK = 0.05
#: A price that drains the $0.50 minimum deposit within a day (of 6 s blocks).
HEAVY = """version: "2.0"
services:
  web:
    image: nginx:1.27
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu: {units: 4}
        memory: {size: 8Gi}
        storage: {size: 1Gi}
  placement:
    dc:
      pricing:
        web: {denom: uact, amount: 1000}
deployment:
  web:
    dc: {profile: web, count: 1}
"""


def provider(backend: MarketBackend, max_deposit: int | None = None) -> AkashIntegrationProvider:
    return AkashIntegrationProvider(
        backend,
        policy=BidPolicy(enough_bids=2),
        budget=Budget(max_deposit=None if max_deposit is None else Decimal(max_deposit)),
        bid_timeout=20.0,
        ready_timeout=60.0,
    )


async def test_console_auto_top_up_is_switched_on_only_within_the_budget() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net, in_process_client(net) as client:
        from minds371_akash.market import ConsoleBackend

        async with ConsoleBackend(api_key="top-up", http_client=client) as backend:
            result = await provider(backend).deploy(HEAVY)
            dep = net.world.deployment(net.owner("top-up"), result.dseq)
            assert result.deployment is not None

            capped = provider(backend, max_deposit=1_000)
            funding = await keep_funded(
                capped, result.deployment, auto_top_up_decided=False, ttl_left=None
            )
            assert funding is not None and funding.kind == "topup_refused"
            assert "max_deposit_uact of 1000" in funding.detail
            setting = net.world.deployment_settings[(dep.owner, dep.dseq)]
            assert setting.auto_top_up_enabled is False
            assert len(dep.escrow.deposits) == 1  # nothing spent

            funding = await keep_funded(
                provider(backend), result.deployment, auto_top_up_decided=False, ttl_left=None
            )
            assert funding is not None and funding.kind == "auto_top_up"
            assert setting.auto_top_up_enabled is True
            assert len(dep.escrow.deposits) == 2  # inside the window: Console funded it at once
            await backend.close_deployment(result.dseq)


@pytest.mark.slow  # every chain or provider call is a stand-in binary process
async def test_the_watcher_deposits_on_the_cli_network_within_the_budget_and_ttl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = standins(tmp_path, monkeypatch)
    async with SandboxServer(block_time=BLOCK) as server:
        await tools.certify(server.base_url, "top-up")
        config = tools.config(server.base_url, "top-up", block_time=BLOCK)
        async with CliBackend(config) as backend:
            result = await provider(backend).deploy(HEAVY)
            token = {"authorization": f"Bearer {server.admin_token}"}
            async with httpx.AsyncClient(base_url=server.base_url, headers=token) as admin:
                # into the last day of runway, whichever provider won
                before = runway_of(await backend.get_deployment(result.dseq))
                assert before is not None and before.blocks is not None
                blocks = max(1, before.blocks - 23 * 600)
                r = await admin.post("/sandbox/advance", json={"blocks": blocks})
                assert r.status_code == 200
            deployment = await backend.get_deployment(result.dseq)
            runway = runway_of(deployment)
            assert runway is not None and runway.hours is not None and runway.hours < 24

            refused = await keep_funded(
                provider(backend, max_deposit=1_000),
                deployment,
                auto_top_up_decided=False,
                ttl_left=None,
            )
            assert refused is not None and refused.kind == "topup_refused"
            # the escrow outlasts a ttl that ends in a second: nothing to deposit
            assert (
                await keep_funded(
                    provider(backend), deployment, auto_top_up_decided=False, ttl_left=1.0
                )
                is None
            )
            funding = await keep_funded(
                provider(backend), deployment, auto_top_up_decided=False, ttl_left=None
            )
            assert funding is not None and funding.kind == "top_up"
            after = runway_of(await backend.get_deployment(result.dseq))
            assert after is not None and after.hours is not None and after.hours > 47
            await backend.close_deployment(result.dseq)
