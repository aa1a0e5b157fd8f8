"""No secret reaches the state store: events, steps and results are scrubbed before they are kept.

A real HTTP server on 127.0.0.1 (``tests/servers/echo_console.py``) stands in for a Console that
echoes the request's headers in its error bodies; the deployment task's events (what other agents
read through ``handle.events()``), its result and every row of ``state.db`` are then searched for
the API key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from minds371 import AgentRuntime, AgentType, MemoryStateStore, SQLiteStateStore, Task, TaskStatus
from minds371.logging import register_secret
from minds371.tasks import TaskEvent
from tests.deploy.conftest import web_request
from tests.servers.echo_console import EchoHandler, echo_console

API_KEY = "ak-echo-7f3c9e2b5a8d1f4e6c0b"


@pytest.fixture
def echo() -> Iterator[tuple[str, type[EchoHandler]]]:
    with echo_console() as served:
        yield served


def _database_text(path: Path) -> str:
    """Every value of every table of an SQLite file, as one text."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [repr(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables]
    return "\n".join(rows)


def _files_holding(root: Path, secret: str) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and secret.encode() in f.read_bytes()]


async def _deploy_against(url: str, store: SQLiteStateStore | MemoryStateStore) -> list[TaskEvent]:
    request = {**web_request("echoed"), "network": "console"}
    events: list[TaskEvent] = []
    async with AgentRuntime(store=store) as runtime:
        with anyio.fail_after(60):
            handle = await runtime.dispatch(Task(agent_type=AgentType.DEPLOYMENT, payload=request))
            async for event in handle.events():
                events.append(event)
            result = await handle.result()
    assert result.status is TaskStatus.FAILED
    assert result.error is not None and "400" in result.error.message
    return events


async def test_an_api_key_echoed_by_console_reaches_no_event_step_or_table(
    echo: tuple[str, type[EchoHandler]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, _ = echo
    monkeypatch.setenv("MINDS371_CONSOLE_URL", url)
    monkeypatch.setenv("MINDS371_CONSOLE_API_KEY", API_KEY)
    path = tmp_path / "state.db"
    events = await _deploy_against(url, SQLiteStateStore(path))
    finished = [e for e in events if e.type == "deployment.finished"]
    assert finished, [e.type for e in events]
    assert "you sent" in repr(finished[0].data)  # the echo did reach the step detail
    assert API_KEY not in repr(events)
    async with SQLiteStateStore(path, exclusive=False) as store:
        (record,) = await store.list_tasks()
        stored = await store.events(record.task.id)
        steps = await store.steps(record.task.id)
    assert API_KEY not in repr(stored) + repr(steps) + repr(record.result)
    assert API_KEY not in _database_text(path)
    assert _files_holding(tmp_path, API_KEY) == []


async def test_a_key_cut_in_half_by_a_truncated_error_body_is_still_redacted(
    echo: tuple[str, type[EchoHandler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = echo
    # Console error text is kept to 500 characters: pad the body so that the cut falls inside
    # the echoed key.
    # the first 10 characters of the key.
    handler.padding = 500 - len("bad request; you sent:\nx-api-key: ") - 10
    monkeypatch.setenv("MINDS371_CONSOLE_URL", url)
    monkeypatch.setenv("MINDS371_CONSOLE_API_KEY", API_KEY)
    events = await _deploy_against(url, MemoryStateStore())
    text = repr(events)
    assert "x-api-key: ***" in text  # the cut piece was there, and was redacted
    for size in range(8, len(API_KEY)):
        assert API_KEY[:size] + "'" not in text and API_KEY[:size] + '"' not in text


def test_stored_data_keeps_public_digests_and_loses_secrets() -> None:
    from minds371.logging import scrub

    register_secret("reg-secret-value-123")
    version = "ab" * 32
    data = {
        "steps": [{"detail": "x-api-key: reg-secret-value-123", "version": version}],
        "mnemonic": "anything",
        "note": "cut reg-secret-val",
    }
    assert scrub(data) == {
        "steps": [{"detail": "x-api-key: ***", "version": version}],
        "mnemonic": "***",
        "note": "cut ***",
    }


# -- an event or result scrubbed once is not walked again, unless the secrets changed -------------

LATER = "reg-later-secret-9"


def test_an_event_handed_back_is_scrubbed_again_once_a_secret_in_it_is_registered() -> None:
    from minds371.state._scrub import new_event, scrub_event

    event = new_event("t1", 1, "x.sent", TaskStatus.RUNNING, f"sent {LATER}", {"k": LATER})
    assert scrub_event(event) is event  # handed back at once: nothing new to take out
    register_secret(LATER)
    again = scrub_event(event)
    assert (again.message, again.data) == ("sent ***", {"k": "***"})


def test_a_result_handed_back_is_scrubbed_again_once_a_secret_in_it_is_registered() -> None:
    from minds371._results import completed_result
    from minds371.state._scrub import scrub_result

    result = scrub_result(completed_result("t1", {"note": LATER}))
    assert scrub_result(result) is result
    register_secret(LATER)
    assert scrub_result(result).output == {"note": "***"}


def test_a_new_event_is_scrubbed_and_values_of_other_types_are_validated() -> None:
    from pydantic import ValidationError

    from minds371.state._scrub import new_event

    register_secret(LATER)
    event = new_event("t1", 2, "x.y", "running", f"a {LATER}", {"api_key": "k", "n": [LATER]})  # type: ignore[arg-type]
    assert event.status is TaskStatus.RUNNING
    assert (event.message, event.data) == ("a ***", {"api_key": "***", "n": ["***"]})
    with pytest.raises(ValidationError):
        new_event("t1", 0, "x.y", TaskStatus.RUNNING, "", {})


async def test_the_store_scrubs_an_event_the_runtime_did_not_make() -> None:
    register_secret(LATER)
    async with MemoryStateStore() as store:
        await store.create_task(Task(id="t1", agent_type="x", payload={}))
        event = TaskEvent(task_id="t1", seq=1, type="x.y", status=TaskStatus.RUNNING,
                          message=LATER, data={"k": LATER})  # fmt: skip
        await store.append_event(event)
        (kept,) = await store.events("t1")
    assert (kept.message, kept.data) == ("***", {"k": "***"})
