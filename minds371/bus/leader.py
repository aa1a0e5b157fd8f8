"""One watcher for many workers: a leader lease in Redis, and the state view that it fences.

Every worker runs the deployment watcher as a runtime service, over the tasks all workers share.
Unco-ordinated, two workers would both re-lease the same lost lease or both pay a top-up. So the
workers elect one: :class:`WatchLeadership` holds ``NS:watcher:leader`` (a random token, set only
if absent, expiring after ``ttl`` seconds) and renews it every ``ttl / 5`` seconds; a worker that
does not hold it tries to take it as often. A leader that stops renewing (killed, partitioned,
stalled) loses it ``ttl`` seconds after its last renewal and another worker takes it then.

The watcher of every worker reads and writes the state through :class:`LeaderFencedStore`:

* a worker that does not lead sees no deployments to watch (its passes do nothing);
* the leader's every read of a deployment's journal first checks that its lease is still valid by
  its own clock (``ttl`` from the moment it *sent* its last successful renewal, which is no later
  than the moment Redis expires it), so a pass that lost the lease stops at the next deployment;
* every step the watcher journals (a re-lease, a top-up, a close) is written by a Redis script
  only while the key still holds the leader's token, as a task's saga steps are fenced by the
  task's lease.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
from redis.exceptions import RedisError

from minds371.errors import ProviderError
from minds371.logging import get_logger
from minds371.state import SagaStep, TaskRecord
from minds371.state.redis import LeaseLost, RedisStateStore
from minds371.tasks import TaskStatus

__all__ = ["LeaderFencedStore", "WatchLeadership"]

_log = get_logger("minds371.worker")

# KEYS: the leader key. ARGV: token, milliseconds. Takes the lease if nobody holds it, renews it
# if this token holds it; 1 when held by this token afterwards, 0 when another holds it.
_HOLD = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class WatchLeadership:
    """The lease that makes one worker of a namespace its watcher.

    Args:
        store: The workers' shared Redis state (its client and namespace are used).
        ttl: Seconds the lease lives unless renewed.
        clock: Monotonic seconds (tests inject one).
    """

    def __init__(
        self,
        store: RedisStateStore,
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.key = f"{store.namespace}:watcher:leader"
        self.token = uuid.uuid4().hex
        self._clock = clock
        self._valid_until = 0.0
        self._hold: Any = None

    @property
    def leading(self) -> bool:
        """Whether this process holds the lease now, by its own clock (see module docs)."""
        return self._clock() < self._valid_until

    async def hold_once(self) -> bool:
        """Take or renew the lease once; return whether this process holds it afterwards."""
        if self._hold is None:
            self._hold = self.store.client.register_script(_HOLD)
        was = self.leading
        sent = self._clock()
        try:
            held = int(await self._hold(keys=[self.key], args=[self.token, int(self.ttl * 1000)]))
        except RedisError as exc:  # not leading until Redis answers again; tried next round
            _log.warning("minds371.worker.watch_lease_failed", error=type(exc).__name__)
            held = 0
        if held:
            self._valid_until = sent + self.ttl
        else:
            self._valid_until = 0.0
        if held and not was:
            _log.info("minds371.worker.watching", key=self.key)
        elif was and not held:
            _log.warning("minds371.worker.watching_stopped", key=self.key)
        return bool(held)

    async def keep(self) -> None:
        """Hold (or wait for) the lease until cancelled; then give it back."""
        try:
            while True:
                await self.hold_once()
                await anyio.sleep(self.ttl / 5)
        finally:
            with anyio.CancelScope(shield=True):
                await self.release()

    async def release(self) -> None:
        """Give the lease back if this process holds it (another worker watches at once)."""
        self._valid_until = 0.0
        try:
            client = self.store.client
        except ProviderError:
            return  # the store is closed: the lease expires on its own
        try:
            await client.eval(_RELEASE, 1, self.key, self.token)
        except RedisError as exc:  # it expires after ttl anyway
            _log.warning("minds371.worker.watch_lease_release_failed", error=type(exc).__name__)

    def fenced(self, store: RedisStateStore) -> LeaderFencedStore:
        """The view of ``store`` the watcher of this process uses."""
        return LeaderFencedStore(store, self)


class LeaderFencedStore:
    """A watcher's view of the shared state, fenced by the watcher's leader lease.

    Everything not listed here is the wrapped store's.
    """

    def __init__(self, store: RedisStateStore, leadership: WatchLeadership) -> None:
        self._store = store
        self._leadership = leadership

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _check(self) -> None:
        if not self._leadership.leading:
            raise LeaseLost(
                "this worker no longer holds the watcher's lease; another worker watches now, "
                "so this pass stops",
                details={"lease": self._leadership.key},
            )

    async def list_tasks(
        self,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
        limit: int = 100,
    ) -> list[TaskRecord]:
        """The store's tasks while this worker leads; none otherwise (nothing to watch)."""
        if not self._leadership.leading:
            return []
        return await self._store.list_tasks(statuses=statuses, agent_type=agent_type, limit=limit)

    async def steps(self, task_id: str) -> list[SagaStep]:
        """A task's steps, read only while this worker leads (a pass stops once it does not)."""
        self._check()
        return await self._store.steps(task_id)

    async def record_step(self, task_id: str, name: str, data: Mapping[str, Any]) -> SagaStep:
        """Journal a step only while the leader key holds this worker's token."""
        self._check()
        return await self._store.record_step(
            task_id, name, data, fence=(self._leadership.key, self._leadership.token)
        )
