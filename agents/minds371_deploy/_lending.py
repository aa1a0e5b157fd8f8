"""One opened resource per key, opened when a task first needs it and lent to every task.

The market backends (one per network) and the registry (one per runtime) are shared this way
while the runtime serves: :meth:`LendingPool.serve` runs as a runtime service and opens each
resource inside itself, so that whatever the resource enters (an in-process sandbox's task group,
a ledger connection) is entered and left by one task, and closes them all when the runtime stops.
Without a serving runtime (a bare agent, a one-off action, the CLI) each use opens its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from minds371.errors import ConfigurationError

__all__ = ["CLOSE_GRACE", "LendingPool"]

#: Seconds a stopping runtime gives the shared resources to close (disconnects, a last save).
CLOSE_GRACE = 10.0

K = TypeVar("K")
V = TypeVar("V")


@dataclass(slots=True, eq=False)
class _Opening(Generic[K, V]):
    """One key's resource being opened for the tasks waiting on it, then lent to them."""

    key: K
    done: anyio.Event = field(default_factory=anyio.Event)
    value: V | None = None
    failure: Exception | None = None


class LendingPool(Generic[K, V]):
    """Lends one opened resource per key while the runtime serves (see module docs).

    Args:
        opener: Makes the context manager that opens ``key``'s resource (read at each opening).
        what: Names ``key``'s resource in errors ("the sandbox backend").
        failed: Turns the failure to open ``key``'s resource into the error its borrowers get
            (default: that failure itself).
    """

    def __init__(
        self,
        opener: Callable[[K], AbstractAsyncContextManager[V]],
        *,
        what: Callable[[K], str],
        failed: Callable[[K, Exception], Exception] | None = None,
    ) -> None:
        self._opener = opener
        self._what = what
        self._failed = failed
        self._requests: MemoryObjectSendStream[_Opening[K, V]] | None = None
        self._receive: MemoryObjectReceiveStream[_Opening[K, V]] | None = None
        self._openings: dict[K, _Opening[K, V]] = {}

    def start(
        self,
    ) -> tuple[MemoryObjectSendStream[_Opening[K, V]], MemoryObjectReceiveStream[_Opening[K, V]]]:
        """Start lending before :meth:`serve` first runs (returns the request stream's ends).

        The runtime starts its workers (and recovered tasks) before its services: a task that
        asks in between then waits for the shared resource instead of opening its own.
        """
        if self._requests is None or self._receive is None:
            send, receive = anyio.create_memory_object_stream[_Opening[K, V]](max_buffer_size=16)
            self._requests, self._receive = send, receive
        return self._requests, self._receive

    async def serve(self) -> None:
        """Run while the runtime runs: open each key's resource when a task first needs it."""
        send, receive = self.start()
        # Closed when the runtime stops, which cancels this service. Their cleanup awaits, so it
        # runs shielded, for at most CLOSE_GRACE seconds. The shield's scope is entered before
        # the resources are: cancel scopes (and task groups inside them) are left in order.
        closing = anyio.CancelScope()
        try:
            with closing:
                async with AsyncExitStack() as opened, send, receive:
                    try:
                        async for opening in receive:
                            try:
                                opening.value = await opened.enter_async_context(
                                    self._opener(opening.key)
                                )
                            except Exception as exc:
                                opening.failure = exc
                            opening.done.set()
                    finally:
                        closing.shield = True
                        closing.deadline = anyio.current_time() + CLOSE_GRACE
        finally:
            self._requests = self._receive = None
            for opening in self._openings.values():
                opening.value = None
                opening.done.set()  # nobody waits for a resource that will not come
            self._openings.clear()

    @asynccontextmanager
    async def use(self, key: K) -> AsyncIterator[V]:
        """``key``'s resource: the runtime's shared one (not closed on exit), or one of its own."""
        requests = self._requests
        if requests is None:
            async with self._opener(key) as own:
                yield own
            return
        yield await self._lend(key, requests)

    async def _lend(self, key: K, requests: MemoryObjectSendStream[_Opening[K, V]]) -> V:
        opening = self._openings.get(key)
        if opening is None:
            opening = self._openings[key] = _Opening(key)
            try:
                await requests.send(opening)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                opening.done.set()
        await opening.done.wait()
        if opening.value is not None:
            return opening.value
        if self._openings.get(key) is opening:
            del self._openings[key]  # the next task tries again
        if opening.failure is None:
            raise ConfigurationError(f"{self._what(key)} is closed: the runtime is stopping")
        raise opening.failure if self._failed is None else self._failed(key, opening.failure)
