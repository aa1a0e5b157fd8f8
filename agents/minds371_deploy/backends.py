"""Market backends for deployment tasks: one per network, shared by a runtime's tasks."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from minds371.config import home
from minds371.errors import ConfigurationError
from minds371_akash import open_backend
from minds371_akash.market import MarketBackend

__all__ = ["CLOSE_GRACE", "BackendPool", "DeployConfig"]

CLOSE_GRACE = 10.0
"""Seconds the runtime's shared backends get to close when it stops."""


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
    lent to every task until the runtime stops. Without a serving runtime (a bare agent, a
    one-off action) each caller opens its own.
    """

    def __init__(self, config: DeployConfig) -> None:
        self.config = config
        self._serving = False
        self._requests: MemoryObjectSendStream[_Opening] | None = None
        self._receive: MemoryObjectReceiveStream[_Opening] | None = None
        self._openings: dict[str, _Opening] = {}

    def service(self) -> Callable[[], Awaitable[None]]:
        """Start lending, and return the runtime service (:meth:`serve`) that opens backends.

        Call it when the runtime collects its services: a task that starts before the service
        first runs (a recovered task, the first of a burst) then waits for the shared backend
        instead of opening one of its own, which for the embedded sandbox would be a second
        world on the same state file.
        """
        self._prepare()
        return self.serve

    def _prepare(
        self,
    ) -> tuple[MemoryObjectSendStream[_Opening], MemoryObjectReceiveStream[_Opening]]:
        if self._requests is None or self._receive is None:
            send, receive = anyio.create_memory_object_stream[_Opening](max_buffer_size=16)
            self._requests, self._receive = send, receive
        self._serving = True
        return self._requests, self._receive

    async def serve(self) -> None:
        """Run while the runtime runs: open each network's backend when a task first needs it."""
        send, receive = self._prepare()
        # Backends are closed when the runtime stops, which cancels this service. Their cleanup
        # awaits (disconnects, a sandbox's last save), so it runs shielded, for at most
        # CLOSE_GRACE seconds. The shield's scope is entered before the backends are: cancel
        # scopes (and the task groups inside backends) must be left in the order entered.
        closing = anyio.CancelScope()
        try:
            with closing:
                async with AsyncExitStack() as opened, send, receive:
                    try:
                        async for opening in receive:
                            try:
                                opening.backend = await opened.enter_async_context(
                                    self._open(opening.network)
                                )
                            except Exception as exc:
                                opening.failure = exc
                            opening.done.set()
                    finally:
                        closing.shield = True
                        closing.deadline = anyio.current_time() + CLOSE_GRACE
        finally:
            self._serving = False
            self._requests = self._receive = None
            for opening in self._openings.values():
                opening.backend = None
                opening.done.set()  # nobody waits for a backend that will not come
            self._openings.clear()

    @asynccontextmanager
    async def backend(self, network: str) -> AsyncIterator[MarketBackend]:
        """The backend for ``network``: the runtime's shared one, or one opened for this call."""
        if not self._serving or self._requests is None:
            async with self._open(network) as backend:
                yield backend
            return
        yield await self._lend(network, self._requests)

    async def _lend(
        self, network: str, requests: MemoryObjectSendStream[_Opening]
    ) -> MarketBackend:
        opening = self._openings.get(network)
        if opening is None:
            opening = self._openings[network] = _Opening(network)
            try:
                await requests.send(opening)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                opening.done.set()
        await opening.done.wait()
        if opening.backend is not None:
            return opening.backend
        if self._openings.get(network) is opening:
            del self._openings[network]  # the next task tries again
        if opening.failure is None:
            raise ConfigurationError(f"the {network} backend is closed: the runtime is stopping")
        if network == "sandbox" and self.config.sandbox_url is None:
            raise ConfigurationError(f"the embedded sandbox did not start: {opening.failure}")
        raise opening.failure

    def _open(self, network: str) -> AbstractAsyncContextManager[MarketBackend]:
        return open_backend(
            network,
            sandbox_url=self.config.sandbox_url,
            sandbox_state=self.config.sandbox_state,
            sandbox_block=self.config.sandbox_block_time,
        )


@dataclass(slots=True)
class _Opening:
    """One network's backend being opened for the tasks waiting on it, then lent to them."""

    network: str
    done: anyio.Event = field(default_factory=anyio.Event)
    backend: MarketBackend | None = None
    failure: Exception | None = None
