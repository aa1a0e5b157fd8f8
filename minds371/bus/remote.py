"""Dispatch tasks to worker processes over Redis, and follow them, from any other process.

Workers (``minds371 worker --bus redis://…``) serve tasks from a Redis stream and keep every
task's state in Redis. :class:`RemoteTasks` is the other end: it stores a task, queues it on the
stream, and reads the task's events and result back from Redis, so a program (a benchmark, an
agent host, ``minds371 deploy --bus``) can run tasks on workers it does not host::

    from minds371 import Task
    from minds371.bus.remote import RemoteTasks
    from minds371.tasks import AgentType

    async with RemoteTasks("redis://127.0.0.1:6379/0") as remote:
        handles = [
            await remote.dispatch(Task(agent_type=AgentType.DEPLOYMENT, payload=request))
            for request in requests  # each: request_payload(parse_request(data))
        ]
        results = [await handle.result() for handle in handles]

Any number of tasks may be awaited at once: one reader follows the stream of stored results and
wakes the waiters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import pydantic
from anyio.abc import TaskGroup

from minds371._results import cancelled_result
from minds371.bus.redis import CANCELLER, RedisTaskBus
from minds371.errors import ConfigurationError, ProviderError, ValidationError
from minds371.logging import get_logger, register_secrets_in
from minds371.state.redis import RedisStateStore
from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus

try:
    from redis.exceptions import RedisError
except ImportError as _import_error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "Dispatching to workers needs the redis package: pip install 'minds371[redis]'"
    ) from _import_error

__all__ = ["RemoteTask", "RemoteTasks"]

_log = get_logger("minds371.bus.remote")


class RemoteTasks:
    """Dispatch tasks to the workers serving a Redis bus, and await their events and results.

    Use it as an async context manager; while open, it follows the stream of stored results so
    that any number of :meth:`RemoteTask.result` calls can wait at once.

    Args:
        url: The Redis URL the workers serve (``redis://HOST:PORT/DB``).
        namespace: The key namespace the workers use (``minds371`` unless they were told
            otherwise); their task stream is ``<namespace>:tasks``.
        poll: Seconds a blocking read waits before looking again (bounds how late a stop or a
            missed notification is noticed).
    """

    def __init__(self, url: str, *, namespace: str = "minds371", poll: float = 1.0) -> None:
        self.url = url
        self.namespace = namespace
        self.store = RedisStateStore(url, namespace=namespace)
        self.bus = RedisTaskBus(url, stream=f"{namespace}:tasks", group=namespace)
        self._poll_ms = max(1, int(poll * 1000))
        self._waiters: dict[str, anyio.Event] = {}
        self._group: TaskGroup | None = None
        self._last_result_id = "0-0"

    async def __aenter__(self) -> RemoteTasks:
        await self.store.__aenter__()
        try:
            newest = await self.store.client.xrevrange(self.store.results_key, count=1)
            if newest:
                self._last_result_id = _text(newest[0][0])
            self._group = anyio.create_task_group()
            await self._group.__aenter__()
            self._group.start_soon(self._follow_results)
        except BaseException:
            await self.store.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._group is not None:
                self._group.cancel_scope.cancel()
                await self._group.__aexit__(None, None, None)
                self._group = None
        finally:
            await self.bus.aclose()
            await self.store.__aexit__(None, None, None)

    async def dispatch(self, task: Task | Mapping[str, Any]) -> RemoteTask:
        """Store the task and queue it for the workers; return its handle.

        A task whose id the state already knows is not queued again: its handle is returned.

        Raises:
            ValidationError: ``task`` is a mapping that is not a valid task.
            ProviderError: Redis cannot be reached (retryable).
        """
        if not isinstance(task, Task):
            try:
                task = Task.model_validate(task)
            except pydantic.ValidationError as exc:
                raise ValidationError.from_pydantic(exc, subject="task") from None
        if self._group is None:
            raise ConfigurationError("dispatch needs an open RemoteTasks: `async with`")
        register_secrets_in(task.payload)
        if task.status is not TaskStatus.PENDING:
            task = task.model_copy(update={"status": TaskStatus.PENDING})
        record, created = await self.store.create_task(task)
        if created:
            await self.bus.publish(task)
        return RemoteTask(self, record.task)

    async def live_workers(self, within: float = 5.0) -> int:
        """How many workers read the task stream in the last ``within`` seconds.

        Workers read at least every second while they serve, so one not seen for longer is gone
        (or stalled). Redis keeps a departed worker's name, which is why this looks at idleness.
        """
        try:
            consumers = await self.store.client.xinfo_consumers(self.bus.stream, self.bus.group)
        except RedisError:
            return 0  # no stream or no group yet: no worker ever served it
        return sum(1 for c in consumers if int(c.get("idle", within * 1000 + 1)) <= within * 1000)

    async def get(self, task_id: str) -> RemoteTask | None:
        """The handle of a task the shared state knows, else ``None``."""
        record = await self.store.get_task(task_id)
        return None if record is None else RemoteTask(self, record.task)

    async def _follow_results(self) -> None:
        client = self.store.client
        while True:
            try:
                answer = await client.xread(
                    {self.store.results_key: self._last_result_id}, count=500, block=self._poll_ms
                )
            except RedisError as exc:
                _log.warning("minds371.bus.results_unreadable", error=str(exc))
                await anyio.sleep(self._poll_ms / 1000)
                continue
            for _key, entries in answer or ():
                for entry_id, fields in entries:
                    self._last_result_id = _text(entry_id)
                    task_id = _text(fields.get(b"task_id") or fields.get("task_id") or "")
                    waiter = self._waiters.pop(task_id, None)
                    if waiter is not None:
                        waiter.set()

    async def _result(self, task_id: str) -> TaskResult:
        while True:
            waiter = self._waiters.setdefault(task_id, anyio.Event())
            record = await self.store.get_task(task_id)
            if record is None:
                raise ConfigurationError(f"no task {task_id} in the shared state")
            if record.result is not None:
                self._waiters.pop(task_id, None)
                return record.result
            # Bounded, so that a notification trimmed away is made up for by looking again.
            with anyio.move_on_after(30):
                await waiter.wait()


class RemoteTask:
    """A task dispatched to the workers: its events and, in the end, its result."""

    def __init__(self, owner: RemoteTasks, task: Task) -> None:
        self.task = task
        self._owner = owner

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    async def status(self) -> TaskStatus:
        """The task's current status in the shared state."""
        record = await self._owner.store.get_task(self.id)
        return self.task.status if record is None else record.status

    async def result(self) -> TaskResult:
        """Wait until a worker has stored the task's result, and return it.

        Bound the wait with ``anyio.fail_after``: with no worker serving the bus, it never ends.
        """
        return await self._owner._result(self.id)

    async def events(self) -> AsyncIterator[TaskEvent]:
        """Every event of the task in ``seq`` order, past ones first, then new ones as they come.

        The iteration ends after the task's final event.
        """
        store = self._owner.store
        key = store.events_key(self.id)
        last = "0-0"
        while True:
            try:
                answer = await store.client.xread(
                    {key: last}, count=100, block=self._owner._poll_ms
                )
            except RedisError as exc:
                raise ProviderError(
                    f"Redis: cannot read the events of task {self.id}: {exc}", retryable=True
                ) from exc
            for _key, entries in answer or ():
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    event = TaskEvent.model_validate_json(fields.get(b"e") or fields.get("e"))
                    yield event
                    if event.status.is_final:
                        return
            if not answer:
                record = await store.get_task(self.id)
                if record is not None and record.result is not None:
                    seen = int(last.partition("-")[2] or 0)
                    if seen >= record.last_seq:
                        return

    async def cancel(self) -> None:
        """Ask for the task to be cancelled (closing what it created) and wait until it ended.

        The worker running it cancels it at its next lease renewal; a task no worker has taken
        yet ends CANCELLED without running.
        """
        store = self._owner.store
        await store.request_cancel(self.id)
        # Not taken yet: cancel it here, under its lease, so that no worker starts it.
        if await store.acquire(self.id, CANCELLER) is None:
            try:
                record = await store.get_task(self.id)
                if record is not None and record.status is TaskStatus.PENDING:
                    event = TaskEvent(
                        task_id=self.id,
                        seq=record.last_seq + 1,
                        type="task.cancelled",
                        status=TaskStatus.CANCELLED,
                        message="the task was cancelled",
                    )
                    await store.finish(cancelled_result(self.id), event)
            finally:
                await store.release(self.id)
        await self.result()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
