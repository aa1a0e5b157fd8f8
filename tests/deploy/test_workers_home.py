"""Two ``minds371 worker`` processes on one ``MINDS371_HOME``, started at once.

Real parts: redis-server on a free loopback port, ``minds371 sandbox serve`` on 127.0.0.1 and two
``minds371 worker`` processes sharing one home: their first deployments open the embedded
registry (its SQLite ledger, its development key) at the same moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio

from minds371.tasks import TaskStatus
from tests.deploy.conftest import ROOT, Sandbox
from tests.deploy.test_workers import (  # noqa: F401 - redis_url is a fixture
    deploy_task,
    redis_url,
    run_all,
    serving,
    taken_by,
    worker,
)


def test_two_workers_started_at_once_on_one_home_share_its_registry(
    redis_url: str,  # noqa: F811
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    namespace = "one-home"
    tasks = [deploy_task(f"home{i}") for i in range(6)]
    with (
        worker(redis_url, namespace, home, sandbox, logs[0]) as one,
        worker(redis_url, namespace, home, sandbox, logs[1]) as two,
    ):
        serving((one, logs[0]), (two, logs[1]))
        state, _stored = anyio.run(run_all, redis_url, namespace, tasks)
    records = state["records"]
    failed = {t: r.result for t, r in records.items() if r.status is not TaskStatus.COMPLETED}
    assert not failed, failed
    assert all(taken_by(log) for log in logs)  # both took tasks
    keys = list(home.rglob("dev-key"))
    generated = sum(log.read_text().count("dev_key_generated") for log in logs)
    assert len(keys) == 1 and generated == 1  # one development key, made by one of them


# One worker process's use of the ledger: many tasks open it at once, each reads, writes and
# reads again (as registrations do), for several rounds.
_LEDGER_USE = """
import os, sys, time
from pathlib import Path
import anyio
from minds371_registry.ledger.local import LocalLedger

errors = []

async def use(path, i):
    try:
        async with LocalLedger(path) as ledger:
            await ledger.latest(f"a{i}")
            write = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, 'x')"
            key = f"k{os.getpid()}-{i}"
            await ledger._run(lambda: ledger._connect().execute(write, (key,)))
            await ledger.latest(f"b{i}")
            await ledger.head_state()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")

async def main(path, start):
    await anyio.sleep(max(0.0, start - time.time()))
    for round in range(12):
        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(use, path, round * 100 + i)
    print(len(errors), errors[:3])

anyio.run(main, Path(sys.argv[1]), float(sys.argv[2]))
"""


def test_processes_sharing_a_home_use_its_ledger_at_once_without_errors(tmp_path: Path) -> None:
    # Opening the database file to set its mode dropped the SQLite locks another task of the
    # same process held on it: the other process then read "disk I/O error" or a malformed file.
    path = tmp_path / "registry" / "ledger.sqlite3"
    start = time.time() + 1.5  # every process past its imports: they begin together
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _LEDGER_USE, str(path), str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert [out.split(" ", 1)[0] for out, _err in outputs] == ["0", "0", "0"], outputs


_LOAD_KEY = """
import sys
from pathlib import Path
from minds371_registry.keys import load_signer
print(load_signer(Path(sys.argv[1])).address)
"""


def test_processes_sharing_a_home_make_one_development_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _LOAD_KEY, str(home)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MINDS371_REGISTRY")},
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    addresses = {out.strip() for out, _err in outputs}
    assert len(addresses) == 1, outputs
    assert len(list((home / "registry").iterdir())) == 1  # no temporary file left behind
