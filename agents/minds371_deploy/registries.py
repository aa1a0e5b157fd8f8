"""The registry a runtime's deployment tasks share: opened once, lent to every task.

Opening the embedded registry reads its signing key, connects to its ledger, opens its content
store and loads the memory of the newest record seen per name; a task opened it at its start
(the writability check) and again to publish its record, so under load opening was a good part
of a task's cost. While the runtime serves, :class:`RegistryPool` opens the registry once, in the
runtime service :meth:`RegistryPool.serve`, when a task first needs it, and lends that one to
every task until the runtime stops. One provider is safe to share: it serializes its own writes
(one writer per provider, so a name's records never interleave), and the ledger and content store
it holds serve concurrent reads. Without a serving runtime (a bare agent, a one-off action, the
CLI) each caller opens its own, as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from minds371.errors import ConfigurationError

__all__ = ["RegistryPool"]

#: Seconds a stopping runtime gives the shared registry to close (its ledger and content store).
CLOSE_GRACE = 10.0


class _Opening:
    """The registry being opened for the tasks waiting on it, then lent to them."""

    __slots__ = ("done", "failure", "registry")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.registry: Any = None
        self.failure: Exception | None = None


class RegistryPool:
    """Lends one open registry to every task while the runtime serves (see module docs).

    Args:
        factory: Makes a registry that is entered to open it (``BlockchainRegistryProvider
            .default`` or the agent's ``registry`` argument).
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self._requests: MemoryObjectSendStream[_Opening] | None = None
        self._receive: MemoryObjectReceiveStream[_Opening] | None = None
        self._opening: _Opening | None = None

    def service(self) -> Callable[[], Awaitable[None]]:
        """Start lending, and return the runtime service (:meth:`serve`) that opens the registry.

        Call it when the runtime collects its services: a task that starts before the service
        first runs then waits for the shared registry instead of opening one of its own.
        """
        self._prepare()
        return self.serve

    def _prepare(
        self,
    ) -> tuple[MemoryObjectSendStream[_Opening], MemoryObjectReceiveStream[_Opening]]:
        if self._requests is None or self._receive is None:
            send, receive = anyio.create_memory_object_stream[_Opening](max_buffer_size=4)
            self._requests, self._receive = send, receive
        return self._requests, self._receive

    async def serve(self) -> None:
        """Run while the runtime runs: open the registry when a task first needs it."""
        send, receive = self._prepare()
        # Closed when the runtime stops, which cancels this service: the close awaits (the
        # ledger's connection), so it runs shielded, for at most CLOSE_GRACE seconds.
        closing = anyio.CancelScope()
        try:
            with closing:
                async with AsyncExitStack() as opened, send, receive:
                    try:
                        async for opening in receive:
                            try:
                                opening.registry = await opened.enter_async_context(self.factory())
                            except Exception as exc:
                                opening.failure = exc
                            opening.done.set()
                    finally:
                        closing.shield = True
                        closing.deadline = anyio.current_time() + CLOSE_GRACE
        finally:
            self._requests = self._receive = None
            pending, self._opening = self._opening, None
            if pending is not None:
                pending.registry = None
                pending.done.set()  # nobody waits for a registry that will not come

    def open(self) -> AbstractAsyncContextManager[Any]:
        """The registry for one use: the runtime's shared one, or one opened for this call.

        Used as ``async with pool.open() as registry``; a lent registry is not closed on exit.
        """
        return self._use()

    @asynccontextmanager
    async def _use(self) -> AsyncIterator[Any]:
        requests = self._requests
        if requests is None:
            async with self.factory() as registry:
                yield registry
            return
        yield await self._lend(requests)

    async def _lend(self, requests: MemoryObjectSendStream[_Opening]) -> Any:
        opening = self._opening
        if opening is None:
            opening = self._opening = _Opening()
            try:
                await requests.send(opening)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                opening.done.set()
        await opening.done.wait()
        if opening.registry is not None:
            return opening.registry
        if self._opening is opening:
            self._opening = None  # the next task tries again
        if opening.failure is None:
            raise ConfigurationError("the registry is closed: the runtime is stopping")
        raise opening.failure
