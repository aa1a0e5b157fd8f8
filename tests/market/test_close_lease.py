"""Failover by the owner: close one lease of a provider gone offline, then re-lease its group.

Real parts: ``minds371 sandbox serve`` on 127.0.0.1 and the ``akash`` / ``provider-services``
stand-in executables driven by :class:`CliBackend`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from minds371.errors import MarketError, ValidationError
from minds371_akash import AkashIntegrationProvider, BidPolicy
from minds371_akash.market import CliBackend, ConsoleBackend
from minds371_akash.market._errors import NotFound
from minds371_akash.market._models import LeaseId
from minds371_sandbox import SandboxServer
from tests.standins import standins

from .conftest import sdl

BLOCK = 0.05


@asynccontextmanager
async def cli_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, certify: bool = True
) -> AsyncIterator[tuple[SandboxServer, CliBackend]]:
    tools = standins(tmp_path, monkeypatch)
    async with SandboxServer(block_time=BLOCK) as server:
        if certify:
            await tools.certify(server.base_url, "failover")
        config = tools.config(server.base_url, "failover", block_time=BLOCK)
        async with CliBackend(config) as backend:
            yield server, backend


@pytest.mark.slow  # about 30 binary runs of ~0.7 s each (process start and imports)
async def test_close_one_lease_then_relet_the_group_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with cli_backend(tmp_path, monkeypatch) as (server, backend):
        assert backend.can_close_lease is True
        akash = AkashIntegrationProvider(
            backend, policy=BidPolicy(enough_bids=2), bid_timeout=10.0, ready_timeout=60.0
        )
        text = sdl("redundant")
        result = await akash.deploy(text)
        assert len(result.leases) == 2
        lost = next(lease for lease in result.leases if lease.id.gseq == 1)
        kept = next(lease for lease in result.leases if lease.id.gseq == 2)
        await server.set_provider_online(lost.id.provider, False)

        await backend.close_lease(lost.id)

        deployment = await backend.get_deployment(result.dseq, with_status=False)
        assert deployment.active
        closed = next(lease for lease in deployment.leases if lease.id == lost.id)
        assert (closed.state, closed.reason) == ("closed", "lease_closed_owner")
        still = next(lease for lease in deployment.leases if lease.id == kept.id)
        assert still.active  # the other group keeps serving
        info = await server.snapshot()
        (dep,) = [d for d in info["deployments"] if int(d["dseq"]) == result.dseq]
        assert dep["state"] == "active"

        # calling it again (a retry after an ambiguous failure) is harmless
        await backend.close_lease(lost.id)

        relet = await akash.relet_group(result.dseq, 1, text)
        new = next(lease for lease in relet.leases if lease.id.gseq == 1 and lease.active)
        assert new.id.oseq == 2  # the group's order re-opened with the next oseq
        assert new.id.provider not in {lost.id.provider, kept.id.provider}
        assert new.status is not None and new.status.ready
        assert any(lease.id == kept.id for lease in relet.leases)
        await akash.close(result.dseq)


async def test_close_lease_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with cli_backend(tmp_path, monkeypatch, certify=False) as (_server, backend):
        owner = await backend.owner()
        ghost = LeaseId(owner=owner, dseq=424242, gseq=1, oseq=1, provider="akash1nobody")
        with pytest.raises(NotFound, match="invalid order: order not found"):
            await backend.close_lease(ghost)
        foreign = ghost.model_copy(update={"owner": "akash1someoneelse"})
        with pytest.raises(ValidationError) as refused:
            await backend.close_lease(foreign)
        assert [issue.path for issue in refused.value.issues] == ["/owner"]


async def test_console_backend_cannot_close_one_lease() -> None:
    # Refused before any request: nothing listens on this port.
    async with ConsoleBackend(base_url="http://127.0.0.1:9", api_key="k") as console:
        assert console.can_close_lease is False
        lease = LeaseId(owner="akash1o", dseq=1, gseq=1, oseq=1, provider="akash1p")
        with pytest.raises(MarketError, match="cannot close a single lease") as refused:
            await console.close_lease(lease)
        assert refused.value.retryable is False
