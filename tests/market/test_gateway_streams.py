"""Provider-gateway WebSocket failures become typed errors (sandbox gateway, real WebSockets)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import pytest

from minds371.errors import MarketError
from minds371_akash import AkashIntegrationProvider, BidPolicy
from minds371_akash.market import LeaseId, NotFound

from .conftest import sdl, world


async def _drain(stream: AsyncGenerator[Any, None]) -> list[Any]:
    async with aclosing(stream):
        return [item async for item in stream]


async def test_offline_provider_refuses_the_stream_retryably():
    async with world() as (net, backend):
        result = await AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=2)).deploy(
            sdl("web")
        )
        lease = result.leases[0].id
        net.set_provider_online(lease.provider, False)
        with pytest.raises(MarketError) as info:
            await _drain(backend.lease_logs(lease))
        assert info.value.retryable and info.value.details["status"] == 503


async def test_a_lease_that_is_not_ours_is_refused():
    async with world() as (net, backend):
        provider = net.provider("falcon").address
        stranger = LeaseId(owner="akash1nobody", dseq=42, gseq=1, oseq=1, provider=provider)
        with pytest.raises(MarketError) as info:
            await _drain(backend.lease_events(stranger))
        assert not info.value.retryable


async def test_unknown_provider_is_not_found():
    async with world() as (_net, backend):
        ghost = LeaseId(owner="akash1nobody", dseq=1, gseq=1, oseq=1, provider="akash1ghost")
        with pytest.raises(NotFound):
            await _drain(backend.lease_logs(ghost))
