from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel
import pytest
from structlog.testing import capture_logs

from minds371 import MemoryStateStore, SQLiteStateStore, StateStore, Task, TaskStatus
from minds371.errors import ConfigurationError, RuntimeStopped
from minds371.tasks import TaskEvent, TaskResult


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    made: StateStore = (
        MemoryStateStore() if request.param == "memory" else SQLiteStateStore(tmp_path / "s.db")
    )
    async with made:
        yield made


def event(task_id: str, seq: int, type: str = "x") -> TaskEvent:
    return TaskEvent(task_id=task_id, seq=seq, type=type, status=TaskStatus.RUNNING)


async def test_task_lifecycle_round_trips(store: StateStore) -> None:
    task = Task(agent_type="echo", payload={"a": [1, "two"]})
    record, created = await store.create_task(task)
    assert created
    assert record.status is TaskStatus.PENDING
    again, created_again = await store.create_task(task)
    assert not created_again
    assert again.task == task

    await store.mark_running(task.id, event(task.id, 1, "task.started"))
    await store.append_event(event(task.id, 2))
    result = TaskResult(task_id=task.id, status=TaskStatus.COMPLETED, output={"ok": True})
    await store.finish(result, event(task.id, 3, "task.completed"))

    loaded = await store.get_task(task.id)
    assert loaded is not None
    assert (loaded.status, loaded.attempts, loaded.last_seq) == (TaskStatus.COMPLETED, 1, 3)
    assert loaded.result == result
    assert [e.seq for e in await store.events(task.id)] == [1, 2, 3]
    assert [e.seq for e in await store.events(task.id, after_seq=1)] == [2, 3]
    assert await store.unfinished() == []


async def test_unfinished_lists_pending_and_running_oldest_first(store: StateStore) -> None:
    first, second, done = (Task(agent_type="a") for _ in range(3))
    for task in (first, second, done):
        await store.create_task(task)
    await store.mark_running(second.id, event(second.id, 1))
    await store.finish(
        TaskResult(task_id=done.id, status=TaskStatus.FAILED), event(done.id, 1, "task.failed")
    )
    assert [r.task.id for r in await store.unfinished()] == [first.id, second.id]
    failed = await store.list_tasks(statuses=[TaskStatus.FAILED])
    assert [r.task.id for r in failed] == [done.id]


async def test_tasks_named_finds_only_that_names_tasks_newest_first(store: StateStore) -> None:
    older, newer, running, other = (
        Task(agent_type="deploy", payload={"name": name}) for name in ("web", "web", "web", "api")
    )
    untyped = Task(agent_type="echo", payload={"name": "web"})
    for task in (older, newer, running, other, untyped):
        await store.create_task(task)
    for task in (older, newer, other, untyped):
        await store.finish(
            TaskResult(task_id=task.id, status=TaskStatus.COMPLETED),
            event(task.id, 1, "task.completed"),
        )
    found = await store.tasks_named("web", statuses=(TaskStatus.COMPLETED,), agent_type="deploy")
    assert [r.task.id for r in found] == [newer.id, older.id]
    assert found[0].status is TaskStatus.COMPLETED
    every = await store.tasks_named("web")
    assert {r.task.id for r in every} == {older.id, newer.id, running.id, untyped.id}
    assert await store.tasks_named("nothing") == []


async def test_a_running_tasks_last_seq_is_its_newest_event_in_every_read(
    store: StateStore,
) -> None:
    tasks = [Task(agent_type="a", payload={"name": f"svc-{n}"}) for n in range(3)]
    for task in tasks:
        await store.create_task(task)
        await store.mark_running(task.id, event(task.id, 1, "task.started"))
    for seq in (2, 3, 4):
        async with anyio.create_task_group() as group:  # the tasks' events share commits
            for task in tasks:
                group.start_soon(store.append_event, event(task.id, seq))

    records = [await store.get_task(t.id) for t in tasks]
    assert [r.last_seq for r in records if r is not None] == [4, 4, 4]
    assert [r.last_seq for r in await store.list_tasks()] == [4, 4, 4]
    assert [r.last_seq for r in await store.unfinished()] == [4, 4, 4]
    assert [r.last_seq for r in await store.tasks_named("svc-1")] == [4]


async def test_saga_steps_are_recorded_in_order(store: StateStore) -> None:
    task = Task(agent_type="a")
    await store.create_task(task)
    await store.record_step(task.id, "create.intent", {"version": "ab"})
    await store.record_step(task.id, "create.done", {"dseq": "42"})
    steps = await store.steps(task.id)
    assert [(s.seq, s.name, s.data) for s in steps] == [
        (1, "create.intent", {"version": "ab"}),
        (2, "create.done", {"dseq": "42"}),
    ]


