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

from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pydantic
from anyio.abc import TaskGroup

from minds371 import agent as _agent
from minds371._handle import TaskHandle
from minds371._results import (
    cancelled_result,
    completed_result,
    failed_result,
    no_agent_result,
)
from minds371.actions import ActionRegistry, RunContext
from minds371.agent import Agent, TaskContext
from minds371.bus import Delivery, MemoryTaskBus, TaskBus
from minds371.config import home
from minds371.errors import (
    ConfigurationError,
    DuplicateRegistration,
    ValidationError,
)
from minds371.logging import get_logger, register_secrets_in
from minds371.plugins import Plugin, discover_plugins
from minds371.state import SQLiteStateStore, StateStore, TaskRecord
from minds371.state._scrub import scrub_result
from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus

__all__ = ["AgentRuntime", "TaskHandle"]

_log = get_logger("minds371.runtime")


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
        if handle is not None and not handle._in_progress and getattr(self.store, "shared", False):
            # Other processes write to a shared store: another worker may have advanced the
            # task since this handle was made, so start from what the store says now. The
            # handle itself is kept: whoever dispatched the task may be waiting on it.
            record = await self.store.get_task(delivery.task.id)
            if record is None:
                _log.warning("minds371.task.unknown_delivery", task_id=delivery.task.id)
                return
            newer = [e for e in await self.store.events(record.task.id) if e.seq > handle._seq]
            handle._catch_up(record, newer)
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
            await self._finish(handle, no_agent_result(handle.task, self.agent_types))
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
            result = cancelled_result(handle.id)
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
            return completed_result(handle.id, output)
        except Exception as exc:
            _log.warning(
                "minds371.task.failed",
                task_id=handle.id,
                agent_type=handle.task.agent_type,
                error=type(exc).__name__,
                message=str(exc),
            )
            return failed_result(handle.id, exc)
        finally:
            _agent._current.reset(token)

    async def _finish(self, handle: TaskHandle, result: TaskResult) -> None:
        if handle.done:
            return
        result = scrub_result(result)  # the handle answers with what the store keeps
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
