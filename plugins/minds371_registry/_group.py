"""Group commit: calls queued behind one writer's lock are committed together by its holder.

A registration appends a record and signs a new ledger head, in one SQLite transaction, under the
registry's lock. While one registration holds the lock, the ones that arrive queue behind it; the
next holder takes every queued call (at most one per name: a name's records follow one another)
and commits them in one go, and each caller then finds its own outcome, value or error, when it
gets the lock in turn. A caller cancelled while it waits takes its call out of the queue; a call
the holder could not settle (the holder was cancelled) goes back to the queue for the next one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar, cast

import anyio

__all__ = ["GroupCommit", "Waiting"]

T = TypeVar("T")
R = TypeVar("R")

#: The most calls committed together (one transaction; its head is signed once).
MAX_GROUP = 256


class Waiting(Generic[T, R]):
    """One queued call: its input, then its outcome once the group it was in is committed."""

    __slots__ = ("_error", "_value", "item", "settled")

    def __init__(self, item: T) -> None:
        self.item = item
        self.settled = False
        self._value: R | None = None
        self._error: Exception | None = None

    def resolve(self, value: R) -> None:
        """Settle the call with its value."""
        self._value, self.settled = value, True

    def fail(self, error: Exception) -> None:
        """Settle the call with its error (raised to its caller, and to it alone)."""
        self._error, self.settled = error, True

    @property
    def error(self) -> Exception | None:
        """The call's error, if it was settled with one."""
        return self._error

    def outcome(self) -> R:
        """The value, or raise the error."""
        if self._error is not None:
            raise self._error
        assert self.settled
        return cast(R, self._value)


class GroupCommit(Generic[T, R]):
    """Queue calls for a lock; whoever holds it commits every queued call.

    Args:
        commit: Commits a group: must settle every call it can (an error of one call settles
            that call, not the group); calls left unsettled are queued again.
        key: Calls of the same key never share a group (the later ones wait for the next).
    """

    def __init__(
        self,
        commit: Callable[[list[Waiting[T, R]]], Awaitable[None]],
        *,
        key: Callable[[T], Hashable],
    ) -> None:
        self._commit = commit
        self._key = key
        self._queue: list[Waiting[T, R]] = []

    async def submit(self, item: T, lock: anyio.Lock) -> R:
        """Queue ``item``, wait for ``lock``, and return its outcome (or raise its error)."""
        waiting: Waiting[T, R] = Waiting(item)
        self._queue.append(waiting)
        try:
            async with lock:
                while not waiting.settled:
                    group = self._take()
                    if not group:  # an unsettled call is always queued or being committed
                        raise RuntimeError("a queued registration was lost from its queue")
                    try:
                        await self._commit(group)
                    finally:
                        # What the commit could not settle (it was cancelled) is the next
                        # holder's: each of those callers is still waiting for the lock.
                        self._queue[:0] = [w for w in group if not w.settled]
        except BaseException:
            if not waiting.settled and waiting in self._queue:
                self._queue.remove(waiting)
            raise
        return waiting.outcome()

    def _take(self) -> list[Waiting[T, R]]:
        group: list[Waiting[T, R]] = []
        keys: set[Hashable] = set()
        rest: list[Waiting[T, R]] = []
        for waiting in self._queue:
            key = self._key(waiting.item)
            if key in keys or len(group) >= MAX_GROUP:
                rest.append(waiting)
            else:
                keys.add(key)
                group.append(waiting)
        self._queue = rest
        return group
