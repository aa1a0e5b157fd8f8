"""A state store on Redis, shared by every worker process that serves one task bus.

The embedded SQLite store belongs to one runtime (it holds an exclusive lock on its file) and the
memory store to one process; workers on several processes, or on several hosts, share this one.
Install with ``pip install 'minds371[redis]'``.

Keys, under a namespace (``minds371`` by default):

* ``NS:task:ID``: hash of the task, its status, attempts, last event ``seq`` and result;
* ``NS:index:all``, ``NS:index:open``: every task, and the unfinished ones, by creation time;
* ``NS:names:NAME``: the tasks whose payload's ``name`` is ``NAME``, by creation time (what
  :meth:`RedisStateStore.tasks_named` reads); ``NS:index:names`` marks the name index complete
  (tasks stored before it existed are added once, by the first store opened on the namespace);
* ``NS:events:ID``: stream of the task's events, entry id ``0-SEQ`` (followers block on it);
* ``NS:steps:ID``: list of the task's saga steps, in order;
* ``NS:lease:ID``: the lease of the worker running the task (``TOKEN DELIVERY``, expiring);
* ``NS:cancel:ID``: set when a caller asked for the task to be cancelled;
* ``NS:results``: stream with one entry per stored result (what dispatchers wait on).

The task stream of the bus is ``NS:tasks``.

**Leases and fencing.** A worker runs a task only while it holds the task's lease, which it renews
while the task runs (:meth:`RedisStateStore.renew`). Every write a worker makes for a task it
holds (events, saga steps, the result) checks the lease's token in the same Lua script: a worker
that lost its lease (it stalled past the lease's lifetime and another worker took the task over)
can no longer journal a step, so it stops before the side effect the step would guard, and it
cannot read the journal back to compensate. A result is stored once: :meth:`finish` sets it only
if none is stored yet and only under the writer's lease; a second finish is dropped and logged.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from minds371.agent import optional_task
from minds371.config import require_network
from minds371.errors import Minds371Error, ProviderError
from minds371.logging import get_logger
from minds371.state._protocol import SagaStep, TaskRecord
from minds371.state._redis_batch import CommandBatcher
from minds371.state._scrub import scrub_event, scrub_result, scrub_step
from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus, utcnow

try:
    import redis.asyncio as aioredis
    from redis.exceptions import NoScriptError, RedisError, ResponseError
except ImportError as _import_error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "The Redis state store needs the redis package: pip install 'minds371[redis]'"
    ) from _import_error

__all__ = ["Admission", "LeaseLost", "RedisStateStore", "open_client"]

_log = get_logger("minds371.state.redis")

# The fence every write of a leased task passes: ARGV[1] is the writer's token ('' when the
# writer holds no lease for the task: a dispatcher, a tool, the watcher on another task).
_FENCE = """
local token = ARGV[1]
if token ~= '' then
  local held = redis.call('GET', KEYS[1])
  if (not held) or string.sub(held, 1, #token) ~= token then
    return redis.error_reply('LEASE_LOST')
  end
end
"""

# KEYS: task, all, open, the name's index. ARGV: task json, status, agent type, score, task id,
# '1' when the payload has a name to index under (else the name index is left alone).
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'task', ARGV[1], 'status', ARGV[2], 'attempts', 0, 'last_seq', 0,
           'agent_type', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
if ARGV[6] == '1' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5]) end
return 1
"""

# KEYS: lease, task, events. ARGV: token, seq, event json, status ('' keeps it), attempt (0/1).
_EVENT = (
    _FENCE
    + """
redis.call('XADD', KEYS[3], '0-' .. ARGV[2], 'e', ARGV[3])
redis.call('HSET', KEYS[2], 'last_seq', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'status', ARGV[4]) end
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[2], 'attempts', 1) end
return 1
"""
)

# KEYS: lease, task, events, open, results. ARGV: token, seq, event json, status, result json,
# task id. Returns 1 when stored, 0 when a result was already there, -1 when the lease was lost.
_FINISH = """
local token = ARGV[1]
if token ~= '' then
  local held = redis.call('GET', KEYS[1])
  if (not held) or string.sub(held, 1, #token) ~= token then return -1 end
end
if redis.call('HEXISTS', KEYS[2], 'result') == 1 then return 0 end
redis.call('XADD', KEYS[3], '0-' .. ARGV[2], 'e', ARGV[3])
redis.call('HSET', KEYS[2], 'status', ARGV[4], 'result', ARGV[5], 'last_seq', ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[6])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 100000, '*', 'task_id', ARGV[6], 'status', ARGV[4])
return 1
"""

# KEYS: lease, steps. ARGV: token, step json. Returns the step's seq.
_STEP = (
    _FENCE
    + """
return redis.call('RPUSH', KEYS[2], ARGV[2])
"""
)

# KEYS: the leases. ARGV: milliseconds, then each lease's token. For each lease, 1 renewed or
# 0 lost: one call renews every lease a worker holds.
_RENEW = """
local renewed = {}
for i, key in ipairs(KEYS) do
  local token = ARGV[i + 1]
  local held = redis.call('GET', key)
  if held and string.sub(held, 1, #token) == token then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed[i] = 1
  else
    renewed[i] = 0
  end
end
return renewed
"""

# KEYS: lease, task, cancel. ARGV: the lease's value (token and delivery id), milliseconds.
# Whether the task is known and unfinished and, if so, its lease taken in the same step: no
# result can land between the check and the lease. Answers {'unknown'}, {'final'},
# {'held', holder} or {'taken', status, last_seq, cancel requested (1/0)}.
_ADMIT = """
if redis.call('EXISTS', KEYS[2]) == 0 then return {'unknown'} end
if redis.call('HEXISTS', KEYS[2], 'result') == 1 then return {'final'} end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'held', redis.call('GET', KEYS[1]) or ''}
end
local row = redis.call('HMGET', KEYS[2], 'status', 'last_seq')
return {'taken', row[1], row[2] or '0', redis.call('EXISTS', KEYS[3])}
"""

_RELEASE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_STATE_FIELDS = ("status", "attempts", "last_seq", "agent_type")
#: Parsed tasks and results kept per process (both are immutable once stored).
_CACHE_LIMIT = 100_000


#: Connections one client keeps to Redis; more callers at once wait for one to free up.
POOL_SIZE = 64


def open_client(url: str) -> Any:
    """A ``redis.asyncio`` client on a pool of :data:`POOL_SIZE` connections.

    A worker runs hundreds of tasks at once: with a plain pool, each of them holding a connection
    for a moment would open a connection of its own, up to the pool's limit, and then fail with
    "Too many connections"; a blocking pool makes the extra callers wait instead.
    """
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=None)
    return aioredis.Redis.from_pool(pool)


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`RedisStateStore.admit` found for a delivery of a task.

    Attributes:
        outcome: ``"unknown"`` (no such task), ``"final"`` (it has a result), ``"held"``
            (another delivery holds its lease) or ``"taken"`` (this process holds it now).
        holder: For ``"held"``, the delivery id of the lease's holder (``""`` if unknown).
        status: For ``"taken"``, the task's status.
        last_seq: For ``"taken"``, the ``seq`` of its newest event.
        cancel_requested: For ``"taken"``, whether a caller asked to cancel it.
    """

    outcome: str
    holder: str = ""
    status: TaskStatus | None = None
    last_seq: int = 0
    cancel_requested: bool = False


class LeaseLost(Minds371Error):
    """This process no longer holds the lease of the task it was running.

    Another worker took the task over (this one stalled for longer than the lease lives); this
    one must stop writing for the task, and must not compensate: the task is no longer its own.
    """


class RedisStateStore:
    """A :class:`~minds371.state.StateStore` in Redis: safe for several processes and hosts.

    Args:
        url: Redis URL (``redis://127.0.0.1:6379/0``).
        namespace: Prefix of every key; runtimes that share tasks share it.
        lease_ttl: Seconds a task's lease lives unless renewed (see :meth:`renew`).
        client: An existing ``redis.asyncio.Redis`` client (not closed by the store).
    """

    #: Several processes may use this store at once (the worker refuses stores without this).
    shared = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "minds371",
        lease_ttl: float = 30.0,
        client: Any = None,
    ) -> None:
        if client is None:
            require_network(url, what="Redis")
        self.namespace = namespace
        self.lease_ttl_ms = max(100, int(lease_ttl * 1000))
        self._url = url
        self._own_client = client is None
        self._client: Any = client
        self._held: dict[str, str] = {}  # task id -> lease token, for leases this process holds
        self._lost: set[str] = set()
        self._scripts: dict[str, Any] = {}
        self._batcher: CommandBatcher | None = None
        self._tasks: dict[str, Task] = {}
        self._results: dict[str, TaskResult] = {}

    # -- keys -------------------------------------------------------------------------------------

    def _key(self, kind: str, task_id: str = "") -> str:
        return f"{self.namespace}:{kind}:{task_id}" if task_id else f"{self.namespace}:{kind}"

    @property
    def results_key(self) -> str:
        """The stream with one entry (``task_id``, ``status``) per stored result."""
        return self._key("results")

    def _name_key(self, name: str) -> str:
        return f"{self.namespace}:names:{name}"

    def events_key(self, task_id: str) -> str:
        """The stream of a task's events (entry id ``0-SEQ``, field ``e``: the event's JSON)."""
        return self._key("events", task_id)

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> RedisStateStore:
        if self._client is None:
            self._client = open_client(self._url)
        for name, source in (
            ("create", _CREATE),
            ("event", _EVENT),
            ("finish", _FINISH),
            ("step", _STEP),
            ("renew", _RENEW),
            ("release", _RELEASE),
            ("admit", _ADMIT),
        ):
            self._scripts[name] = self._client.register_script(source)
        self._batcher = CommandBatcher(self._client)
        try:
            await self._client.ping()
            await self._complete_name_index()
        except RedisError as exc:
            raise _translate(exc) from exc
        return self

    async def _complete_name_index(self) -> None:
        """Index by name the tasks stored before the name index existed (once per namespace).

        Tasks created since are indexed by :meth:`create_task` itself; adding one twice is
        harmless, so stores opening at once may both do it.
        """
        marker = self._key("index", "names")
        if await self.client.exists(marker):
            return
        ids = await self.client.zrange(self._key("index", "all"), 0, -1, withscores=True)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            async with self.client.pipeline(transaction=False) as pipe:
                for task_id, _score in chunk:
                    pipe.hget(self._key("task", _text(task_id)), "task")
                rows = await pipe.execute()
            async with self.client.pipeline(transaction=False) as pipe:
                for (task_id, score), raw in zip(chunk, rows, strict=True):
                    name = _payload_name(raw)
                    if name is not None:
                        pipe.zadd(self._name_key(name), {_text(task_id): score})
                await pipe.execute()
        await self.client.set(marker, "1")

    async def __aexit__(self, *exc_info: object) -> None:
        self._batcher = None
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def aclose(self) -> None:
        """Close the client if the store made it."""
        await self.__aexit__(None, None, None)

    @property
    def client(self) -> Any:
        """The ``redis.asyncio`` client (open while the store is)."""
        if self._client is None:
            raise ProviderError("the Redis state store is not open", retryable=False)
        return self._client

    async def _call(self, *args: Any) -> Any:
        """One command, sent with the others awaited at once (see :mod:`._redis_batch`)."""
        if self._batcher is None:
            raise ProviderError("the Redis state store is not open", retryable=False)
        try:
            return await self._batcher.call(*args)
        except RedisError as exc:
            raise _translate(exc) from exc

    async def _eval(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one of the store's scripts by its digest (loaded again if the server lost it)."""
        if self._batcher is None:
            raise ProviderError("the Redis state store is not open", retryable=False)
        program = self._scripts[script]
        command = ("EVALSHA", program.sha, len(keys), *keys, *args)
        try:
            return await self._batcher.call(*command)
        except NoScriptError:  # a restarted or flushed server: load it and send again
            await self.client.script_load(program.script)
            return await self._batcher.call(*command)

    async def _run(
        self, script: str, keys: Sequence[str], args: Sequence[Any], *, task_lease: bool = True
    ) -> Any:
        try:
            return await self._eval(script, keys, args)
        except ResponseError as exc:
            if "LEASE_LOST" in str(exc):
                if not task_lease:  # another lease fenced the write (the watcher's)
                    raise LeaseLost(
                        f"the lease {keys[0]} is no longer held by this process; "
                        "the write was not made",
                        details={"lease": keys[0]},
                    ) from None
                task_id = keys[0].rsplit(":", 1)[-1]
                self._lost.add(task_id)
                raise _lease_lost(task_id) from None
            raise _translate(exc) from exc
        except RedisError as exc:
            raise _translate(exc) from exc

    def _token(self, task_id: str) -> str:
        """The fence for a write of the task's own run: its lease token ('' if none held)."""
        if task_id in self._lost:
            raise _lease_lost(task_id)
        return self._held.get(task_id, "")

    def _step_token(self, task_id: str) -> str:
        """The fence for a saga step: the lease's, when the task itself is writing.

        Other tasks journal steps of a task too (an update retiring the deployment it replaces,
        the watcher re-leasing one): they do not run under its lease, and are not fenced by it.
        """
        running = optional_task()
        if running is None or running.task.id != task_id:
            return ""
        return self._token(task_id)

    def lost(self, task_id: str) -> bool:
        """Whether this process held the task's lease and lost it to another worker."""
        return task_id in self._lost

    # -- tasks ------------------------------------------------------------------------------------

    async def create_task(self, task: Task) -> tuple[TaskRecord, bool]:
        """Store a new task, or return the known one and ``False``."""
        name = task.payload.get("name")
        created = await self._run(
            "create",
            [
                self._key("task", task.id),
                self._key("index", "all"),
                self._key("index", "open"),
                self._name_key(name if isinstance(name, str) else ""),
            ],
            [
                task.model_dump_json(),
                TaskStatus.PENDING.value,
                task.agent_type,
                _score(task.created_at),
                task.id,
                "1" if isinstance(name, str) else "0",
            ],
        )
        if created:
            return TaskRecord(task=task, status=TaskStatus.PENDING), True
        record = await self.get_task(task.id)
        assert record is not None
        return record, False

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """The record, or ``None``.

        The task and its result never change once stored: each is fetched and parsed once per
        process, and afterwards only the task's small state is read.
        """
        fields = ["status", "attempts", "last_seq"]
        fields += [
            f
            for f, known in (("task", self._tasks), ("result", self._results))
            if task_id not in known
        ]
        row = await self._call("HMGET", self._key("task", task_id), *fields)
        return self._record(task_id, dict(zip(fields, row, strict=True)))

    async def mark_running(self, task_id: str, event: TaskEvent) -> None:
        """Set running, count the attempt, append the event (durable at once, here)."""
        await self._event(event, status=TaskStatus.RUNNING.value, attempt=True)

    async def append_event(self, event: TaskEvent) -> None:
        """Append a progress event (scrubbed of secrets)."""
        await self._event(event, status="", attempt=False)

    async def _event(self, event: TaskEvent, *, status: str, attempt: bool) -> None:
        event = scrub_event(event)
        task_id = event.task_id
        await self._run(
            "event",
            [self._key("lease", task_id), self._key("task", task_id), self.events_key(task_id)],
            [
                self._token(task_id),
                event.seq,
                event.model_dump_json(),
                status,
                "1" if attempt else "0",
            ],
        )

    async def finish(self, result: TaskResult, event: TaskEvent) -> None:
        """Store the result, the final status and the final event, once.

        A result already stored stays: the second one (a worker that had lost its lease, a
        cancellation racing completion) is dropped and logged, never stored over the first.
        """
        result, event = scrub_result(result), scrub_event(event)
        task_id = result.task_id
        if task_id in self._lost:
            _log.warning(
                "minds371.state.result_not_stored",
                task_id=task_id,
                status=result.status.value,
                reason="lease lost",
            )
            return
        token = self._held.get(task_id, "")
        stored = await self._run(
            "finish",
            [
                self._key("lease", task_id),
                self._key("task", task_id),
                self.events_key(task_id),
                self._key("index", "open"),
                self.results_key,
            ],
            [
                token,
                event.seq,
                event.model_dump_json(),
                result.status.value,
                result.model_dump_json(),
                task_id,
            ],
        )
        if int(stored) != 1:
            _log.warning(
                "minds371.state.result_not_stored",
                task_id=task_id,
                status=result.status.value,
                reason="lease lost" if int(stored) < 0 else "a result was already stored",
            )

    async def events(self, task_id: str, after_seq: int = 0) -> list[TaskEvent]:
        """Events with ``seq > after_seq``, in order."""
        entries = await self._call("XRANGE", self.events_key(task_id), f"0-{after_seq + 1}", "+")
        return [_event_of(fields) for _id, fields in entries]

    async def unfinished(self) -> list[TaskRecord]:
        """Pending and running tasks, oldest first."""
        return await self._records(await self._call("ZRANGE", self._key("index", "open"), 0, -1))

    async def list_tasks(
        self,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
        limit: int = 100,
    ) -> list[TaskRecord]:
        """Tasks, newest first, filtered; ``limit=-1`` for all."""
        ids = await self._call("ZREVRANGE", self._key("index", "all"), 0, -1)
        found = await self._records(ids, statuses=statuses, agent_type=agent_type)
        return found if limit < 0 else found[:limit]

    async def tasks_named(
        self,
        name: str,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
    ) -> list[TaskRecord]:
        """Tasks whose payload's ``name`` is ``name``, newest first, filtered (by an index).

        A task's payload never changes once stored, so the name index (written with the task)
        stays true; statuses change, so they are filtered here, from the records.
        """
        ids = await self._call("ZREVRANGE", self._name_key(name), 0, -1)
        return [
            record
            for record in await self._records(ids, statuses=statuses, agent_type=agent_type)
            if record.task.payload.get("name") == name
        ]

    async def _records(
        self,
        ids: Iterable[Any],
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
    ) -> list[TaskRecord]:
        """The records of ``ids`` with one of ``statuses`` and of ``agent_type``, in order.

        Gone tasks are left out. Listings are read by every task that plans an update and by
        the watcher: the filters apply to each task's small state row first, so tasks filtered
        out are never fetched whole; and since a task never changes once stored and a result
        never once set, both are parsed once per process and fetched only when not known yet.
        """
        names = [_text(i) for i in ids]
        if not names:
            return []
        rows = await self._many(("HMGET", self._key("task", t), *_STATE_FIELDS) for t in names)
        kept: list[tuple[str, TaskStatus, Any, Any]] = []
        for task_id, (status, attempts, last_seq, stored_type) in zip(names, rows, strict=True):
            if status is None:
                continue
            state = TaskStatus(_text(status))
            if statuses is not None and state not in statuses:
                continue
            if agent_type is not None and stored_type is not None:
                if _text(stored_type) != agent_type:
                    continue
            kept.append((task_id, state, attempts, last_seq))
        missing = [
            (task_id, field)
            for task_id, state, _attempts, _seq in kept
            for field, needed in (
                ("task", task_id not in self._tasks),
                ("result", state.is_final and task_id not in self._results),
            )
            if needed
        ]
        if missing:
            fetched = await self._many(
                ("HGET", self._key("task", task_id), field) for task_id, field in missing
            )
            for (task_id, field), raw in zip(missing, fetched, strict=True):
                if raw is not None:
                    self._remember(task_id, field, raw)
        records: list[TaskRecord] = []
        for task_id, state, attempts, last_seq in kept:
            task = self._tasks.get(task_id)
            if task is None or (agent_type is not None and task.agent_type != agent_type):
                continue
            records.append(_assemble(task, state, attempts, last_seq, self._results.get(task_id)))
        return records

    async def _many(self, commands: Iterable[Sequence[Any]]) -> list[Any]:
        """Several commands in one round trip (shared with other callers'), their replies."""
        if self._batcher is None:
            raise ProviderError("the Redis state store is not open", retryable=False)
        try:
            return await self._batcher.call_many(list(commands))
        except RedisError as exc:
            raise _translate(exc) from exc

    def _remember(self, task_id: str, field: str, raw: bytes | str) -> None:
        if field == "task":
            if len(self._tasks) >= _CACHE_LIMIT:
                self._tasks.pop(next(iter(self._tasks)))
            self._tasks[task_id] = Task.model_validate_json(raw)
        else:
            if len(self._results) >= _CACHE_LIMIT:
                self._results.pop(next(iter(self._results)))
            self._results[task_id] = TaskResult.model_validate_json(raw)

    def _record(self, task_id: str, row: Mapping[str, Any]) -> TaskRecord | None:
        if row["status"] is None:
            return None  # no such task
        for field in ("task", "result"):
            if row.get(field) is not None:
                self._remember(task_id, field, row[field])
        task = self._tasks.get(task_id)
        if task is None:
            return None
        return _assemble(
            task, row["status"], row["attempts"], row["last_seq"], self._results.get(task_id)
        )

    # -- saga steps -------------------------------------------------------------------------------

    async def record_step(
        self,
        task_id: str,
        name: str,
        data: Mapping[str, Any],
        *,
        fence: tuple[str, str] | None = None,
    ) -> SagaStep:
        """Durably record a saga step (scrubbed of secrets), under the task's lease if held.

        ``fence`` is another lease the write must hold instead, as ``(key, token)`` (the
        watcher's, see :mod:`minds371.bus.leader`): the step is written only while that key
        still holds the token.

        Raises:
            LeaseLost: the lease fencing the write is no longer this process's.
        """
        # The stored entry is ``[name, data, at]``: the data's JSON is made once and placed in
        # it as it is, and the step answers with what reading it back gives.
        text = json.dumps(scrub_step(data), sort_keys=True, default=str)
        clean = json.loads(text)
        at = utcnow()
        payload = f"[{json.dumps(name)}, {text}, {json.dumps(at.isoformat())}]"
        lease, token = fence or (self._key("lease", task_id), self._step_token(task_id))
        seq = await self._run(
            "step",
            [lease, self._key("steps", task_id)],
            [token, payload],
            task_lease=fence is None,
        )
        return SagaStep(task_id=task_id, seq=int(seq), name=name, data=clean, at=at)

    async def steps(self, task_id: str) -> list[SagaStep]:
        """A task's saga steps, in order.

        Raises:
            LeaseLost: read by the task's own run in a process that lost its lease (it must not
                act on them: another worker runs the task now).
        """
        self._step_token(task_id)
        rows = await self._call("LRANGE", self._key("steps", task_id), 0, -1)
        steps: list[SagaStep] = []
        for seq, raw in enumerate(rows, start=1):
            name, data, at = json.loads(raw)
            steps.append(
                SagaStep(
                    task_id=task_id, seq=seq, name=name, data=data, at=datetime.fromisoformat(at)
                )
            )
        return steps

    # -- leases and cancellation ------------------------------------------------------------------

    async def acquire(self, task_id: str, delivery_id: str) -> str | None:
        """Take the task's lease for the delivery ``delivery_id``.

        Returns ``None`` when taken (this process's writes for the task are fenced by it from
        now on), else the id of the delivery whose worker holds it (``""`` if unknown).
        """
        token = uuid.uuid4().hex
        key = self._key("lease", task_id)
        taken = await self._call(
            "SET", key, f"{token} {delivery_id}", "NX", "PX", self.lease_ttl_ms
        )
        if taken:
            self._held[task_id] = token
            self._lost.discard(task_id)
            return None
        holder = await self._call("GET", key)
        return _text(holder).partition(" ")[2] if holder else ""

    async def admit(self, task_id: str, delivery_id: str) -> Admission:
        """Take the task's lease for ``delivery_id`` if the task is known and has no result.

        One step, where checking the record, taking the lease and reading the record again
        would be several: see :class:`Admission` for the answers. With ``"taken"``, this
        process's writes for the task are fenced by the lease from now on.
        """
        token = uuid.uuid4().hex
        answer = await self._run(
            "admit",
            [self._key("lease", task_id), self._key("task", task_id), self._key("cancel", task_id)],
            [f"{token} {delivery_id}", self.lease_ttl_ms],
            task_lease=False,
        )
        outcome = _text(answer[0])
        if outcome == "held":
            return Admission("held", holder=_text(answer[1]).partition(" ")[2])
        if outcome != "taken":
            return Admission(outcome)
        self._held[task_id] = token
        self._lost.discard(task_id)
        return Admission(
            "taken",
            status=TaskStatus(_text(answer[1])),
            last_seq=int(answer[2]),
            cancel_requested=bool(int(answer[3])),
        )

    async def renew(self) -> list[str]:
        """Extend every lease this process holds; return the tasks whose lease was lost."""
        held = list(self._held.items())
        if not held:
            return []
        keys, args = self._renewal(held)
        try:
            answers = await self._eval("renew", keys, args)
        except RedisError as exc:
            raise _translate(exc) from exc
        return self._note_lost(held, answers)

    def _renewal(self, held: list[tuple[str, str]]) -> tuple[list[str], list[Any]]:
        """The keys and arguments of one call of the renewal script for ``held``."""
        keys = [self._key("lease", task_id) for task_id, _token in held]
        return keys, [self.lease_ttl_ms, *(token for _task_id, token in held)]

    def renew_blocking(self, client: Any) -> list[str]:
        """:meth:`renew` on a synchronous ``redis.Redis`` client, for a thread of its own.

        A worker's event loop can be busy for longer than a lease lives (hundreds of tasks each
        doing CPU work between two awaits); renewing from a thread keeps the leases of a worker
        that is only busy from expiring.
        """
        held = list(self._held.items())
        if not held:
            return []
        keys, args = self._renewal(held)
        return self._note_lost(held, client.register_script(_RENEW)(keys=keys, args=args))

    def _note_lost(self, held: list[tuple[str, str]], answers: Sequence[Any]) -> list[str]:
        lost: list[str] = []
        for (task_id, token), ok in zip(held, answers, strict=True):
            # Released meanwhile (its task ended) is not lost.
            if not int(ok) and self._held.get(task_id) == token:
                self._held.pop(task_id, None)
                self._lost.add(task_id)
                lost.append(task_id)
        return lost

    @property
    def url(self) -> str | None:
        """The Redis URL the store connects to (``None`` when given a client)."""
        return self._url if self._own_client else None

    async def release(self, task_id: str) -> None:
        """Give the task's lease back (if this process still holds it)."""
        token = self._held.pop(task_id, None)
        self._lost.discard(task_id)
        if token is not None:
            await self._run("release", [self._key("lease", task_id)], [token])

    @property
    def held(self) -> list[str]:
        """The tasks whose lease this process holds."""
        return list(self._held)

    async def request_cancel(self, task_id: str) -> None:
        """Ask the worker running the task (or the next one to take it) to cancel it."""
        await self._call("SET", self._key("cancel", task_id), "1", "EX", 7 * 86400)

    async def cancel_requested(self, task_ids: Sequence[str]) -> list[str]:
        """Which of ``task_ids`` a caller asked to cancel."""
        if not task_ids:
            return []
        flags = await self._call("MGET", *(self._key("cancel", t) for t in task_ids))
        return [t for t, flag in zip(task_ids, flags, strict=True) if flag is not None]


