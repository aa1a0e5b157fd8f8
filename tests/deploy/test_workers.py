"""Worker processes on a Redis bus: shared tasks, crash takeover, ``deploy --bus``, bad state.

Real parts: redis-server on a free loopback port, ``minds371 sandbox serve`` on 127.0.0.1 (fast
blocks), and ``minds371 worker`` processes (the real command) reaching the served sandbox through
``MINDS371_SANDBOX_URL``; tasks are dispatched from this process with
:class:`~minds371.bus.remote.RemoteTasks`, as a benchmark or an agent host would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371.bus.remote import RemoteTasks
from minds371.cli import main
from minds371.tasks import AgentType, Task, TaskStatus
from minds371_deploy.request import parse_request, request_payload
from minds371_deploy.saga import CREATED
from tests.deploy.conftest import ROOT, Sandbox, web_request, write_request
from tests.servers.redis_server import redis_server

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed (scripts/test.sh)"
)

#: Seconds before a dead worker's task is taken over, in these tests.
CLAIM_IDLE = 3.0


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


_namespaces = iter(range(1_000_000))


@pytest.fixture
def namespace() -> str:
    return f"w{next(_namespaces)}"


@contextmanager
def worker(
    redis_url: str,
    namespace: str,
    home: Path,
    sandbox: Sandbox,
    log: Path,
    *,
    concurrency: int = 4,
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``minds371 worker`` process, started (see :func:`serving`); stopped afterwards."""
    env = {
        **os.environ,
        "MINDS371_HOME": str(home),
        "MINDS371_SANDBOX_URL": sandbox.url,
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "minds371.cli",
        "--log-level",
        "INFO",
        "--log-json",
        "worker",
        "--bus",
        redis_url,
        "--namespace",
        namespace,
        "--concurrency",
        str(concurrency),
        "--claim-idle",
        str(CLAIM_IDLE),
        "--grace",
        "5",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink, env=env, cwd=ROOT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        assert "Traceback" not in log.read_text(), log.read_text()


def serving(*started: tuple[subprocess.Popen[bytes], Path]) -> None:
    """Wait until every worker said it serves (they start side by side)."""
    deadline = time.monotonic() + 60
    for process, log in started:
        while b"serving" not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)


@dataclass
class Workers:
    """Two worker processes serving the default namespace of the module's Redis."""

    url: str
    logs: list[Path]


