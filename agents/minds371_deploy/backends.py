"""Market backends for deployment tasks, with one shared in-process sandbox per runtime.

The embedded sandbox is a whole simulated network: every task of a runtime must see the same one
(and its saved world), so it is opened once, by a runtime service, and lent to tasks. Console and
CLI backends are stateless clients and are opened per task.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from minds371.config import home
from minds371.errors import ConfigurationError
from minds371_akash import open_backend
from minds371_akash.market import MarketBackend

__all__ = ["BackendPool", "DeployConfig"]


@dataclass(frozen=True, slots=True)
class DeployConfig:
    """Settings of the DeploymentAgent that do not come from a request.

    Attributes:
        state_dir: Where deployment files go (monitor scripts, the sandbox's world).
        sandbox_url: A served sandbox to use instead of the in-process one.
        sandbox_block_time: Block time of the in-process sandbox (``None``: its default).
        bid_timeout: Seconds to wait for acceptable bids.
        ready_timeout: Seconds to wait for every service to become ready.
        watch_interval: Seconds between the watcher's checks.
        offline_grace: Seconds a provider may be unreachable before its lease counts as lost.
    """

    state_dir: Path = field(default_factory=home)
    sandbox_url: str | None = None
    sandbox_block_time: float | None = None
    bid_timeout: float = 300.0
    ready_timeout: float = 600.0
    watch_interval: float = 5.0
    offline_grace: float = 60.0

    @classmethod
    def from_env(cls) -> DeployConfig:
        """Read ``MINDS371_HOME`` and ``MINDS371_SANDBOX_URL`` (the edge of the library)."""
        url = os.environ.get("MINDS371_SANDBOX_URL", "").strip() or None
        return cls(state_dir=home(), sandbox_url=url)

    @property
    def sandbox_state(self) -> Path:
        """The in-process sandbox's saved world."""
        return self.state_dir / "sandbox" / "world.json"


class BackendPool:
    """Lends market backends to tasks; hosts the shared in-process sandbox while it serves."""

    def __init__(self, config: DeployConfig) -> None:
        self.config = config
        self._serving = False
        self._wanted: anyio.Event | None = None
        self._ready: anyio.Event | None = None
        self._shared: MarketBackend | None = None
        self._error: BaseException | None = None

    async def serve(self) -> None:
        """Run while the runtime runs: open the in-process sandbox when a task first needs it."""
        self._wanted, self._ready = anyio.Event(), anyio.Event()
        self._serving = True
        try:
            await self._wanted.wait()
            try:
                async with self._open("sandbox") as backend:
                    self._shared = backend
                    self._ready.set()
                    await anyio.sleep_forever()
            except Exception as exc:
                self._error = exc
                self._ready.set()
                await anyio.sleep_forever()
        finally:
            self._serving = False
            self._shared = None

    @asynccontextmanager
    async def backend(self, network: str) -> AsyncIterator[MarketBackend]:
        """The backend for ``network``: the shared sandbox, or one opened for this task."""
        shared = network == "sandbox" and self.config.sandbox_url is None and self._serving
        if not shared:
            async with self._open(network) as backend:
                yield backend
            return
        assert self._wanted is not None
        assert self._ready is not None
        self._wanted.set()
        await self._ready.wait()
        if self._shared is None:
            raise ConfigurationError(f"the embedded sandbox did not start: {self._error}")
        yield self._shared

    def _open(self, network: str) -> AbstractAsyncContextManager[MarketBackend]:
        return open_backend(
            network,
            sandbox_url=self.config.sandbox_url,
            sandbox_state=self.config.sandbox_state,
            sandbox_block=self.config.sandbox_block_time,
        )
