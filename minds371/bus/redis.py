"""A task bus on Redis Streams: durable, at-least-once delivery across processes.

Tasks are appended to a stream (``XADD``) and read through a consumer group (``XREADGROUP``),
so each delivery goes to one consumer. A delivery stays pending until it is acknowledged
(``XACK``) after its task reached a final state; a delivery left pending longer than
``claim_idle`` seconds (its consumer died) is claimed by another consumer (``XAUTOCLAIM``) and
delivered again, with its attempt count. Install with ``pip install 'minds371[redis]'``.

A task's handle, events and result live in the state store of the runtime that dispatched it: to
spread one runtime's tasks over several processes, give them a shared state store.
"""

from __future__ import annotations

import socket
from typing import Any

import anyio

from minds371.bus._protocol import Delivery
from minds371.config import require_network
from minds371.errors import ConfigurationError, ProviderError
from minds371.tasks import Task

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError, ResponseError
except ImportError as _import_error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "The Redis task bus needs the redis package: pip install 'minds371[redis]'"
    ) from _import_error

__all__ = ["RedisTaskBus"]

_FIELD = "task"


class RedisTaskBus:
    """A :class:`~minds371.bus.TaskBus` on a Redis stream and consumer group.

    Args:
        url: Redis URL (``redis://127.0.0.1:6379/0``).
        stream: The stream key.
        group: The consumer group; processes serving the same tasks share it.
        consumer: This process's consumer name (default: host name and process id).
        claim_idle: Seconds after which another consumer's unacknowledged delivery is reclaimed.
        block: Seconds one read blocks before checking for reclaimable deliveries again.
        client: An existing ``redis.asyncio.Redis`` client (not closed by the bus).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        stream: str = "minds371:tasks",
        group: str = "minds371",
        consumer: str | None = None,
        claim_idle: float = 60.0,
        block: float = 1.0,
        client: Any = None,
    ) -> None:
        if client is None:
            require_network(url, what="Redis")
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{id(self):x}"
        self.claim_idle_ms = int(claim_idle * 1000)
        self.block_ms = max(1, int(block * 1000))
        self._own_client = client is None
        self._client: Any = client if client is not None else aioredis.from_url(url)
        self._group_ready = False
        self._backlog: list[Delivery] = []

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise _translate(exc) from exc
        except RedisError as exc:
            raise _translate(exc) from exc
        self._group_ready = True

    async def publish(self, task: Task) -> None:
        """Append a task to the stream."""
        try:
            await self._client.xadd(self.stream, {_FIELD: task.model_dump_json()})
        except RedisError as exc:
            raise _translate(exc) from exc

    async def receive(self) -> Delivery:
        """Wait for the next delivery: a reclaimed stale one first, else a new one."""
        await self._ensure_group()
        while not self._backlog:
            try:
                self._backlog.extend(await self._claim_stale())
                if self._backlog:
                    break
                answer = await self._client.xreadgroup(
                    self.group, self.consumer, {self.stream: ">"}, count=16, block=self.block_ms
                )
            except RedisError as exc:
                raise _translate(exc) from exc
            for _stream, entries in answer or ():
                self._backlog.extend(_delivery(entry_id, fields, 1) for entry_id, fields in entries)
            await anyio.lowlevel.checkpoint()
        return self._backlog.pop(0)

    async def _claim_stale(self) -> list[Delivery]:
        _next, entries, *_deleted = await self._client.xautoclaim(
            self.stream, self.group, self.consumer, self.claim_idle_ms, start_id="0-0", count=16
        )
        claimed: list[Delivery] = []
        for entry_id, fields in entries:
            if not fields:  # deleted meanwhile
                continue
            pending = await self._client.xpending_range(
                self.stream, self.group, min=entry_id, max=entry_id, count=1
            )
            times = int(pending[0]["times_delivered"]) if pending else 2
            claimed.append(_delivery(entry_id, fields, times))
        return claimed

    async def ack(self, delivery: Delivery) -> None:
        """Acknowledge and delete the stream entry."""
        try:
            await self._client.xack(self.stream, self.group, delivery.delivery_id)
            await self._client.xdel(self.stream, delivery.delivery_id)
        except RedisError as exc:
            raise _translate(exc) from exc

    async def pending(self) -> int:
        """How many deliveries of the group are unacknowledged."""
        await self._ensure_group()
        summary = await self._client.xpending(self.stream, self.group)
        return int(summary["pending"])

    async def aclose(self) -> None:
        """Close the client if the bus created it."""
        if self._own_client:
            await self._client.aclose()


def _delivery(entry_id: Any, fields: dict[Any, Any], attempt: int) -> Delivery:
    raw = fields.get(_FIELD.encode()) or fields.get(_FIELD)
    if raw is None:
        raise ConfigurationError(f"stream entry {entry_id!r} carries no task")
    text_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    return Delivery(task=Task.model_validate_json(raw), delivery_id=text_id, attempt=attempt)


def _translate(exc: RedisError) -> ProviderError:
    return ProviderError(
        f"Redis task bus: {exc}", retryable=True, details={"error": type(exc).__name__}
    )
