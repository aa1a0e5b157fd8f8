"""The durable state store: SQLite (stdlib) in WAL mode, driven from worker threads.

Writes are queued and committed in batches, one transaction per batch, in a worker thread (group
commit): a caller's ``await`` returns only after its write has committed (a progress event's
emitter excepted, see ``append_event``), yet concurrent tasks share one commit. Reads use a second
connection, which WAL lets proceed while a write is in flight.

``synchronous=NORMAL`` makes a commit survive a crash of the process (what a runtime killed mid-task
needs); pass ``synchronous="FULL"`` to survive power loss too, at the cost of an fsync per batch.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 -- call_soon: anyio has no "run this at the next turn"
import contextlib
import fcntl
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from minds371.config import private_file
from minds371.errors import ConfigurationError, RuntimeStopped
from minds371.logging import get_logger
from minds371.state._protocol import SagaStep, TaskRecord
from minds371.state._scrub import scrub_event, scrub_result, scrub_step
from minds371.tasks import Task, TaskEvent, TaskResult, TaskStatus, utcnow

__all__ = ["SQLiteStateStore"]

T = TypeVar("T")

_SCHEMA_VERSION = 1
# Events and saga steps are rowid tables beside their primary key's index: their rows are hundreds
# of bytes (an event's JSON) to kilobytes (a step holding a manifest), which cost two to three
# times as much to insert into the key's own B-tree (``WITHOUT ROWID``, how stores before kept
# them; see _rebuild_keyed_tables) as into a rowid table and a small index.
_KEYED_TABLES = {
    "events": """
CREATE TABLE IF NOT EXISTS events (
    task_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    json    TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
)""",
    "saga_steps": """
CREATE TABLE IF NOT EXISTS saga_steps (
    task_id   TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    name      TEXT NOT NULL,
    data_json TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
)""",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id          TEXT PRIMARY KEY,
    agent_type  TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_seq    INTEGER NOT NULL DEFAULT 0,  -- as of its last status change; see _RECORD_COLUMNS
    created_at  TEXT NOT NULL,
    task_json   TEXT NOT NULL,
    result_json TEXT
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, created_at);
-- `tasks_named` (a deployment's update plan) finds a name's tasks without reading the others.
CREATE INDEX IF NOT EXISTS tasks_by_name ON tasks (json_extract(task_json, '$.payload.name'));
""" + "".join(f"{create};\n" for create in _KEYED_TABLES.values())

_Write = Callable[[sqlite3.Connection], Any]
_log = get_logger("minds371.state")
#: Inline commits between two checkpoints of the WAL (see ``SQLiteStateStore._write``).
_CHECKPOINT_EVERY = 500


@dataclass(slots=True)
class _Pending:
    """One queued write: a function of the writer's connection, or an event's row.

    Events are most of the writes (a deployment task makes eleven): theirs are kept as rows, which
    a batch inserts together (see :func:`_insert_events`).
    """

    write: _Write | None
    row: tuple[str, int, str] | None = None
    result: Any = None
    error: BaseException | None = None
    # Nobody awaits it (an event on the inline path, see append_event): a failure is logged.
    unwaited: bool = False


