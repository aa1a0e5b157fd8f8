"""Group commit on one Redis client: the commands many tasks await at once share a round trip.

A worker runs hundreds of tasks at once, each writing its events and saga steps one command at a
time. Sent one by one, every command pays the client's whole per-request path (a pooled
connection, timers, a retry wrapper), which costs far more CPU than the command itself. Here the
commands that are queued while a round trip is under way go together in the next pipeline: each
caller still waits for its own reply (a write is made once its call returns), and commands of
one caller keep their order, since a caller sends its next command only after the reply.

Only commands that answer at once belong here: a blocking read would hold up every caller
queued behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel

try:
    from redis.exceptions import RedisError
except ImportError as _import_error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "The Redis state store needs the redis package: pip install 'minds371[redis]'"
    ) from _import_error

__all__ = ["CommandBatcher"]


class _Caller:
    """One caller of :meth:`CommandBatcher.call_many`.

    It is woken when its commands are answered, or when it is appointed to send the next pipeline.
    """

    __slots__ = ("_woken",)

    def __init__(self) -> None:
        # Made only if the caller waits: a leader answered in its own round trip never does.
        self._woken: anyio.Event | None = None

    def wake(self) -> None:
        if self._woken is not None:
            self._woken.set()

    async def wait(self) -> None:
        # Called only right after checking there is something to wait for, with no await in
        # between, so a wake-up cannot come before the event exists.
        self._woken = woken = anyio.Event()
        await woken.wait()
        self._woken = None


@dataclass(slots=True, eq=False)
class _Queued:
    args: tuple[Any, ...]
    caller: _Caller
    leads: bool = False  # this caller sends the next pipeline
    sent: bool = False
    answered: bool = False
    reply: Any = None
    error: BaseException | None = None


class CommandBatcher:
    """Sends the commands queued while a round trip is under way in one pipeline.

    One caller at a time sends (the leader): it takes every queued command, sends them in one
    non-transactional pipeline, hands each caller its reply or error, and then appoints the
    caller of the oldest command queued meanwhile to send the next pipeline. A caller cancelled
    before its command went out withdraws it (the write is not made).

    Args:
        client: A ``redis.asyncio.Redis`` client (its pool lends the pipeline a connection).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._queue: list[_Queued] = []
        self._leading = False

    async def call(self, *args: Any) -> Any:
        """Run one command (``"HMGET", key, field``) in the next pipeline; return its reply.

        Raises:
            redis.exceptions.RedisError: the command's error, or the pipeline's.
        """
        replies = await self.call_many([args])
        return replies[0]

    async def call_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Run several commands, all in the same next pipeline; return their replies in order.

        Raises:
            redis.exceptions.RedisError: the first command's error, or the pipeline's.
        """
        caller = _Caller()
        mine = [_Queued(tuple(command), caller) for command in commands]
        if not mine:
            return []
        self._queue.extend(mine)  # together: whoever sends next takes them all
        if not self._leading:
            self._leading = mine[0].leads = True
        try:
            for queued in mine:
                while not queued.answered:
                    if queued.leads:
                        await self._lead()
                    else:
                        await caller.wait()
        except BaseException:
            for queued in mine:
                if not queued.sent:  # withdrawn: it never reaches Redis
                    self._queue.remove(queued)
                    if queued.leads:
                        self._appoint_next()
            raise
        for queued in mine:
            if queued.error is not None:
                raise queued.error
        return [queued.reply for queued in mine]

    async def _lead(self) -> None:
        # Let the tasks that are ready to run queue their commands for this round trip too.
        await anyio.lowlevel.checkpoint()
        with anyio.CancelScope(shield=True):  # the batch's other callers wait on its replies
            batch, self._queue = self._queue, []
            for queued in batch:
                queued.sent = True
            try:
                replies = await self._send(batch)
            except RedisError as exc:
                for queued in batch:  # each caller raises an error of its own
                    queued.error = _copy(exc)
            except Exception as exc:  # the connection broke in a way the client did not wrap
                for queued in batch:
                    queued.error = RedisError(f"{type(exc).__name__}: {exc}")
            else:
                for queued, reply in zip(batch, replies, strict=True):
                    if isinstance(reply, Exception):
                        queued.error = reply
                    else:
                        queued.reply = reply
            finally:
                for queued in batch:
                    queued.answered = True
                    queued.caller.wake()
                self._appoint_next()

    async def _send(self, batch: list[_Queued]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for queued in batch:
                pipe.execute_command(*queued.args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            return replies

    def _appoint_next(self) -> None:
        if self._queue:
            following = self._queue[0]
            following.leads = True
            following.caller.wake()
        else:
            self._leading = False


def _copy(exc: RedisError) -> RedisError:
    try:
        return type(exc)(*exc.args)
    except Exception:  # an error class with another signature
        return RedisError(str(exc))
