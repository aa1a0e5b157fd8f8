"""A task bus on Redis Streams: durable, at-least-once delivery across processes.

Tasks are appended to a stream (``XADD``) and read through a consumer group (``XREADGROUP``),
so each delivery goes to one consumer. A delivery stays pending until it is acknowledged
(``XACK``) after its task reached a final state; a delivery left pending longer than
``claim_idle`` seconds (its consumer died) is claimed by another consumer (``XAUTOCLAIM``) and
delivered again, with its attempt count. Install with ``pip install 'minds371[redis]'``.

Given a shared :class:`~minds371.state.redis.RedisStateStore` (``leases=``), the bus hands a
delivery out only once it holds the task's lease, and drops deliveries of tasks that already have
a result or that another live worker runs: that is how several worker processes
(``minds371 worker``) share tasks with each task run by one worker at a time.
:meth:`RedisTaskBus.keep_leases` renews the leases of running tasks (and keeps their deliveries
from looking abandoned) and passes cancellations on. To dispatch tasks to workers from another
process and wait for their results, see :class:`minds371.bus.remote.RemoteTasks`.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from minds371._results import cancelled_result
from minds371.bus._protocol import Delivery
from minds371.config import require_network
from minds371.errors import ConfigurationError, ProviderError
from minds371.logging import get_logger
from minds371.tasks import Task, TaskEvent, TaskStatus

try:
    import redis
    from redis.exceptions import RedisError, ResponseError
except ImportError as _import_error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "The Redis task bus needs the redis package: pip install 'minds371[redis]'"
    ) from _import_error

from minds371.state._redis_batch import CommandBatcher
from minds371.state.redis import open_client

if TYPE_CHECKING:
    from minds371.state.redis import RedisStateStore

__all__ = ["CANCELLER", "RedisTaskBus"]

_log = get_logger("minds371.bus.redis")

_FIELD = "task"

#: The delivery id a caller cancelling a task takes its lease under (see ``RemoteTask.cancel``).
CANCELLER = "cancel"


class RedisTaskBus:
    """A :class:`~minds371.bus.TaskBus` on a Redis stream and consumer group.

    Args:
        url: Redis URL (``redis://127.0.0.1:6379/0``).
        stream: The stream key.
        group: The consumer group; processes serving the same tasks share it.
        consumer: This process's consumer name (default: host name, process id and a nonce).
        claim_idle: Seconds after which another consumer's unacknowledged delivery is reclaimed.
        block: Seconds one read blocks before checking for reclaimable deliveries again.
        client: An existing ``redis.asyncio.Redis`` client (not closed by the bus).
        leases: The shared state store whose task leases gate deliveries (worker processes).
        read_count: The most entries one read may take; a read takes no more than the receivers
            waiting for one, so that what this process cannot start yet stays with the others.
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
        leases: RedisStateStore | None = None,
        read_count: int = 16,
    ) -> None:
        if client is None:
            require_network(url, what="Redis")
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.claim_idle_ms = int(claim_idle * 1000)
        self.block_ms = max(1, int(block * 1000))
        self.read_count = max(1, read_count)
        self.leases = leases
        self._own_client = client is None
        self._client: Any = client if client is not None else open_client(url)
        # Acknowledgements of hundreds of tasks ending at once share round trips.
        self._batch = CommandBatcher(self._client)
        self._group_ready = False
        self._backlog: list[Delivery] = []
        self._outstanding: dict[str, Delivery] = {}  # handed out under a lease, not acked yet
        self._cancelling: set[str] = set()
        self._drain_waiter: anyio.Event | None = None
        self._read_lock = anyio.Lock()
        self._receivers = 0
        self._stopping = False
        self._closed = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        async with self._read_lock:  # once, not once per waiting receiver
            if not self._group_ready:
                await self._create_group()

    async def _create_group(self) -> None:
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
        if self._closed:
            raise anyio.ClosedResourceError
        try:
            await self._client.xadd(self.stream, {_FIELD: task.model_dump_json()})
        except RedisError as exc:
            raise _translate(exc) from exc

    async def receive(self) -> Delivery:
        """Wait for the next delivery: a reclaimed stale one first, else a new one.

        With ``leases``, only deliveries whose task this process now holds the lease of.

        Raises:
            anyio.EndOfStream: once :meth:`stop` was called (the worker is shutting down).
        """
        await self._ensure_group()
        self._receivers += 1
        try:
            while True:
                if self._stopping or self._closed:
                    raise anyio.EndOfStream
                if not self._backlog:
                    # One read at a time, for as many entries as receivers wait (at most
                    # read_count): idle receivers cost no Redis calls, and a worker takes no
                    # more than it can start, leaving the rest to the other workers.
                    async with self._read_lock:
                        if not self._backlog and not self._stopping:
                            await self._fill_backlog(min(self._receivers, self.read_count))
                    continue
                delivery = self._backlog.pop(0)
                if self._stopping:
                    await self._hand_back(delivery)
                    continue
                if self.leases is None or await self._admit(delivery):
                    return delivery
        finally:
            self._receivers -= 1

    async def _fill_backlog(self, count: int) -> None:
        try:
            self._backlog.extend(await self._claim_stale(count))
            if self._backlog:
                return
            answer = await self._client.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: ">"},
                count=count,
                block=self.block_ms,
            )
        except RedisError as exc:
            raise _translate(exc) from exc
        for _stream, entries in answer or ():
            self._backlog.extend(_delivery(entry_id, fields, 1) for entry_id, fields in entries)
        await anyio.lowlevel.checkpoint()

    async def _admit(self, delivery: Delivery) -> bool:
        """Take the task's lease for this delivery, or settle the delivery without running it."""
        store = self.leases
        assert store is not None
        task_id = delivery.task.id
        # One step checks the record and takes the lease: no result lands in between.
        admission = await store.admit(task_id, delivery.delivery_id)
        if admission.outcome == "unknown":
            return True  # unknown to the state: the runtime reports and acknowledges it
        if admission.outcome == "final":
            await self._ack_entry(delivery)
            return False
        if admission.outcome == "held":
            if admission.holder not in (delivery.delivery_id, CANCELLER, ""):
                # A copy of a task another live worker runs (its own delivery stays pending
                # with it, and is claimed from it if it dies): this one is redundant.
                await self._ack_entry(delivery)
            # Else this is the holder's own delivery, claimed while its lease still lives (or
            # a caller cancelling holds the lease for a moment): left pending, it is claimed
            # again after claim_idle.
            return False
        status = admission.status
        assert status is not None
        if status is TaskStatus.PENDING and admission.cancel_requested:
            await self._finish_cancelled(task_id, admission.last_seq)
            await self._ack_entry(delivery)
            return False
        self._outstanding[delivery.delivery_id] = delivery
        _log.info(
            "minds371.bus.task_taken",
            task_id=task_id,
            consumer=self.consumer,
            attempt=delivery.attempt,
            status=status.value,
        )
        return True

    async def _finish_cancelled(self, task_id: str, last_seq: int) -> None:
        store = self.leases
        assert store is not None
        event = TaskEvent(
            task_id=task_id,
            seq=last_seq + 1,
            type="task.cancelled",
            status=TaskStatus.CANCELLED,
            message="the task was cancelled",
        )
        await store.finish(cancelled_result(task_id), event)
        await store.release(task_id)

    async def _claim_stale(self, count: int) -> list[Delivery]:
        _next, entries, *_deleted = await self._client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            self.claim_idle_ms,
            start_id="0-0",
            count=count,
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

    def _forget(self, delivery: Delivery) -> None:
        self._outstanding.pop(delivery.delivery_id, None)
        if not self._outstanding and self._drain_waiter is not None:
            self._drain_waiter.set()

    async def drained(self) -> None:
        """Wait until no delivery is in flight (after :meth:`stop`, the running tasks ended)."""
        while self._outstanding:
            self._drain_waiter = anyio.Event()
            await self._drain_waiter.wait()

    async def ack(self, delivery: Delivery) -> None:
        """Acknowledge and delete the stream entry (and give the task's lease back)."""
        self._forget(delivery)
        self._cancelling.discard(delivery.task.id)
        if self.leases is not None and self.leases.lost(delivery.task.id):
            # Taken over: the delivery is the new holder's now, and stays pending with it.
            await self.leases.release(delivery.task.id)
            return
        await self._ack_entry(delivery)
        if self.leases is not None:
            await self.leases.release(delivery.task.id)

    async def _ack_entry(self, delivery: Delivery) -> None:
        try:
            # Settled, the delivery must not come back: a shutdown cancelling the caller does
            # not withdraw its acknowledgement.
            with anyio.CancelScope(shield=True):
                await self._batch.call("XACK", self.stream, self.group, delivery.delivery_id)
                await self._batch.call("XDEL", self.stream, delivery.delivery_id)
        except RedisError as exc:
            raise _translate(exc) from exc

    async def _hand_back(self, delivery: Delivery) -> None:
        """Queue the task again for another worker and drop this delivery (and its lease)."""
        self._forget(delivery)
        if self.leases is not None and self.leases.lost(delivery.task.id):
            await self.leases.release(delivery.task.id)  # another worker runs it already
            return
        try:
            await self._client.xadd(self.stream, {_FIELD: delivery.task.model_dump_json()})
        except RedisError as exc:
            raise _translate(exc) from exc
        await self._ack_entry(delivery)
        if self.leases is not None:
            await self.leases.release(delivery.task.id)

    @property
    def in_flight(self) -> int:
        """How many deliveries this process holds the lease of and has not acknowledged."""
        return len(self._outstanding)

    async def keep_leases(
        self,
        on_cancel: Callable[[str], Awaitable[None]] | None = None,
        *,
        interval: float | None = None,
    ) -> None:
        """Renew the leases of running tasks until cancelled (a worker's background task).

        Every ``interval`` seconds (default: a quarter of the lease's lifetime, at most 1 s) it
        extends each lease, resets the idle time of its delivery so that no other worker claims
        it, and calls ``on_cancel(task_id)`` once for each running task a caller asked to cancel.
        A lease found lost is logged: the store's fence stops this process writing for the task.
        """
        store = self.leases
        if store is None:
            raise ConfigurationError("keep_leases needs the bus's leases (a RedisStateStore)")
        period = interval if interval is not None else min(1.0, store.lease_ttl_ms / 4000)
        halt = threading.Event()
        renewer: threading.Thread | None = None
        if store.url is not None:
            # Renewed from a thread: the event loop may be busy for longer than a lease lives.
            renewer = threading.Thread(
                target=self._renew_in_thread,
                args=(store.url, period, halt),
                name=f"minds371-leases-{self.consumer}",
                daemon=True,
            )
            renewer.start()
        try:
            while True:
                await anyio.sleep(period)
                try:
                    if renewer is None:
                        await self._renew_once()
                    await self._pass_cancellations(on_cancel)
                except ProviderError as exc:
                    _log.warning("minds371.bus.lease_renewal_failed", error=exc.message)
        finally:
            halt.set()

    def _renew_in_thread(self, url: str, period: float, halt: threading.Event) -> None:
        store = self.leases
        assert store is not None
        client: Any = redis.Redis.from_url(url)
        try:
            while not halt.wait(period):
                try:
                    for task_id in store.renew_blocking(client):
                        _log.warning(
                            "minds371.bus.lease_lost", task_id=task_id, consumer=self.consumer
                        )
                    ids = self._held_deliveries()
                    if ids:
                        client.xclaim(self.stream, self.group, self.consumer, 0, ids, justid=True)
                except RedisError as exc:
                    _log.warning("minds371.bus.lease_renewal_failed", error=str(exc))
        finally:
            client.close()

    def _held_deliveries(self) -> list[str]:
        """The delivery ids of the tasks whose lease this process holds."""
        store = self.leases
        assert store is not None
        held = set(store.held)
        return [d.delivery_id for d in list(self._outstanding.values()) if d.task.id in held]

    async def _renew_once(self) -> None:
        store = self.leases
        assert store is not None
        for task_id in await store.renew():
            _log.warning("minds371.bus.lease_lost", task_id=task_id, consumer=self.consumer)
        ids = self._held_deliveries()
        if ids:
            try:
                await self._client.xclaim(
                    self.stream, self.group, self.consumer, 0, ids, justid=True
                )
            except RedisError as exc:
                raise _translate(exc) from exc

    async def _pass_cancellations(self, on_cancel: Callable[[str], Awaitable[None]] | None) -> None:
        store = self.leases
        if on_cancel is None or store is None:
            return
        held = set(store.held)
        ids = [
            d.task.id
            for d in list(self._outstanding.values())
            if d.task.id in held and d.task.id not in self._cancelling
        ]
        for task_id in await store.cancel_requested(ids):
            self._cancelling.add(task_id)
            await on_cancel(task_id)

    def stop(self) -> None:
        """Stop handing out deliveries: receivers see ``EndOfStream`` (a worker shutting down)."""
        self._stopping = True

    async def pending(self) -> int:
        """How many deliveries of the group are unacknowledged."""
        await self._ensure_group()
        summary = await self._client.xpending(self.stream, self.group)
        return int(summary["pending"])

    async def aclose(self) -> None:
        """Hand back what this process did not finish, and close the client if the bus made it.

        Deliveries taken but not acknowledged (tasks interrupted by a shutdown, reads not yet
        started) are queued again at once for the other workers, their leases given back.
        """
        if self._closed:
            return
        self._stopping = True
        with anyio.CancelScope(shield=True):
            leftovers = [*self._outstanding.values(), *self._backlog]
            self._backlog = []
            for delivery in leftovers:
                try:
                    await self._hand_back(delivery)
                except ProviderError as exc:
                    # It stays pending: another worker claims it after claim_idle.
                    _log.warning(
                        "minds371.bus.hand_back_failed", task_id=delivery.task.id, error=exc.message
                    )
            self._closed = True
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