class SQLiteStateStore:
    """Tasks, events, results and saga steps in one SQLite file.

    Args:
        path: The database file (its folder is created).
        exclusive: Hold an exclusive lock on ``<path>.lock`` while open, so that two runtimes
            cannot run the same tasks from one state; read-only tools pass ``False``.
        synchronous: SQLite's ``synchronous`` pragma (``NORMAL`` or ``FULL``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        exclusive: bool = True,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        self.path = Path(path)
        self._exclusive = exclusive
        self._synchronous = synchronous
        self._writer_conn: sqlite3.Connection | None = None
        self._reader_conn: sqlite3.Connection | None = None
        self._write_limiter = anyio.CapacityLimiter(1)
        self._read_limiter = anyio.CapacityLimiter(1)
        self._queue: list[_Pending] = []
        # Set once the batch that will take the queued writes has committed: one per batch, made
        # by the first writer that waits on it, shared by every writer of the batch.
        self._queued_done: anyio.Event | None = None
        self._flushing = False
        # A commit of the queue is scheduled for the event loop's next turn (see _commit_soon).
        self._commit_scheduled = False
        # Commits run on the event loop's thread when nothing can make them wait (see _write).
        self._inline = exclusive and synchronous == "NORMAL"
        self._commits_since_checkpoint = 0
        self._checkpointed = anyio.Event()  # set whenever no checkpoint runs
        self._checkpointed.set()
        self._idle = anyio.Event()
        self._closing = False
        self._lock_file: IO[str] | None = None
        self._parsed = _ParsedRows()
        # The saga steps of the tasks this store created, as committed: the exclusive lock makes
        # this store their only writer, so a task's journal is read back without a thread
        # handoff (a deployment task reads it several times). Others' are read from the file.
        self._steps: dict[str, list[SagaStep]] = {}

    async def __aenter__(self) -> SQLiteStateStore:
        # Task payloads may hold credentials: the state is readable by its owner only (SQLite
        # gives its -wal and -shm files the database file's permissions).
        private_file(self.path)
        if self._exclusive:
            self._lock_file = _acquire_lock(self.path)
        try:
            self._writer_conn = await anyio.to_thread.run_sync(self._open, True)
            self._reader_conn = await anyio.to_thread.run_sync(self._open, False)
        except sqlite3.Error as exc:
            self._release_lock()
            raise ConfigurationError(f"cannot open state database {self.path}: {exc}") from exc
        self._closing = False
        self._commit_scheduled = False
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        with anyio.CancelScope(shield=True):
            if self._flushing:
                await self._idle.wait()
            await self._checkpointed.wait()  # it uses the reader connection, closed below
            if self._queue and self._writer_conn is not None:
                batch, done = self._take()
                if self._inline:
                    self._apply(batch)  # on the loop's thread, like every inline commit
                else:
                    await anyio.to_thread.run_sync(self._apply, batch)
                if done is not None:
                    done.set()
            for conn in (self._writer_conn, self._reader_conn):
                if conn is not None:
                    await anyio.to_thread.run_sync(conn.close)
        self._writer_conn = self._reader_conn = None
        self._release_lock()

    async def aclose(self) -> None:
        """Flush pending writes and close."""
        await self.__aexit__(None, None, None)

    def _open(self, writer: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        if writer and self._inline:
            # A checkpoint flushes the database file to disk: never inside an inline commit.
            conn.execute("PRAGMA wal_autocheckpoint=0")
        if writer:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this minds371 understands"
                )
            conn.executescript(_SCHEMA)
            if self._exclusive:  # the only writer: no other runtime's statements in flight
                _rebuild_keyed_tables(conn)
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        return conn

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # -- the writer -------------------------------------------------------------------------------

    def _enqueue(self, write: Callable[[sqlite3.Connection], object]) -> None:
        """Queue a write that need not be durable yet; the next flush commits it, in order."""
        if self._closing or self._writer_conn is None:
            raise ConfigurationError("the state store is not open")
        self._queue.append(_Pending(write))

    async def _write(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Queue a write and return once it has committed.

        The first writer to find no flush in progress becomes the flusher: it commits everything
        queued, in batches, until the queue is empty, while later writers wait for their batch
        (group commit without a background task, so the store works from any task). The writers
        of one batch wait on one event, set when it commits.

        Where no commit can wait (this store holds the exclusive lock, so no other connection
        writes, and ``synchronous=NORMAL`` in WAL mode commits without flushing to disk), a batch
        is committed on the event loop's own thread: a commit then costs tens of microseconds,
        a handoff to a worker thread several times that under load. The flusher first lets the
        other ready tasks queue their writes, so batches stay as large as before. The WAL is
        checkpointed in a worker thread every :data:`_CHECKPOINT_EVERY` commits instead of
        inside a commit (a checkpoint flushes the database file to disk).
        """
        pending = _Pending(write)
        result: T = await self._commit(pending)
        return result

    async def _commit(self, pending: _Pending) -> Any:
        """Queue ``pending`` and return its result once it has committed (see :meth:`_write`)."""
        if self._closing or self._writer_conn is None:
            raise ConfigurationError("the state store is not open")
        self._queue.append(pending)
        if self._flushing:
            done = self._queued_done
            if done is None:
                done = self._queued_done = anyio.Event()
            await done.wait()
        else:
            await self._flush()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _commit_soon(self, pending: _Pending) -> bool:
        """Queue ``pending`` to commit at the event loop's next turn, without waiting for it.

        The commit runs on the loop's thread (the inline path) once the tasks ready now have
        queued their writes too, or with a flush already in progress. False where this cannot be
        (commits in a worker thread, or a loop that is not asyncio's): the caller waits instead.
        """
        if not self._inline:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self._closing or self._writer_conn is None:
            raise ConfigurationError("the state store is not open")
        pending.unwaited = True
        self._queue.append(pending)
        if not self._flushing and not self._commit_scheduled:
            self._commit_scheduled = True
            loop.call_soon(self._commit_queued)
        return True

    def _commit_queued(self) -> None:
        """Commit what is queued now, on the loop's thread (scheduled by _commit_soon).

        A flush in progress takes the queue itself, and a closing store commits what is left;
        the WAL is checkpointed by the next flush that is due one.
        """
        self._commit_scheduled = False
        if self._flushing or not self._queue or self._writer_conn is None:
            return
        self._commit_inline()

    def _commit_inline(self) -> None:
        """Commit the queued writes on the loop's thread and wake their writers (see _waking)."""
        batch, done = self._take()
        with _waking(batch, done):
            if batch:  # a commit scheduled by _commit_soon may have taken it
                self._apply(batch)
                self._commits_since_checkpoint += 1

    async def _flush(self) -> None:
        """Commit what is queued, batch after batch, until nothing is; then checkpoint if due."""
        self._flushing = True
        self._idle = anyio.Event()
        try:
            # Shielded: a cancelled flusher must still commit (and wake) the others' writes.
            with anyio.CancelScope(shield=True):
                while self._queue:
                    if self._inline:
                        await anyio.lowlevel.checkpoint()  # let the others queue theirs
                        self._commit_inline()
                    else:
                        batch, done = self._take()
                        with _waking(batch, done):
                            await anyio.to_thread.run_sync(
                                self._apply, batch, limiter=self._write_limiter
                            )
        finally:
            self._flushing = False
            self._idle.set()
        due = self._commits_since_checkpoint >= _CHECKPOINT_EVERY
        if due and self._checkpointed.is_set():
            await self._checkpoint()

    def _take(self) -> tuple[list[_Pending], anyio.Event | None]:
        """The queued writes, and the event their writers wait on; the queue starts anew."""
        batch, done = self._queue, self._queued_done
        self._queue, self._queued_done = [], None
        return batch, done

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database file, in a worker thread (it flushes to disk)."""
        conn = self._reader_conn
        if conn is None:
            return
        self._checkpointed = anyio.Event()
        self._commits_since_checkpoint = 0
        try:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    lambda: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall(),
                    limiter=self._read_limiter,
                )
        except sqlite3.Error as exc:  # a later one tries again; the WAL only grows meanwhile
            _log.warning("minds371.state.checkpoint_failed", error=str(exc))
        finally:
            self._checkpointed.set()

    def _apply(self, batch: list[_Pending]) -> None:
        conn = self._writer_conn
        assert conn is not None
        try:
            self._apply_together(conn, batch)
        except Exception:
            # Some write failed: redo the batch one savepoint per write, so that only the
            # failing writes fail and their neighbours still commit.
            self._apply_isolated(conn, batch)
            for pending in batch:
                if pending.unwaited and pending.error is not None and pending.row is not None:
                    task_id, seq, _ = pending.row
                    _log.warning(
                        "minds371.state.event_not_stored",
                        task_id=task_id,
                        seq=seq,
                        error=str(pending.error),
                    )

    @staticmethod
    def _apply_together(conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows: list[tuple[str, int, str]] = []
            for pending in batch:
                if pending.write is None:
                    assert pending.row is not None
                    rows.append(pending.row)
                    continue
                if rows:  # the events queued before this write go in first, in order
                    _insert_events(conn, rows)
                    rows = []
                pending.result = pending.write(conn)
            if rows:
                _insert_events(conn, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise

    @staticmethod
    def _apply_isolated(conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            for pending in batch:
                conn.execute("SAVEPOINT w")
                try:
                    if pending.write is None:
                        assert pending.row is not None
                        _insert_events(conn, [pending.row])
                    else:
                        pending.result = pending.write(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO w")
                    pending.error = exc
                conn.execute("RELEASE w")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            for pending in batch:
                pending.error = pending.error or exc

    async def _read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._reader_conn
        if conn is None:
            raise ConfigurationError("the state store is not open")
        if self._inline and self._writer_conn is not None:
            # The writer's connection, on the loop's thread like its commits (never at the same
            # time as one): in WAL mode a read waits for nobody, and the reader connection may
            # be checkpointing in a worker thread meanwhile.
            await anyio.lowlevel.checkpoint()
            return read(self._writer_conn)
        return await anyio.to_thread.run_sync(read, conn, limiter=self._read_limiter)

    # -- tasks ------------------------------------------------------------------------------------

    async def create_task(self, task: Task) -> tuple[TaskRecord, bool]:
        """Store a new task, or return the known one and ``False``."""

        def write(conn: sqlite3.Connection) -> tuple[TaskRecord, bool]:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO tasks (id, agent_type, status, created_at, task_json)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    task.id,
                    task.agent_type,
                    TaskStatus.PENDING.value,
                    task.created_at.isoformat(),
                    task.model_dump_json(),
                ),
            )
            if cursor.rowcount == 1:
                return TaskRecord(task=task, status=TaskStatus.PENDING), True
            record = _fetch_record(conn, task.id, self._parsed)
            assert record is not None
            return record, False

        record, created = await self._write(write)
        if created and self._exclusive:
            self._keep_steps(task.id)
        return record, created

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """The record, or ``None``."""
        return await self._read(lambda conn: _fetch_record(conn, task_id, self._parsed))

    async def mark_running(self, task_id: str, event: TaskEvent) -> None:
        """Set running, count the attempt, append the event; committed with the next write."""
        event = scrub_event(event)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE tasks SET status = ?, attempts = attempts + 1, last_seq = ? WHERE id = ?",
                (TaskStatus.RUNNING.value, event.seq, task_id),
            )
            _insert_event(conn, event)

        self._enqueue(write)

    async def append_event(self, event: TaskEvent) -> None:
        """Append a progress event (scrubbed of secrets).

        On the inline path (see :meth:`_write`) the emitter does not wait for the commit: the
        event commits at the loop's next turn, with the other writes queued by then, and before
        any write queued after it (a saga step, the result), so the store never holds a step
        without the events emitted before it. A task's events between two of its awaited
        writes then share one commit (and one rewrite of their index page) instead of one
        each. The task's handle has the event already; a reader of this store sees it from the
        next turn on. A failed insert is logged (``minds371.state.event_not_stored``).
        """
        event = scrub_event(event)
        pending = _Pending(None, _event_row(event))
        if not self._commit_soon(pending):
            await self._commit(pending)

    async def finish(self, result: TaskResult, event: TaskEvent) -> None:
        """Store the result, the final status and the final event in one transaction."""
        result, event = scrub_result(result), scrub_event(event)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE tasks SET status = ?, result_json = ?, last_seq = ? WHERE id = ?",
                (result.status.value, result.model_dump_json(), event.seq, result.task_id),
            )
            _insert_event(conn, event)

        await self._write(write)

    async def events(self, task_id: str, after_seq: int = 0) -> list[TaskEvent]:
        """Events with ``seq > after_seq``, in order."""

        def read(conn: sqlite3.Connection) -> list[TaskEvent]:
            rows = conn.execute(
                "SELECT json FROM events WHERE task_id = ? AND seq > ? ORDER BY seq",
                (task_id, after_seq),
            ).fetchall()
            return [TaskEvent.model_validate_json(row[0]) for row in rows]

        return await self._read(read)

    async def unfinished(self) -> list[TaskRecord]:
        """Pending and running tasks, oldest first."""
        return await self.list_tasks(
            statuses=(TaskStatus.PENDING, TaskStatus.RUNNING), limit=-1, oldest_first=True
        )

    async def list_tasks(
        self,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
        limit: int = 100,
        oldest_first: bool = False,
    ) -> list[TaskRecord]:
        """Tasks, newest first (or oldest first), filtered; ``limit=-1`` for all."""
        clauses, params = _filters(statuses, agent_type)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if oldest_first else "DESC"
        sql = f"SELECT {_RECORD_COLUMNS} FROM tasks {where} ORDER BY created_at {order} LIMIT ?"
        params.append(limit)

        def read(conn: sqlite3.Connection) -> list[TaskRecord]:
            return [_record(row, self._parsed) for row in conn.execute(sql, params).fetchall()]

        return await self._read(read)

    async def tasks_named(
        self,
        name: str,
        *,
        statuses: Sequence[TaskStatus] | None = None,
        agent_type: str | None = None,
    ) -> list[TaskRecord]:
        """Tasks whose payload's ``name`` is ``name``, newest first, filtered (by an index)."""
        sql, params = _named_query(name, statuses, agent_type)

        def read(conn: sqlite3.Connection) -> list[TaskRecord]:
            return [_record(row, self._parsed) for row in conn.execute(sql, params).fetchall()]

        return await self._read(read)

    # -- saga steps -------------------------------------------------------------------------------

    def _keep_steps(self, task_id: str) -> None:
        """Keep the journal of a task created here in memory.

        Past 10,000 tasks the oldest are let go: theirs are read from the file again.
        """
        if len(self._steps) >= 10_000:
            self._steps.pop(next(iter(self._steps)))
        self._steps[task_id] = []

    async def record_step(self, task_id: str, name: str, data: Mapping[str, Any]) -> SagaStep:
        """Durably record a saga step (scrubbed of secrets)."""
        payload = json.dumps(scrub_step(data), sort_keys=True, default=str)
        at = utcnow()

        def write(conn: sqlite3.Connection) -> SagaStep:
            # Two statements: one INSERT ... SELECT ... RETURNING costs more than both (SQLite
            # stages a RETURNING insert's rows).
            row = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM saga_steps WHERE task_id = ?", (task_id,)
            ).fetchone()
            seq = int(row[0])
            conn.execute(
                "INSERT INTO saga_steps (task_id, seq, name, data_json, at) VALUES (?, ?, ?, ?, ?)",
                (task_id, seq, name, payload, at.isoformat()),
            )
            return SagaStep(task_id=task_id, seq=seq, name=name, data=json.loads(payload), at=at)

        step = await self._write(write)
        kept = self._steps.get(task_id)
        if kept is not None:
            kept.append(step)
            if len(kept) > 1 and kept[-2].seq > step.seq:  # concurrent steps committed in order
                kept.sort(key=lambda s: s.seq)
        return step

    async def steps(self, task_id: str) -> list[SagaStep]:
        """A task's saga steps, in order."""
        kept = self._steps.get(task_id)
        if kept is not None:
            return list(kept)

        def read(conn: sqlite3.Connection) -> list[SagaStep]:
            rows = conn.execute(
                "SELECT seq, name, data_json, at FROM saga_steps WHERE task_id = ? ORDER BY seq",
                (task_id,),
            ).fetchall()
            return [
                SagaStep(task_id=task_id, seq=s, name=n, data=json.loads(d), at=_parse_time(a))
                for s, n, d, a in rows
            ]

        return await self._read(read)


