"""Single-flight reads: callers asking for the same thing while it is in flight share its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

__all__ = ["SingleFlight"]

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("done", "ok", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.ok = False
        self.value: T | None = None


class SingleFlight(Generic[T]):
    """One call per key at a time; callers arriving while it runs wait for its answer.

    Only the answer is shared: a caller whose leader failed or was cancelled makes its own call
    outside the flight (an error belongs to the call that met it, and a cancelled leader
    answered nothing). Use it only for reads whose answer no write of this process changes, so
    that joining a request sent a moment before one's own call observes nothing older than
    asking oneself would.
    """

    def __init__(self) -> None:
        self._flights: dict[str, _Flight[T]] = {}

    async def run(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        """The answer of ``call`` for ``key``, taken by this caller or by one in flight."""
        joined = self._flights.get(key)
        if joined is not None:
            await joined.done.wait()
            if joined.ok:
                return joined.value  # type: ignore[return-value]
            # Each asks on its own, at once, as without sharing: waiting in turn behind
            # another failing read would only add its time to every caller's.
            return await call()
        flight = self._flights[key] = _Flight()
        try:
            flight.value = await call()
            flight.ok = True
            return flight.value
        finally:
            del self._flights[key]
            flight.done.set()
