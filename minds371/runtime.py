"""The agent runtime: dispatches tasks to agents, runs them concurrently, records everything.

::

    async with AgentRuntime(concurrency=8) as runtime:
        handle = await runtime.dispatch(Task(agent_type="greeter", payload={"name": "ada"}))
        async for event in handle.events():
            print(event.type, event.message)
        result = await handle.result()

Tasks reach workers over a :class:`~minds371.bus.TaskBus` (in memory by default) and every state
change is written to a :class:`~minds371.state.StateStore` (SQLite under ``$MINDS371_HOME`` by
default) before it is reported. A runtime started on the state of one that died re-runs the tasks
that were pending or running (at least once) and answers with the results of finished ones.
Register agents before entering the runtime, so that recovered tasks find them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pydantic
from anyio.abc import TaskGroup
from pydantic_core import PydanticSerializationError, to_jsonable_python

from minds371 import agent as _agent
from minds371.actions import ActionRegistry, RunContext
from minds371.agent import Agent, TaskContext
from minds371.bus import Delivery, MemoryTaskBus, TaskBus
from minds371.config import home
from minds371.errors import (
    ConfigurationError,
    DuplicateRegistration,
    Minds371Error,
    NoAgentForTask,
    RuntimeStopped,
    TaskCancelled,
    ValidationError,
)
from minds371.logging import get_logger, redact, register_secrets_in
from minds371.plugins import Plugin, discover_plugins
from minds371.state import SQLiteStateStore, StateStore, TaskRecord
from minds371.tasks import Task, TaskError, TaskEvent, TaskResult, TaskStatus

__all__ = ["AgentRuntime", "TaskHandle"]

_log = get_logger("minds371.runtime")


class TaskHandle:
    """A dispatched task: its status, its events and, in the end, its result."""

    def __init__(
        self, runtime: AgentRuntime, task: Task, *, last_seq: int = 0, attempts: int = 0
    ) -> None:
        self.task = task
        self._runtime = runtime
        self._status = task.status
        self._result: TaskResult | None = None
        self._ended = False  # a result arrived, or the runtime stopped
        # Created only when someone waits: most tasks are never watched, and events cost.
        self._changed: anyio.Event | None = None
        # Events before ``_live_from`` are read back from the store; later ones are kept here.
        self._live_from = last_seq + 1
        self._seq = last_seq
        self._attempts = attempts
        self._events: list[TaskEvent] = []
        self._scope: anyio.CancelScope | None = None
        self._in_progress = False
        self._cancel_requested = False

    @property
    def id(self) -> str:
        """The task's id."""
        return self.task.id

    @property
    def status(self) -> TaskStatus:
        """The task's current status."""
        return self._status

    @property
    def done(self) -> bool:
        """Whether the task has reached a final status."""
        return self._result is not None

    async def result(self) -> TaskResult:
        """Wait for the task to end and return its result (bound the wait with ``fail_after``).

        Raises:
            RuntimeStopped: if the runtime stopped before the task ended (it will run again when a
                runtime starts on the same state).
        """
        while not self._ended:
            await self._wait_for_change()
        if self._result is None:
            raise RuntimeStopped(
                f"the runtime stopped before task {self.id} finished; it resumes when a runtime "
                "starts on the same state"
            )
        return self._result

    async def events(self) -> AsyncIterator[TaskEvent]:
        """Every event of the task in ``seq`` order: past ones first, then new ones as they come.

        The iteration ends after the task's final event (or when the runtime stops).
        """
        seq = 0
        if self._live_from > 1:
            for event in await self._runtime.store.events(self.id):
                if event.seq >= self._live_from:
                    break
                seq = event.seq
                yield event
        while True:
            start = max(0, seq - self._live_from + 1)
            for event in self._events[start:]:
                seq = event.seq
                yield event
            if self._ended and seq >= self._seq:
                return
            if seq >= self._seq:
                await self._wait_for_change()

    async def cancel(self) -> None:
        """Cancel the task and wait until it has ended (a finished task is left as it is).

        A pending task ends CANCELLED without running; a running task's agent sees the
        cancellation at its next checkpoint.
        """
        if self.done:
            return
        self._cancel_requested = True
        if self._scope is not None:
            self._scope.cancel()
        elif self._status is TaskStatus.PENDING:
            await self._runtime._finish(self, _cancelled_result(self.id))
        while not self._ended:
            await self._wait_for_change()

    # -- used by the runtime ----------------------------------------------------------------------

    async def _wait_for_change(self) -> None:
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def _next_event(self, type: str, message: str, data: Mapping[str, Any]) -> TaskEvent:
        self._seq += 1
        fields = {
            "task_id": self.id,
            "seq": self._seq,
            "type": type,
            "status": self._status,
            "message": message,
            "data": dict(data),
        }
        event = TaskEvent.model_validate(fields)
        self._events.append(event)
        self._notify()
        return event

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    def _settle(self, result: TaskResult) -> None:
        self._result = result
        self._status = result.status
        self._ended = True
        self._notify()

    def _interrupt(self) -> None:
        self._ended = True
        self._notify()