# A running task's last_seq is read from its events (the end of their primary key): an event's row
# is all an append writes, where moving the column too would rewrite the task's row (its whole
# JSON) on another page of the file. The column is written with the status (start and finish), so
# a finished task's is its last event's: listings, mostly of finished tasks, read it as it is.
_RECORD_COLUMNS = (
    "task_json, status, attempts, CASE WHEN result_json IS NULL"
    " THEN (SELECT COALESCE(MAX(seq), 0) FROM events WHERE events.task_id = tasks.id)"
    " ELSE last_seq END, result_json"
)


def _filters(
    statuses: Sequence[TaskStatus] | None, agent_type: str | None
) -> tuple[list[str], list[Any]]:
    """WHERE clauses (joined by AND) and parameters for a status and agent-type filter."""
    clauses: list[str] = []
    params: list[Any] = []
    if statuses is not None:
        clauses.append(f"status IN ({','.join('?' * len(statuses))})")
        params.extend(s.value for s in statuses)
    if agent_type is not None:
        clauses.append("agent_type = ?")
        params.append(agent_type)
    return clauses, params


def _named_query(
    name: str, statuses: Sequence[TaskStatus] | None, agent_type: str | None
) -> tuple[str, list[Any]]:
    """The SQL and parameters of :meth:`SQLiteStateStore.tasks_named`."""
    filters, filter_params = _filters(statuses, agent_type)
    # The expression is the index's, word for word: SQLite uses the index only then.
    clauses = ["json_extract(task_json, '$.payload.name') = ?", *filters]
    params: list[Any] = [name, *filter_params]
    # INDEXED BY: with one status the planner prefers `tasks_by_status` (it orders by
    # created_at without a sort) and reads every task of that status, a scan that grows with the
    # store; a name has few tasks, and sorting them costs nothing.
    sql = (
        f"SELECT {_RECORD_COLUMNS} FROM tasks INDEXED BY tasks_by_name"
        f" WHERE {' AND '.join(clauses)} ORDER BY created_at DESC"
    )
    return sql, params


