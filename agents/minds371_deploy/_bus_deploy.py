"""``minds371 deploy --bus``: the deployment task runs on the workers of a Redis bus.

The task is stored in the shared state and queued on the bus (:class:`~minds371.bus.remote.
RemoteTasks`); its events are followed from the shared state as a worker runs it, and its result
is the one the worker stored. Ctrl-C asks the workers to cancel the task (the worker running it
closes what it created) and waits for the cancellation to be stored.
"""

from __future__ import annotations

import signal
from typing import Any

import anyio

from minds371.tasks import Task, TaskResult

__all__ = ["deploy_on_bus"]


async def deploy_on_bus(url: str, task: Task, name: str, progress: Any) -> tuple[TaskResult, bool]:
    """Dispatch ``task`` on the bus at ``url``, show its events; return (result, cancelled).

    Raises:
        ConfigurationError: ``url`` is not a Redis URL.
        ProviderError: Redis cannot be reached.
    """
    from minds371.bus.remote import RemoteTasks
    from minds371.bus.worker import check_bus_url, public_url

    check_bus_url(url)
    cancelled = False
    async with RemoteTasks(url) as remote:
        handle = await remote.dispatch(task)
        progress.console.print(
            f"[bold]deploying[/bold] {name} as task {handle.id} on the workers of {public_url(url)}"
        )
        async with anyio.create_task_group() as group:

            async def on_interrupt() -> None:
                nonlocal cancelled
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        cancelled = True
                        progress.console.print(
                            "[yellow]cancelling: the worker closes what was created, or undoes "
                            "the update…"
                        )
                        await handle.cancel()
                        return

            group.start_soon(on_interrupt)
            async for event in handle.events():
                progress.show(event)
            result = await handle.result()
            group.cancel_scope.cancel()
    return result, cancelled
