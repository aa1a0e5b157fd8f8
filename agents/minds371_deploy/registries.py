"""The registry a runtime's deployment tasks share: opened once, lent to every task.

Opening the embedded registry reads its signing key, connects to its ledger, opens its content
store and loads the memory of the newest record seen per name; a task opened it at its start
(the writability check) and again to publish its record, so under load opening was a good part
of a task's cost. While the runtime serves, :class:`RegistryPool` opens the registry once, in the
runtime service :meth:`RegistryPool.serve`, when a task first needs it, and lends that one to
every task until the runtime stops (:class:`~minds371_deploy._lending.LendingPool`). One
provider is safe to share: it serializes its own writes (one writer per provider, so a name's
records never interleave), and the ledger and content store it holds serve concurrent reads.
Without a serving runtime (a bare agent, a one-off action, the CLI) each caller opens its own,
as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from minds371_deploy._lending import LendingPool

__all__ = ["RegistryPool"]


class RegistryPool:
    """Lends one open registry to every task while the runtime serves (see module docs).

    Args:
        factory: Makes a registry that is entered to open it (``BlockchainRegistryProvider
            .default`` or the agent's ``registry`` argument); read at each opening.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self._pool: LendingPool[None, Any] = LendingPool(
            lambda _: self.factory(), what=lambda _: "the registry"
        )

    def service(self) -> Callable[[], Awaitable[None]]:
        """Start lending, and return the runtime service (:meth:`serve`) that opens the registry.

        Call it when the runtime collects its services: a task that starts before the service
        first runs then waits for the shared registry instead of opening one of its own.
        """
        self._pool.start()
        return self.serve

    async def serve(self) -> None:
        """Run while the runtime runs: open the registry when a task first needs it."""
        await self._pool.serve()

    def open(self) -> AbstractAsyncContextManager[Any]:
        """The registry for one use: the runtime's shared one, or one opened for this call.

        Used as ``async with pool.open() as registry``; a lent registry is not closed on exit.
        """
        return self._pool.use(None)