def _fetch_record(conn: sqlite3.Connection, task_id: str, parsed: _ParsedRows) -> TaskRecord | None:
    row = conn.execute(f"SELECT {_RECORD_COLUMNS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return None if row is None else _record(row, parsed)


def _record(row: tuple[Any, ...], parsed: _ParsedRows) -> TaskRecord:
    task_json, status, attempts, last_seq, result_json = row
    status = TaskStatus(status)
    task = parsed.task(task_json, status)
    result = None if result_json is None else parsed.result(result_json)
    return TaskRecord(task=task, status=status, attempts=attempts, last_seq=last_seq, result=result)


class _ParsedRows:
    """Tasks and results already parsed from their JSON, by that JSON text.

    A task's JSON never changes once stored and its result is written once, while listings
    (``list_tasks``, ``unfinished``) read the same rows again and again: a deployment's update
    plan scans every finished deployment task. Parsing is most of a listing's cost, so parsed
    values are kept (up to ``limit`` of each; the oldest go first). Records are values: nothing
    may change a returned task's payload or a result's output in place.
    """

    __slots__ = ("_results", "_tasks", "limit")

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._tasks: dict[tuple[str, TaskStatus], Task] = {}
        self._results: dict[str, TaskResult] = {}

    def task(self, text: str, status: TaskStatus) -> Task:
        """The task stored as ``text``, with its current ``status``."""
        key = (text, status)
        found = self._tasks.get(key)
        if found is None:
            found = Task.model_validate_json(text).model_copy(update={"status": status})
            self._keep(self._tasks, key, found)
        return found

    def result(self, text: str) -> TaskResult:
        found = self._results.get(text)
        if found is None:
            found = TaskResult.model_validate_json(text)
            self._keep(self._results, text, found)
        return found

    def _keep(self, cache: dict[Any, Any], text: Any, value: Any) -> None:
        if len(cache) >= self.limit:
            # Reads run in one thread at a time, but a write may parse too: a lost race only
            # means a key parsed twice or dropped, never a wrong value.
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                del cache[next(iter(cache))]
        cache[text] = value


def _rebuild_keyed_tables(conn: sqlite3.Connection) -> None:
    """Make a table a store made ``WITHOUT ROWID`` a rowid table, its rows kept (once).

    The columns and key are the same either way, so a store of either layout is read and
    written alike (by older versions too); only inserting costs less in the new one.
    """
    for table, create in _KEYED_TABLES.items():
        row = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if row is None or "WITHOUT ROWID" not in row[0].upper():
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"ALTER TABLE {table} RENAME TO {table}_keyed")
            conn.execute(create)
            conn.execute(f"INSERT INTO {table} SELECT * FROM {table}_keyed")
            conn.execute(f"DROP TABLE {table}_keyed")
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
        _log.info("minds371.state.table_rebuilt", table=table)