def _cancelled_result(task_id: str) -> TaskResult:
    return TaskResult(
        task_id=task_id,
        status=TaskStatus.CANCELLED,
        error=TaskError(type=TaskCancelled.__name__, message="the task was cancelled"),
    )


class AgentRuntime:
    """Hosts agents and actions; dispatches tasks to them with bounded concurrency.

    Args:
        store: Where state goes; default: SQLite at ``$MINDS371_HOME/state.db``.
        bus: How tasks reach workers; default: in memory.
        concurrency: How many tasks run at once.
        actions: The action registry (a new one by default).
        deps: Dependencies handed to actions run through :meth:`execute_action`.
        load_plugins: Discover plugins (entry-point group ``minds371.plugins``) and register their
            actions and agents.
        plugins: Plugins to register in addition to (or, with ``load_plugins=False``, instead of)
            the discovered ones.
        max_cached_handles: How many finished task handles to keep in memory; older ones are
            re-read from the store on demand.
    """

    def __init__(
        self,
        *,
        store: StateStore | None = None,
        bus: TaskBus | None = None,
        concurrency: int = 8,
        actions: ActionRegistry | None = None,
        deps: Any = None,
        load_plugins: bool = True,
        plugins: Iterable[Plugin] = (),
        max_cached_handles: int = 100_000,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        self.store: StateStore = (
            store if store is not None else SQLiteStateStore(home() / "state.db")
        )
        self.bus: TaskBus = bus if bus is not None else MemoryTaskBus()
        self.concurrency = concurrency
        self.actions = actions if actions is not None else ActionRegistry()
        self.deps = deps
        self.max_cached_handles = max_cached_handles
        self._agents: dict[str, Agent] = {}
        self._handles: dict[str, TaskHandle] = {}
        self._plugins: list[Plugin] = []
        self._task_group: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._running = False
        self._stopping = False
        self._used = False
        self.recovered: list[TaskHandle] = []
        for plugin in [*(discover_plugins() if load_plugins else ()), *plugins]:
            self.register_plugin(plugin)

    # -- registration -----------------------------------------------------------------------------

    def register_agent(self, agent: Agent) -> Agent:
        """Serve ``agent.agent_type`` with ``agent``.

        Raises:
            ConfigurationError: if ``agent`` does not look like an :class:`Agent`.
            DuplicateRegistration: if another agent already serves that type.
        """
        agent_type = getattr(agent, "agent_type", None)
        if not isinstance(agent_type, str) or not agent_type:
            raise ConfigurationError(f"{agent!r} has no agent_type string")
        if not callable(getattr(agent, "process_task", None)):
            raise ConfigurationError(f"{agent!r} has no process_task method")
        if agent_type in self._agents:
            raise DuplicateRegistration(f"an agent already serves agent type {agent_type!r}")
        self._agents[agent_type] = agent
        return agent

    def register_plugin(self, plugin: Plugin) -> None:
        """Register a plugin's actions and agents (see :class:`~minds371.plugins.Plugin`)."""
        if any(p.name == plugin.name for p in self._plugins):
            raise DuplicateRegistration(f"a plugin named {plugin.name!r} is already registered")
        self._plugins.append(plugin)
        for item in plugin.actions():
            self.actions.register(item)
        for served in plugin.agents(self):
            self.register_agent(served)

    @property
    def agent_types(self) -> list[str]:
        """The agent types this runtime serves."""
        return sorted(self._agents)

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> AgentRuntime:
        if self._used:
            raise ConfigurationError("a runtime runs once; create a new AgentRuntime to run again")
        self._used = True
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(self.store)
            stack.push_async_callback(self.bus.aclose)
            self._task_group = await stack.enter_async_context(anyio.create_task_group())
            self._stack = stack
            self._running = True
            for _ in range(self.concurrency):
                self._task_group.start_soon(self._worker)
            await self._recover()
            for plugin in self._plugins:
                await plugin.startup(self)
                for service in plugin.services(self):
                    self._task_group.start_soon(service)
        except BaseException:
            self._running = False
            await stack.aclose()
            raise
        return self

    @property
    def stopping(self) -> bool:
        """Whether the runtime is shutting down.

        Running tasks are then interrupted, to resume on the next start, not cancelled: an agent
        that compensates on cancellation should check this first.
        """
        return self._stopping

    async def __aexit__(self, *exc_info: object) -> None:
        self._running = False
        self._stopping = True
        stack, self._stack = self._stack, None
        if self._task_group is not None:
            # Shutting down is not cancelling: interrupted tasks stay running in the store and
            # run again when a runtime starts on the same state.
            self._task_group.cancel_scope.cancel()
        try:
            if stack is not None:
                await stack.aclose()
        finally:
            self._task_group = None
            for handle in self._handles.values():
                if not handle.done:
                    handle._interrupt()

    async def _recover(self) -> None:
        for record in await self.store.unfinished():
            register_secrets_in(record.task.payload)
            handle = self._handle_from(record)
            self._handles[record.task.id] = handle
            self.recovered.append(handle)
            _log.info(
                "minds371.task.recovered",
                task_id=record.task.id,
                status=record.status.value,
                attempts=record.attempts,
            )
            await self.bus.publish(record.task)

    # -- dispatch ---------------------------------------------------------------------------------

    async def dispatch(self, task: Task | Mapping[str, Any]) -> TaskHandle:
        """Queue a task and return its handle.

        Dispatching a task whose id this runtime (or its state) already knows returns the existing
        handle and never runs the task twice.

        Raises:
            ValidationError: if ``task`` is a mapping that is not a valid task.
            ConfigurationError: if the runtime is not running.
        """
        if not isinstance(task, Task):
            try:
                task = Task.model_validate(task)
            except pydantic.ValidationError as exc:
                raise ValidationError.from_pydantic(exc, subject="task") from None
        if not self._running:
            raise ConfigurationError("dispatch needs a running runtime: `async with runtime:`")
        known = self._handles.get(task.id)
        if known is not None:
            return known
        register_secrets_in(task.payload)
        if task.status is not TaskStatus.PENDING:
            task = task.model_copy(update={"status": TaskStatus.PENDING})
        handle = TaskHandle(self, task)
        self._handles[task.id] = handle
        record, created = await self.store.create_task(handle.task)
        if not created:
            handle = self._handle_from(record)
            self._handles[task.id] = handle
            if handle.done:
                return handle
        await self.bus.publish(handle.task)
        self._prune()
        return handle

    async def get(self, task_id: str) -> TaskHandle | None:
        """The handle of a task this runtime or its state knows, else ``None``."""
        known = self._handles.get(task_id)
        if known is not None:
            return known
        record = await self.store.get_task(task_id)
        return None if record is None else self._handle_from(record)

    def _handle_from(self, record: TaskRecord) -> TaskHandle:
        handle = TaskHandle(self, record.task, last_seq=record.last_seq, attempts=record.attempts)
        handle._status = record.status
        if record.result is not None:
            handle._settle(record.result)
        return handle

    def _prune(self) -> None:
        excess = len(self._handles) - self.max_cached_handles
        if excess <= 0:
            return
        for task_id in [t for t, h in self._handles.items() if h.done][:excess]:
            del self._handles[task_id]

    # -- execution --------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            try:
                delivery = await self.bus.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
            await self._execute(delivery)
            await self.bus.ack(delivery)

    async def _execute(self, delivery: Delivery) -> None:
        handle = self._handles.get(delivery.task.id)
        if handle is None:
            record = await self.store.get_task(delivery.task.id)
            if record is None:
                _log.warning("minds371.task.unknown_delivery", task_id=delivery.task.id)
                return
            handle = self._handle_from(record)
            self._handles[record.task.id] = handle
        if handle.done or handle._in_progress:
            # Finished, or a redelivery of a task this runtime is already running.
            return
        handle._in_progress = True
        try:
            await self._run(handle)
        finally:
            handle._in_progress = False

    async def _run(self, handle: TaskHandle) -> None:
        served_by = self._agents.get(handle.task.agent_type)
        if served_by is None:
            await self._finish(handle, _no_agent_result(handle.task, self.agent_types))
            return
        result: TaskResult | None = None
        with anyio.CancelScope() as scope:
            handle._scope = scope
            if handle._cancel_requested:
                scope.cancel()
            handle._status = TaskStatus.RUNNING
            started = handle._next_event("task.started", "the task started", {})
            handle._attempts += 1
            await self.store.mark_running(handle.id, started)
            result = await self._run_agent(served_by, handle, handle._attempts)
        handle._scope = None
        if scope.cancelled_caught or result is None:
            result = _cancelled_result(handle.id)
        await self._finish(handle, result)

    async def _run_agent(self, served_by: Agent, handle: TaskHandle, attempt: int) -> TaskResult:
        async def emit(type: str, message: str, data: Mapping[str, Any]) -> TaskEvent:
            event = handle._next_event(type, message, data)
            await self.store.append_event(event)
            return event

        context = TaskContext(
            task=handle.task, attempt=attempt, store=self.store, runtime=self, _emit=emit
        )
        token = _agent._current.set(context)
        try:
            output = await served_by.process_task(handle.task)
            return _completed_result(handle.id, output)
        except Exception as exc:
            _log.warning(
                "minds371.task.failed",
                task_id=handle.id,
                agent_type=handle.task.agent_type,
                error=type(exc).__name__,
                message=str(exc),
            )
            return _failed_result(handle.id, exc)
        finally:
            _agent._current.reset(token)

    async def _finish(self, handle: TaskHandle, result: TaskResult) -> None:
        if handle.done:
            return
        handle._status = result.status
        message = result.error.message if result.error else "the task completed"
        final = handle._next_event(f"task.{result.status.value}", message, {})
        handle._settle(result)
        await self.store.finish(result, final)

    # -- actions ----------------------------------------------------------------------------------

    async def execute_action(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run a registered action with this runtime's ``deps``.

        Inside a running task, the action's progress events go to that task.
        """
        running = _agent.optional_task()
        ctx: RunContext[Any] = RunContext(deps=self.deps, runtime=self)
        if running is not None:
            task_context = running

            async def emit(type: str, message: str, data: Mapping[str, Any]) -> TaskEvent:
                return await task_context.emit(type, message, **data)

            ctx.task_id, ctx.emit = running.task.id, emit
        return await self.actions.execute(name, params, ctx=ctx)


def _completed_result(task_id: str, output: Any) -> TaskResult:
    if not isinstance(output, Mapping):
        return TaskResult(
            task_id=task_id,
            status=TaskStatus.FAILED,
            error=TaskError(
                type="ActionError",
                message=f"the agent returned {type(output).__name__}, not a dict",
            ),
        )
    try:
        jsonable = to_jsonable_python(dict(output))
    except PydanticSerializationError as exc:
        return TaskResult(
            task_id=task_id,
            status=TaskStatus.FAILED,
            error=TaskError(
                type="ActionError", message=f"the agent's output is not JSON-serialisable: {exc}"
            ),
        )
    return TaskResult(task_id=task_id, status=TaskStatus.COMPLETED, output=jsonable)


def _failed_result(task_id: str, exc: Exception) -> TaskResult:
    if isinstance(exc, Minds371Error):
        structured = exc.to_dict()
    else:
        structured = {
            "type": type(exc).__name__,
            "message": str(exc) or type(exc).__name__,
            "details": {},
            "retryable": False,
        }
    with contextlib.suppress(PydanticSerializationError):
        structured["details"] = to_jsonable_python(structured["details"], fallback=repr)
    # Results travel to other agents: scrub them like log lines.
    structured["message"] = redact(structured["message"])
    structured["details"] = redact(structured["details"])
    return TaskResult(task_id=task_id, status=TaskStatus.FAILED, error=TaskError(**structured))


def _no_agent_result(task: Task, served: list[str]) -> TaskResult:
    error = NoAgentForTask(
        f"no agent serves agent type {task.agent_type!r}; this runtime serves: "
        f"{', '.join(served) or 'none'}",
        details={"agent_type": task.agent_type, "served": served},
    )
    return TaskResult(task_id=task.id, status=TaskStatus.FAILED, error=TaskError(**error.to_dict()))
