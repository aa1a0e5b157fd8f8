"""Market backends for deployment tasks: one per network, shared by a runtime's tasks."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

from minds371.config import home
from minds371.errors import ConfigurationError
from minds371_akash import open_backend
from minds371_akash.market import MarketBackend
from minds371_deploy._lending import CLOSE_GRACE, LendingPool

__all__ = ["CLOSE_GRACE", "BackendPool", "DeployConfig"]


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
    """Lends market backends to tasks: one per network, shared while the runtime serves.

    The embedded sandbox is a whole simulated network that every task must see. A Console
    backend holds the process's connection pool, its read and write lanes (limits meant for the
    whole process, not per task), the provider JWT and the listing that concurrent creates
    share. So each network's backend is opened once, in the runtime service :meth:`serve` (an
    in-process sandbox must be entered and left by one task), when a task first needs it, and
    lent to every task until the runtime stops (:class:`~minds371_deploy._lending.LendingPool`).
    Without a serving runtime (a bare agent, a one-off action) each caller opens its own.
    """

    def __init__(self, config: DeployConfig) -> None:
        self.config = config
        self._pool: LendingPool[str, MarketBackend] = LendingPool(
            self._open, what=lambda network: f"the {network} backend", failed=self._failed
        )

    def service(self) -> Callable[[], Awaitable[None]]:
        """Start lending, and return the runtime service (:meth:`serve`) that opens backends.

        Call it when the runtime collects its services: a task that starts before the service
        first runs (a recovered task, the first of a burst) then waits for the shared backend
        instead of opening one of its own, which for the embedded sandbox would be a second
        world on the same state file.
        """
        self._pool.start()
        return self.serve

    async def serve(self) -> None:
        """Run while the runtime runs: open each network's backend when a task first needs it."""
        await self._pool.serve()

    def backend(self, network: str) -> AbstractAsyncContextManager[MarketBackend]:
        """The backend for ``network``: the runtime's shared one, or one opened for this call."""
        return self._pool.use(network)

    def _failed(self, network: str, failure: Exception) -> Exception:
        if network == "sandbox" and self.config.sandbox_url is None:
            return ConfigurationError(f"the embedded sandbox did not start: {failure}")
        return failure

    def _open(self, network: str) -> AbstractAsyncContextManager[MarketBackend]:
        return open_backend(
            network,
            sandbox_url=self.config.sandbox_url,
            sandbox_state=self.config.sandbox_state,
            sandbox_block=self.config.sandbox_block_time,
        )