def _insert_events(conn: sqlite3.Connection, rows: list[tuple[str, int, str]]) -> None:
    """Insert events' rows (``task_id``, ``seq``, JSON)."""
    conn.executemany("INSERT INTO events (task_id, seq, json) VALUES (?, ?, ?)", rows)


def _insert_event(conn: sqlite3.Connection, event: TaskEvent) -> None:
    _insert_events(conn, [_event_row(event)])


def _event_row(event: TaskEvent) -> tuple[str, int, str]:
    """An event's row in the ``events`` table: ``task_id``, ``seq``, its JSON."""
    return event.task_id, event.seq, event.model_dump_json()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@contextlib.contextmanager
def _waking(batch: list[_Pending], done: anyio.Event | None) -> Iterator[None]:
    """Wake the writers of ``batch`` once its commit is over, however it ended.

    A commit interrupted by something that is not an ``Exception`` was rolled back: its writers
    are told so, instead of waiting for ever or reading a result that was never stored.
    """
    try:
        yield
    except BaseException as exc:
        error = RuntimeStopped(f"the state commit was interrupted ({type(exc).__name__})")
        for pending in batch:
            if pending.error is None:
                pending.error = error
        raise
    finally:
        if done is not None:
            done.set()


def _acquire_lock(path: Path) -> IO[str]:
    lock_path = path.with_name(path.name + ".lock")
    handle = private_file(lock_path).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigurationError(
            f"another minds371 runtime holds {path}; stop it, or give this one its own "
            "MINDS371_HOME"
        ) from None
    return handle