@pytest.fixture(scope="module")
def workers(
    redis_url: str, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    # Each its own home, as on two hosts: the embedded registry ledger is one host's file.
    folder = tmp_path_factory.mktemp("workers")
    logs = [folder / "one.log", folder / "two.log"]
    with (
        worker(redis_url, "minds371", folder / "home1", sandbox, logs[0], concurrency=8) as one,
        worker(redis_url, "minds371", folder / "home2", sandbox, logs[1], concurrency=8) as two,
    ):
        serving((one, logs[0]), (two, logs[1]))
        yield Workers(redis_url, logs)


def deploy_task(name: str) -> Task:
    payload = request_payload(parse_request(web_request(name)))
    return Task(agent_type=AgentType.DEPLOYMENT, description=f"deploy {name}", payload=payload)


def taken_by(log: Path) -> list[str]:
    """The tasks a worker's log says it took, in order."""
    taken: list[str] = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"minds371.bus.task_taken"' in line:
            taken.append(json.loads(line)["task_id"])
    return taken


async def run_all(
    redis_url: str, namespace: str, tasks: list[Task], *, limit: float = 120
) -> tuple[dict[str, Any], list[str]]:
    """Dispatch ``tasks``; return their stored records and the results stream's task ids."""
    async with RemoteTasks(redis_url, namespace=namespace) as remote:
        handles = [await remote.dispatch(task) for task in tasks]
        with anyio.fail_after(limit):
            for handle in handles:
                await handle.result()
        records = {t.id: await remote.store.get_task(t.id) for t in tasks}
        steps = {t.id: await remote.store.steps(t.id) for t in tasks}
        events = {t.id: await remote.store.events(t.id) for t in tasks}
        notes = await remote.store.client.xrange(remote.store.results_key)
        stored = [fields[b"task_id"].decode() for _id, fields in notes]
    return {"records": records, "steps": steps, "events": events}, stored


def created_dseqs(steps: list[Any]) -> set[int]:
    return {int(step.data["dseq"]) for step in steps if step.name == CREATED}


def test_two_workers_share_the_tasks_and_store_each_result_once(
    workers: Workers, sandbox: Sandbox
) -> None:
    before = sandbox.all_dseqs()
    tasks = [deploy_task(f"shared{i}") for i in range(50)]
    ids = {t.id for t in tasks}
    state, stored = anyio.run(run_all, workers.url, "minds371", tasks)
    records = state["records"]
    assert all(r.status is TaskStatus.COMPLETED for r in records.values()), [
        r.result for r in records.values() if r.status is not TaskStatus.COMPLETED
    ]
    # Each result stored exactly once.
    assert sorted(i for i in stored if i in ids) == sorted(ids)
    one, two = (set(taken_by(log)) & ids for log in workers.logs)
    assert one and two and one | two == ids  # both served, and between them took every task
    assert all(r.attempts == 1 for r in records.values())
    dseqs = [created_dseqs(state["steps"][t.id]) for t in tasks]
    assert all(len(d) == 1 for d in dseqs)
    new = sandbox.all_dseqs() - before
    assert new == set().union(*dseqs)  # one deployment per task, every one tracked
    for record in records.values():
        (dseq,) = created_dseqs(state["steps"][record.task.id])
        assert record.result.output["dseq"] == str(dseq)


def test_a_worker_killed_mid_deployment_has_its_task_finished_by_the_other(
    redis_url: str, namespace: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    # The doomed worker dies the moment its deployment exists on the network and before the
    # journal knows its dseq: the surviving worker must adopt that deployment, not make another.
    before = sandbox.all_dseqs()
    doomed_log, survivor_log = tmp_path / "doomed.log", tmp_path / "survivor.log"
    tasks = [deploy_task(f"takeover{i}") for i in range(4)]
    crash = {"MINDS371_CRASH_AT": "deployment.after_create"}
    with (
        worker(
            redis_url,
            namespace,
            tmp_path / "home1",
            sandbox,
            doomed_log,
            concurrency=1,
            extra_env=crash,
        ) as doomed,
        worker(
            redis_url, namespace, tmp_path / "home2", sandbox, survivor_log, concurrency=2
        ) as survivor,
    ):
        serving((doomed, doomed_log), (survivor, survivor_log))
        started = time.monotonic()
        state, stored = anyio.run(run_all, redis_url, namespace, tasks)
        finished = time.monotonic()
        assert doomed.wait(timeout=5) == -signal.SIGKILL
    records = state["records"]
    assert all(r.status is TaskStatus.COMPLETED for r in records.values())
    (victim,) = taken_by(doomed_log)
    assert records[victim].attempts == 2
    assert victim in taken_by(survivor_log)
    assert sorted(stored) == sorted(t.id for t in tasks)
    dseqs = [created_dseqs(state["steps"][t.id]) for t in tasks]
    assert all(len(d) == 1 for d in dseqs), dseqs
    adopted = [s for s in state["steps"][victim] if s.name == CREATED]
    assert [s.data["recovered"] for s in adopted] == [True]
    new = sandbox.all_dseqs() - before
    assert new == set().union(*dseqs)  # the killed worker's deployment is the one kept
    assert new <= sandbox.active_dseqs()
    # Takeover delay: from the killed attempt's last event to the second attempt's start.
    events = state["events"][victim]
    second = [i for i, e in enumerate(events) if e.type == "task.started"][1]
    delay = (events[second].at - events[second - 1].at).total_seconds()
    print(
        f"takeover: 4 tasks, one worker killed, all done in {finished - started:.1f} s; "
        f"taken over {delay:.1f} s after its last event (claim idle {CLAIM_IDLE:g} s)"
    )


def strip_varying(document: Any) -> Any:
    """The document's shape: keys and value types, with ids, dseqs and times left out."""
    if isinstance(document, dict):
        return {k: strip_varying(v) for k, v in document.items()}
    if isinstance(document, list):
        return [strip_varying(v) for v in document[:1]]
    return type(document).__name__


def test_deploy_over_the_bus_prints_what_the_in_process_deploy_prints(
    cli: Any, workers: Workers, tmp_path: Path
) -> None:
    poor = web_request("poor", budget={"max_usd_per_month": 0.01})
    good_file = write_request(tmp_path, web_request("here"), "here.json")
    bus_file = write_request(tmp_path, web_request("there"), "there.json")
    poor_file = write_request(tmp_path, poor, "p.json")

    def in_process() -> tuple[Any, Any]:
        # One after the other: an in-process deploy holds its home's state alone.
        return cli("deploy", str(good_file), "--json"), cli("deploy", str(poor_file), "--json")

    def on_the_bus() -> tuple[Any, Any]:
        # MINDS371_BUS names the bus as --bus would.
        there = cli("deploy", str(bus_file), "--json", extra_env={"MINDS371_BUS": workers.url})
        # A failure the worker meets is reported as the in-process deploy reports it.
        return there, cli("deploy", str(poor_file), "--json", "--bus", workers.url)

    with ThreadPoolExecutor(2) as pool:
        local, remote = pool.submit(in_process), pool.submit(on_the_bus)
        (here, poor_here), (there, poor_there) = local.result(), remote.result()
    assert here.code == there.code == 0, (here.err, there.err)
    assert "no worker serves" not in there.err
    assert "on the workers of" in there.err and "task.started" in there.err
    assert strip_varying(there.json()) == strip_varying(here.json())
    assert there.json()["status"] == "completed" and there.json()["name"] == "there"
    assert poor_here.code == poor_there.code == 2, (poor_here.err, poor_there.err)
    mine, theirs = poor_here.json(), poor_there.json()
    mine.pop("task_id"), theirs.pop("task_id")
    assert theirs == mine


def test_ctrl_c_on_deploy_over_the_bus_cancels_the_task_on_the_workers(
    workers: Workers, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    before = sandbox.all_dseqs()
    # A price no provider accepts keeps the task waiting for bids after its deployment exists.
    request = web_request("abandoned")
    request["infra_spec"]["max_price_uact"] = 0.001
    path = write_request(tmp_path, request)
    process = subprocess.Popen(
        [sys.executable, "-m", "minds371.cli", "deploy", str(path), "--json"],
        cwd=ROOT,
        env={**os.environ, "MINDS371_HOME": str(clean_environ), "MINDS371_BUS": workers.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (sandbox.all_dseqs() - before):
        assert time.monotonic() < deadline, "no deployment was created"
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    document = json.loads(out)
    assert (document["status"], document["error"]["type"]) == ("cancelled", "TaskCancelled")
    created = sandbox.all_dseqs() - before
    assert len(created) == 1
    assert not (created & sandbox.active_dseqs())  # the worker closed it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--state", "sqlite"], "not safe for several worker processes"),
        (["--state", "memory"], "not safe for several worker processes"),
        (["--state", "/tmp/state.db"], "not safe for several worker processes"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
    ],
)
def test_a_worker_refuses_state_that_processes_cannot_share(
    redis_url: str,
    clean_environ: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert main(["worker", "--bus", redis_url, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_bus_that_is_not_redis_is_refused(
    clean_environ: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["worker", "--bus", "http://127.0.0.1:6379/0"]) == 2
    assert "is not a Redis URL" in capsys.readouterr().err
    assert main(["worker"]) == 2
    assert "MINDS371_BUS" in capsys.readouterr().err
    request = write_request(tmp_path, web_request("nowhere"))
    assert main(["deploy", str(request), "--bus", "amqp://127.0.0.1/", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "ConfigurationError"
