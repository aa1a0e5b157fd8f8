"""Recovery on the embedded sandbox: a kill loses no deployment, and a lost one is recorded closed.

The ``minds371`` command runs as a process with the sandbox inside it (no ``MINDS371_SANDBOX_URL``),
its world in ``$MINDS371_HOME/sandbox/world.json``: a SIGKILL kills the client and the network
together, as it would a laptop's single process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio

from minds371.state import SQLiteStateStore
from minds371.tasks import AgentType, Task, TaskError, TaskEvent, TaskResult, TaskStatus
from minds371_deploy.saga import CLOSED, CREATE_INTENT, CREATED
from tests.deploy.conftest import ROOT, Run, web_request, write_request


def run(home: Path, *args: str, crash_at: str | None = None) -> Run:
    env = {k: v for k, v in os.environ.items() if k != "MINDS371_SANDBOX_URL"}
    env["MINDS371_HOME"] = str(home)
    if crash_at:
        env["MINDS371_CRASH_AT"] = crash_at
    done = subprocess.run(
        [sys.executable, "-m", "minds371.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


def saved_dseqs(home: Path) -> set[int]:
    world = json.loads((home / "sandbox" / "world.json").read_text())["world"]
    return {int(d["dseq"]) for d in world["deployments"]}


async def created_dseqs(home: Path) -> set[int]:
    async with SQLiteStateStore(home / "state.db", exclusive=False) as store:
        (record,) = await store.list_tasks()
        return {int(s.data["dseq"]) for s in await store.steps(record.task.id) if s.name == CREATED}


def test_a_kill_right_after_create_keeps_the_deployment_in_the_saved_world(
    clean_environ: Path, tmp_path: Path
) -> None:
    request = write_request(tmp_path, web_request("kept"))
    killed = run(clean_environ, "deploy", str(request), "--json", crash_at="deployment.created")
    assert killed.code == -signal.SIGKILL, killed.err
    (dseq,) = anyio.run(created_dseqs, clean_environ)
    # Saved before Console's answer left the sandbox: the kill lost nothing it had answered.
    assert dseq in saved_dseqs(clean_environ)

    reconciled = run(clean_environ, "reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    report = json.loads(reconciled.out)
    assert [item["dseq"] for item in report["resumed"]] == [str(dseq)]
    assert report["failed"] == [] and report["closed"] == []


async def _plant_failed_task(home: Path, dseq: int) -> str:
    """The state a failed deployment task leaves when its deployment was created (and lost)."""
    task = Task(agent_type=AgentType.DEPLOYMENT, payload=web_request("lost"))
    version = "ab" * 32
    async with SQLiteStateStore(home / "state.db") as store:
        await store.create_task(task)
        started = TaskEvent(task_id=task.id, seq=1, type="task.started", status=TaskStatus.RUNNING)
        await store.mark_running(task.id, started)
        await store.record_step(task.id, CREATE_INTENT, {"version": version})
        await store.record_step(task.id, CREATED, {"dseq": dseq, "version": version})
        error = TaskError(type="MarketError", message="interrupted")
        result = TaskResult(task_id=task.id, status=TaskStatus.FAILED, error=error)
        final = TaskEvent(task_id=task.id, seq=2, type="task.failed", status=TaskStatus.FAILED)
        await store.finish(result, final)
    return task.id


async def _steps(home: Path, task_id: str) -> list[tuple[str, dict[str, object]]]:
    async with SQLiteStateStore(home / "state.db", exclusive=False) as store:
        return [(s.name, s.data) for s in await store.steps(task_id)]


def test_reconcile_records_a_deployment_the_network_never_kept_as_closed(
    clean_environ: Path,
) -> None:
    dseq = 4242
    task_id = anyio.run(_plant_failed_task, clean_environ, dseq)

    first = run(clean_environ, "reconcile", "--json")
    assert first.code == 0, first.err
    assert json.loads(first.out)["closed"] == [
        {"task_id": task_id, "dseq": str(dseq), "network": "sandbox", "reason": "gone"}
    ]
    assert (CLOSED, {"dseq": dseq, "reason": "gone"}) in anyio.run(_steps, clean_environ, task_id)

    again = run(clean_environ, "reconcile", "--json")
    assert again.code == 0, again.err
    assert json.loads(again.out)["closed"] == []
    assert "orphan_close_failed" not in first.err + again.err