async def test_sqlite_journal_read_back_matches_the_file_after_concurrent_steps(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    task = Task(agent_type="a")
    async with SQLiteStateStore(path) as first:
        await first.create_task(task)
        async with anyio.create_task_group() as group:
            for n in range(12):
                group.start_soon(first.record_step, task.id, f"step-{n}", {"n": n})
        kept = await first.steps(task.id)
    async with SQLiteStateStore(path) as second:  # the task was not created here: from the file
        from_file = await second.steps(task.id)
        await second.record_step(task.id, "after", {})
        assert [s.name for s in await second.steps(task.id)][-1] == "after"
    assert [s.seq for s in kept] == list(range(1, 13))
    assert [(s.seq, s.name, s.data) for s in kept] == [(s.seq, s.name, s.data) for s in from_file]


async def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    task = Task(agent_type="a")
    async with SQLiteStateStore(path) as first:
        await first.create_task(task)
        await first.record_step(task.id, "intent", {"n": 1})
    async with SQLiteStateStore(path) as second:
        record = await second.get_task(task.id)
        assert record is not None
        assert record.task == task
        assert [s.name for s in await second.steps(task.id)] == ["intent"]


async def test_two_runtimes_cannot_share_one_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with SQLiteStateStore(path):
        with pytest.raises(ConfigurationError, match="another minds371 runtime"):
            async with SQLiteStateStore(path):
                pass
        # A read-only tool may still look.
        async with SQLiteStateStore(path, exclusive=False) as reader:
            assert await reader.unfinished() == []


async def test_the_state_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "home" / "state.db"
    async with SQLiteStateStore(path) as store:
        await store.create_task(Task(agent_type="a", payload={"password": "hunter22"}))
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


async def test_state_files_are_private_whatever_the_umask_and_the_folders_mode(
    tmp_path: Path,
) -> None:
    home = tmp_path / "shared"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    path = home / "state.db"
    path.write_bytes(b"")
    path.chmod(0o644)  # left by an older version, or made by hand
    old = os.umask(0)
    try:
        async with SQLiteStateStore(path) as store:
            await store.create_task(Task(agent_type="a", payload={"password": "hunter22"}))
            modes = {p.name: p.stat().st_mode & 0o777 for p in home.iterdir()}
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(modes, 0o600), modes
    assert {"state.db", "state.db.lock", "state.db-wal"} <= set(modes)


async def test_sqlite_writers_waiting_on_another_flush_all_return_committed(
    tmp_path: Path,
) -> None:
    # One writer flushes; the others queue behind it and are woken once their batch commits.
    tasks = [Task(agent_type="a") for _ in range(20)]
    async with SQLiteStateStore(tmp_path / "state.db") as store:
        returned: list[str] = []

        async def write(task: Task) -> None:
            await store.create_task(task)
            await store.append_event(event(task.id, 1))
            returned.append(task.id)

        with anyio.fail_after(60):  # a writer never woken would hang here
            async with anyio.create_task_group() as group:
                for task in tasks:
                    group.start_soon(write, task)
        assert sorted(returned) == sorted(t.id for t in tasks)
    async with SQLiteStateStore(tmp_path / "state.db") as again:
        for task in tasks:
            assert [e.seq for e in await again.events(task.id)] == [1]


class _Interrupt(BaseException):
    """Something that is not an ``Exception`` raised mid-commit (a ``KeyboardInterrupt``)."""


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])  # on the loop's thread; in a thread
async def test_sqlite_writers_of_an_interrupted_commit_are_told_not_left_waiting(
    tmp_path: Path, synchronous: Literal["NORMAL", "FULL"]
) -> None:
    a, b = Task(agent_type="a"), Task(agent_type="a")
    async with SQLiteStateStore(tmp_path / "state.db", synchronous=synchronous) as store:
        for task in (a, b):
            await store.create_task(task)
        outcomes: dict[str, BaseException | None] = {}

        async def write(label: str, write: Any) -> None:
            try:
                await write()
                outcomes[label] = None
            except BaseException as exc:
                outcomes[label] = exc

        def interrupt(conn: Any) -> None:
            raise _Interrupt

        with anyio.fail_after(10):  # a writer never woken would hang here
            async with anyio.create_task_group() as group:
                group.start_soon(write, "a", lambda: store.record_step(a.id, "a.step", {}))
                group.start_soon(write, "interrupt", lambda: store._write(interrupt))
                group.start_soon(write, "b", lambda: store.record_step(b.id, "b.step", {}))
        assert set(outcomes) == {"a", "interrupt", "b"}
        assert all(outcome is not None for outcome in outcomes.values())  # none was stored
        heard = [type(outcome) for outcome in outcomes.values()]
        assert heard.count(_Interrupt) == 1  # the flusher, whoever it was, raises it on
        assert heard.count(RuntimeStopped) == 2
        assert await store.steps(a.id) == [] and await store.steps(b.id) == []
        await store.record_step(b.id, "b.again", {})  # the store goes on working
        assert [s.name for s in await store.steps(b.id)] == ["b.again"]


