"""The owner closes one lease: refusals, and Console's lack of it.

Real parts: ``minds371 sandbox serve`` on 127.0.0.1 and the ``akash`` / ``provider-services``
stand-in executables driven by :class:`CliBackend`. The whole failover (close one lease of a
provider gone offline, re-lease its group elsewhere) runs end to end in
``test_cli_real_binaries.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from minds371.errors import MarketError, ValidationError
from minds371_akash.market import CliBackend, ConsoleBackend
from minds371_akash.market._errors import NotFound
from minds371_akash.market._models import LeaseId
from minds371_sandbox import SandboxServer
from tests.standins import standins

BLOCK = 0.05


@asynccontextmanager
async def cli_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[SandboxServer, CliBackend]]:
    tools = standins(tmp_path, monkeypatch)
    async with SandboxServer(block_time=BLOCK) as server:
        config = tools.config(server.base_url, "failover", block_time=BLOCK)
        async with CliBackend(config) as backend:
            yield server, backend


async def test_close_lease_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with cli_backend(tmp_path, monkeypatch) as (_server, backend):
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
