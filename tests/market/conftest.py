"""Fixtures: an in-process sandbox marketplace and the Console backend talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from minds371_akash._deploy_types import DeployEvent
from minds371_akash.market import ConsoleBackend, set_testing
from minds371_akash.networks import in_process_client
from minds371_sandbox import SandboxNetwork

FIXTURES = Path(__file__).parent.parent / "fixtures" / "market"
BLOCK = 0.05
API_KEY = "market-test-key"


def sdl(name: str) -> str:
    return (FIXTURES / f"{name}.yaml").read_text()


@pytest.fixture(autouse=True)
def _no_backoff() -> Any:
    set_testing(True)
    yield
    set_testing(False)


@asynccontextmanager
async def world(
    api_key: str = API_KEY, **kw: Any
) -> AsyncIterator[tuple[SandboxNetwork, ConsoleBackend]]:
    """A running sandbox and a Console backend into it.

    A context manager rather than a fixture: the sandbox's block clock lives in a task group,
    which must be entered and left by the same task (pytest-asyncio runs fixture setup and
    teardown in different tasks).
    """
    async with SandboxNetwork(block_time=kw.pop("block_time", BLOCK), **kw) as network:
        async with in_process_client(network) as client:
            async with ConsoleBackend(
                api_key=api_key, http_client=client, block_time=BLOCK
            ) as console:
                console.name = "sandbox"
                yield network, console


class Recorder:
    """Collects progress events and saga journal calls, in order."""

    def __init__(self) -> None:
        self.events: list[DeployEvent] = []
        self.journal: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: DeployEvent) -> None:
        self.events.append(event)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    async def before_create(self, **kw: Any) -> None:
        self.journal.append(("before_create", kw))

    async def created(self, **kw: Any) -> None:
        self.journal.append(("created", kw))

    async def before_lease(self, **kw: Any) -> None:
        self.journal.append(("before_lease", kw))

    async def leased(self, **kw: Any) -> None:
        self.journal.append(("leased", kw))

    async def closed(self, **kw: Any) -> None:
        self.journal.append(("closed", kw))

    async def updated(self, **kw: Any) -> None:
        self.journal.append(("updated", kw))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def deployments_of(net: SandboxNetwork, owner: str) -> list[dict[str, Any]]:
    """Every deployment (closed too) the sandbox holds for ``owner``."""
    snap = net.snapshot()
    items = snap.get("deployments", snap) if isinstance(snap, dict) else snap
    return [d for d in items if d.get("owner") == owner]