async def test_sqlite_a_failing_event_in_a_batch_fails_alone(tmp_path: Path) -> None:
    # The writes below share one commit: the duplicate event fails its own writer only. With
    # synchronous=FULL commits run in a worker thread and every writer waits for its own.
    import sqlite3

    a, b = Task(agent_type="a"), Task(agent_type="a")
    async with SQLiteStateStore(tmp_path / "state.db", synchronous="FULL") as store:
        for task in (a, b):
            await store.create_task(task)
        await store.append_event(event(a.id, 1))
        failures: list[BaseException] = []

        async def duplicate() -> None:
            try:
                await store.append_event(event(a.id, 1, "again"))
            except sqlite3.IntegrityError as exc:
                failures.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(store.append_event, event(a.id, 2))
            group.start_soon(duplicate)
            group.start_soon(store.append_event, event(b.id, 1))
            group.start_soon(store.record_step, b.id, "b.step", {"n": 1})
        assert len(failures) == 1
    async with SQLiteStateStore(tmp_path / "state.db") as again:
        assert [(e.seq, e.type) for e in await again.events(a.id)] == [(1, "x"), (2, "x")]
        assert [e.seq for e in await again.events(b.id)] == [1]
        assert [s.name for s in await again.steps(b.id)] == ["b.step"]


async def test_sqlite_an_event_nobody_waits_for_fails_alone_and_is_logged(
    tmp_path: Path,
) -> None:
    # On the inline path an emitter does not wait for its event's commit: a failing insert
    # cannot be raised to it, so it is logged, and its neighbours in the batch still commit.
    a, b = Task(agent_type="a"), Task(agent_type="a")
    with capture_logs() as logs:
        async with SQLiteStateStore(tmp_path / "state.db") as store:
            for task in (a, b):
                await store.create_task(task)
            await store.append_event(event(a.id, 1))
            await store.append_event(event(a.id, 2))
            await store.append_event(event(a.id, 1, "again"))  # returns: nobody waits for it
            await store.append_event(event(b.id, 1))
            await store.record_step(b.id, "b.step", {"n": 1})
    async with SQLiteStateStore(tmp_path / "state.db") as again:
        assert [(e.seq, e.type) for e in await again.events(a.id)] == [(1, "x"), (2, "x")]
        assert [e.seq for e in await again.events(b.id)] == [1]
        assert [s.name for s in await again.steps(b.id)] == ["b.step"]
    (said,) = [e for e in logs if e["event"] == "minds371.state.event_not_stored"]
    assert (said["task_id"], said["seq"], said["log_level"]) == (a.id, 1, "warning")
    assert "UNIQUE" in said["error"]


async def test_sqlite_events_between_two_awaited_writes_share_their_commit(tmp_path: Path) -> None:
    """A task's events up to its next awaited write (a saga step) go in one commit, before it.

    One commit instead of one per event: each commit rewrites every page it touched, the task's
    page of the events' index among them.
    """
    task = Task(agent_type="a")
    path = tmp_path / "state.db"
    async with SQLiteStateStore(path) as store:
        await store.create_task(task)
        statements: list[str] = []
        assert store._writer_conn is not None
        store._writer_conn.set_trace_callback(statements.append)
        for seq in (1, 2, 3):
            await store.append_event(event(task.id, seq))
        # Not waited for, yet committed before the step that follows them.
        await store.record_step(task.id, "after.events", {})
        assert statements.count("COMMIT") == 1
        assert _seqs_in_file(path, task.id) == [1, 2, 3]


async def test_sqlite_an_event_nobody_waits_for_commits_at_the_loops_next_turn(
    tmp_path: Path,
) -> None:
    # With no awaited write after it, the event still commits: another connection (a
    # `minds371 status` in another shell) sees it from the loop's next turn on.
    task = Task(agent_type="a")
    path = tmp_path / "state.db"
    async with SQLiteStateStore(path) as store:
        await store.create_task(task)
        await store.append_event(event(task.id, 1))
        await anyio.lowlevel.checkpoint()
        assert _seqs_in_file(path, task.id) == [1]