def _score(moment: datetime) -> int:
    # Whole microseconds: exact in a sorted set's double up to the year 2255.
    return int(moment.timestamp() * 1_000_000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _assemble(
    task: Task, status: Any, attempts: Any, last_seq: Any, result: TaskResult | None
) -> TaskRecord:
    state = TaskStatus(_text(status))
    if task.status is not state:
        task = task.model_copy(update={"status": state})
    return TaskRecord(
        task=task,
        status=state,
        attempts=int(attempts or 0),
        last_seq=int(last_seq or 0),
        result=result,
    )


def _payload_name(raw: bytes | str | None) -> str | None:
    """The ``name`` of a stored task's payload, if it is a string."""
    if raw is None:
        return None
    name = json.loads(raw).get("payload", {}).get("name")
    return name if isinstance(name, str) else None


def _event_of(fields: Mapping[Any, Any]) -> TaskEvent:
    raw: bytes | str = fields.get(b"e") or fields.get("e") or b""
    return TaskEvent.model_validate_json(raw)


def _lease_lost(task_id: str) -> LeaseLost:
    return LeaseLost(
        f"task {task_id} was taken over by another worker (this one lost its lease); "
        "it stops writing for the task",
        details={"task_id": task_id},
    )


def _translate(exc: RedisError) -> ProviderError:
    return ProviderError(
        f"Redis state store: {exc}", retryable=True, details={"error": type(exc).__name__}
    )
