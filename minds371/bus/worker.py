"""A worker process: a runtime serving the tasks of a Redis bus, its state shared in Redis.

``minds371 worker --bus redis://HOST:PORT/DB`` runs :func:`serve_worker`. Several workers (on one
host or several) share one bus and one state: each task runs on one worker at a time, under a
lease (see :mod:`minds371.state.redis`); a worker that dies mid-task has its task taken over by
another after ``claim_idle`` seconds, which resumes the task's saga from the shared journal.

Only a state store that several processes can share is accepted (:func:`require_shared_store`):
the embedded SQLite store belongs to one runtime and the memory store to one process.

The deployment watcher runs in one worker at a time: the one holding the watcher's lease (see
:mod:`minds371.bus.leader`); the others take over when it stops renewing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import anyio

from minds371.bus.leader import WatchLeadership
from minds371.bus.redis import RedisTaskBus
from minds371.errors import ConfigurationError
from minds371.logging import get_logger
from minds371.runtime import AgentRuntime
from minds371.state import StateStore
from minds371.state.redis import RedisStateStore

__all__ = [
    "BUS_ENV",
    "WorkerConfig",
    "check_bus_url",
    "public_url",
    "require_shared_store",
    "serve_worker",
]

_log = get_logger("minds371.worker")

#: The environment variable that names the bus, for ``deploy`` and ``worker``.
BUS_ENV = "MINDS371_BUS"

_SCHEMES = ("redis", "rediss", "unix")


def check_bus_url(url: str, *, option: str = "--bus") -> str:
    """Return ``url`` if it names a Redis server (``redis://``, ``rediss://``, ``unix://``).

    Raises:
        ConfigurationError: naming ``option``, if it does not.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{option}: {public_url(text)!r} is not a URL: {exc}") from None
    if parts.scheme not in _SCHEMES or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigurationError(
            f"{option}: {public_url(text)!r} is not a Redis URL; use redis://HOST:PORT/DB"
        )
    if port == 0:
        raise ConfigurationError(f"{option}: port 0 is not a port")
    return text


def public_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def require_shared_store(store: StateStore) -> None:
    """Refuse a state store that several worker processes cannot share.

    Raises:
        ConfigurationError: for the embedded SQLite store (one runtime holds it, with an
            exclusive lock) and the memory store (one process sees it).
    """
    if getattr(store, "shared", False):
        return
    raise ConfigurationError(
        f"{type(store).__name__} is not safe for several worker processes: workers must share "
        "the state of their tasks (events, saga journal, results) so that one can take over "
        "another's task; use the Redis state store (--state redis)"
    )


def state_store_for(spec: str, bus_url: str, *, namespace: str, lease_ttl: float) -> StateStore:
    """The state store that ``--state`` names: ``redis`` (the bus's server) or a Redis URL.

    Raises:
        ConfigurationError: for ``sqlite``, ``memory`` or a path, which several processes
            cannot share, and for anything else that is not a Redis URL.
    """
    value = spec.strip()
    if value.lower() in ("sqlite", "memory") or ("://" not in value and value.lower() != "redis"):
        kind = value.lower() if value.lower() in ("sqlite", "memory") else "a SQLite file"
        raise ConfigurationError(
            f"--state: {kind} is not safe for several worker processes: the embedded SQLite "
            "state belongs to one runtime (it holds an exclusive lock on its file) and the memory "
            "state to one process; workers share theirs in Redis (--state redis, the default)"
        )
    url = bus_url if value.lower() == "redis" else check_bus_url(value, option="--state")
    return RedisStateStore(url, namespace=namespace, lease_ttl=lease_ttl)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker serves its bus.

    Attributes:
        bus_url: The Redis server of the task stream.
        state: ``redis`` (the bus's server) or a Redis URL for the shared state.
        concurrency: How many tasks run at once in this process.
        namespace: Prefix of every key; the task stream is ``<namespace>:tasks``.
        claim_idle: Seconds after which a dead worker's task is taken over.
        grace: Seconds a stopping worker lets its running tasks finish before handing them back.
        consumer: This worker's consumer name (default: host, process id and a nonce).
    """

    bus_url: str
    state: str = "redis"
    concurrency: int = 8
    namespace: str = "minds371"
    claim_idle: float = 30.0
    grace: float = 30.0
    consumer: str | None = None

    @property
    def lease_ttl(self) -> float:
        """Seconds a task's lease lives: less than ``claim_idle``.

        A worker that takes a dead worker's delivery over then finds its lease expired. The
        watcher's lease (:mod:`minds371.bus.leader`) lives as long.
        """
        return self.claim_idle * 0.75


async def serve_worker(
    config: WorkerConfig,
    stop: anyio.Event,
    *,
    store: StateStore | None = None,
    on_ready: Callable[[RedisTaskBus], None] | None = None,
) -> None:
    """Serve the bus until ``stop`` is set; then stop taking tasks and hand back what is left.

    After ``stop``, running tasks get ``config.grace`` seconds to finish (a second ``stop`` is
    not needed: cancel the caller to end at once); those still running are interrupted, not
    cancelled, and queued again for the other workers, which resume them from the journal.

    Raises:
        ConfigurationError: a bad URL, or a state store several processes cannot share.
        ProviderError: Redis cannot be reached.
    """
    if config.concurrency < 1:
        raise ConfigurationError("--concurrency must be at least 1")
    if config.claim_idle <= 0:
        raise ConfigurationError("--claim-idle must be more than 0 seconds")
    bus_url = check_bus_url(config.bus_url)
    shared = (
        store
        if store is not None
        else state_store_for(
            config.state, bus_url, namespace=config.namespace, lease_ttl=config.lease_ttl
        )
    )
    require_shared_store(shared)
    if not isinstance(shared, RedisStateStore):
        raise ConfigurationError("worker processes keep their state in a RedisStateStore")
    bus = RedisTaskBus(
        bus_url,
        stream=f"{config.namespace}:tasks",
        group=config.namespace,
        consumer=config.consumer,
        claim_idle=config.claim_idle,
        block=0.5,
        leases=shared,
        read_count=64,
    )
    runtime = AgentRuntime(store=shared, bus=bus, concurrency=config.concurrency)
    leadership = WatchLeadership(shared, ttl=config.lease_ttl)
    _fence_watcher(runtime, leadership)

    async def cancel(task_id: str) -> None:
        handle = await runtime.get(task_id)
        if handle is not None and not handle.done:
            _log.info("minds371.worker.cancelling", task_id=task_id)
            runtime_group.start_soon(handle.cancel)

    async with runtime, anyio.create_task_group() as runtime_group:
        runtime_group.start_soon(bus.keep_leases, cancel)
        runtime_group.start_soon(leadership.keep)
        _log.info(
            "minds371.worker.started",
            consumer=bus.consumer,
            bus=public_url(bus_url),
            concurrency=config.concurrency,
        )
        if on_ready is not None:
            on_ready(bus)
        await stop.wait()
        bus.stop()
        with anyio.move_on_after(config.grace):
            await bus.drained()
        _log.info("minds371.worker.stopping", consumer=bus.consumer, handed_back=bus.in_flight)
        runtime_group.cancel_scope.cancel()


def _fence_watcher(runtime: AgentRuntime, leadership: WatchLeadership) -> None:
    """Make the runtime's deployment watcher watch only while this worker holds the lease."""
    try:
        from minds371_deploy._plugin import watcher_for
    except ImportError:  # pragma: no cover - the deploy plugin ships with minds371
        return
    watcher = watcher_for(runtime)
    watcher.store = leadership.fenced(watcher.store)