def _seqs_in_file(path: Path, task_id: str) -> list[int]:
    """A task's event numbers as another connection to the file sees them (committed ones)."""
    import sqlite3

    reader = sqlite3.connect(path)
    try:
        rows = reader.execute("SELECT seq FROM events WHERE task_id = ? ORDER BY seq", (task_id,))
        return [int(row[0]) for row in rows]
    finally:
        reader.close()


async def test_sqlite_events_and_steps_kept_in_their_keys_btree_are_moved_once(
    tmp_path: Path,
) -> None:
    """Stores made before kept events and steps in ``WITHOUT ROWID`` tables; the runtime that
    opens one moves them to rowid tables, rows and all, and carries on numbering."""
    import sqlite3

    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE events (task_id TEXT NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL,
            PRIMARY KEY (task_id, seq)) WITHOUT ROWID;
        CREATE TABLE saga_steps (task_id TEXT NOT NULL, seq INTEGER NOT NULL,
            name TEXT NOT NULL, data_json TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (task_id, seq)) WITHOUT ROWID;
        PRAGMA user_version = 1;
        """
    )
    old.close()
    task = Task(agent_type="a")
    async with SQLiteStateStore(path, exclusive=False) as tool:  # a reader moves nothing
        await tool.create_task(task)
        await tool.mark_running(task.id, event(task.id, 1, "task.started"))
        await tool.append_event(event(task.id, 2))
        await tool.record_step(task.id, "create.intent", {"version": "ab"})

    def layouts() -> list[str]:
        conn = sqlite3.connect(path)
        try:
            return [
                sql
                for (sql,) in conn.execute(
                    "SELECT sql FROM sqlite_master WHERE name IN ('events', 'saga_steps')"
                )
            ]
        finally:
            conn.close()

    assert all("WITHOUT ROWID" in sql for sql in layouts())
    async with SQLiteStateStore(path) as store:
        await store.append_event(event(task.id, 3))
        await store.record_step(task.id, "create.done", {"dseq": 7})
        assert [e.seq for e in await store.events(task.id)] == [1, 2, 3]
        assert [(s.seq, s.name) for s in await store.steps(task.id)] == [
            (1, "create.intent"),
            (2, "create.done"),
        ]
        record = await store.get_task(task.id)
        assert record is not None and record.last_seq == 3
    found = layouts()
    assert len(found) == 2 and not any("WITHOUT ROWID" in sql for sql in found)


@pytest.mark.parametrize(
    ("statuses", "agent_type"),
    [
        (None, None),
        ((TaskStatus.PENDING,), "deployment"),
        ((TaskStatus.PENDING, TaskStatus.RUNNING), None),
    ],
)
async def test_sqlite_tasks_named_reads_by_the_name_index_not_by_status(
    tmp_path: Path, statuses: tuple[TaskStatus, ...] | None, agent_type: str | None
) -> None:
    """With one status, SQLite's planner would rather read every task of that status (its index
    orders by time); a store of many finished tasks would then scan them all for one name."""
    import sqlite3

    from minds371.state.sqlite import _named_query

    path = tmp_path / "state.db"
    async with SQLiteStateStore(path) as store:
        for i in range(50):
            await store.create_task(Task(agent_type="deployment", payload={"name": f"svc-{i}"}))
        sql, params = _named_query("svc-7", statuses, agent_type)
        conn = sqlite3.connect(path)
        try:
            plan = " ".join(
                str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)
            )
        finally:
            conn.close()
        assert "INDEX tasks_by_name" in plan and "tasks_by_status" not in plan
        found = await store.tasks_named("svc-7", statuses=statuses, agent_type=agent_type)
        assert [r.task.payload["name"] for r in found] == ["svc-7"]


async def test_sqlite_wal_is_checkpointed_outside_the_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits on the event loop never checkpoint (that flushes to disk); a worker thread copies
    the WAL into the database file every so many commits, so neither the WAL nor a reader's
    work grows without end."""
    import minds371.state.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "_CHECKPOINT_EVERY", 20)
    path = tmp_path / "state.db"
    async with SQLiteStateStore(path) as store:
        empty = path.stat().st_size
        for i in range(60):  # one commit each
            await store.create_task(Task(agent_type="deployment", payload={"name": f"s-{i}"}))
        # checkpointed pages are in the database file itself, before any close
        assert path.stat().st_size > empty
        assert len(await store.list_tasks(limit=-1)) == 60
