"""A served sandbox marketplace on 127.0.0.1 and helpers to run the ``minds371`` command on it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK_TIME = "0.05"


@dataclass
class Sandbox:
    url: str
    admin_token: str

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call an admin route with the server's token (writes always carry a JSON body)."""
        if method != "GET":
            kwargs.setdefault("json", {})
        headers = {"authorization": f"Bearer {self.admin_token}"}
        response = httpx.request(method, f"{self.url}{path}", timeout=10, headers=headers, **kwargs)
        response.raise_for_status()
        return response.json()

    def add_api_key(self, key: str) -> None:
        """Make ``key`` an API key the server accepts."""
        self.admin("POST", "/sandbox/api-keys", json={"key": key})

    def deployments(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/sandbox/deployments")["deployments"])

    def active_dseqs(self) -> set[int]:
        return {int(d["dseq"]) for d in self.deployments() if d["state"] == "active"}

    def all_dseqs(self) -> set[int]:
        return {int(d["dseq"]) for d in self.deployments()}


@contextmanager
def served_sandbox(block_time: str = BLOCK_TIME) -> Iterator[Sandbox]:
    """``minds371 sandbox serve`` on a free loopback port with an admin token, stopped after."""
    token = secrets.token_urlsafe(32)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minds371.cli",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--block-time",
            block_time,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MINDS371_SANDBOX_ADMIN_TOKEN": token},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield Sandbox(url, token)
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with served_sandbox() as served:
        yield served


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(sandbox: Sandbox, clean_environ: Path) -> Any:
    """Run ``minds371 ARGS`` as a process against the served sandbox, with this test's home."""

    def run(*args: str, timeout: float = 120, extra_env: dict[str, str] | None = None) -> Run:
        env = {
            **os.environ,
            "MINDS371_HOME": str(clean_environ),
            "MINDS371_SANDBOX_URL": sandbox.url,
            **(extra_env or {}),
        }
        done = subprocess.run(
            [sys.executable, "-m", "minds371.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def write_request(folder: Path, request: dict[str, Any], name: str = "request.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(request))
    return path


def web_request(name: str = "web", **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "name": name,
        "infra_spec": {
            "services": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"port": 80}],
                    "env": {"GREETING": "hi & <welcome>"},
                }
            ],
            "max_price_uact": 100,
        },
    }
    request.update(overrides)
    return request


async def journal_a_failed_update(
    home: Path, payload: dict[str, Any], first: dict[str, Any]
) -> str:
    """Journal what an in-place update of ``first`` leaves when it fails before giving back.

    It holds the deployment it updated and, for a redundant service, its replicas, while the
    task it came from still holds them too. Returns the failed task's id.
    """
    from minds371._results import failed_result
    from minds371.state import SQLiteStateStore
    from minds371.tasks import AgentType, Task, TaskEvent, TaskStatus
    from minds371_deploy.saga import CREATED, REPLICA_CREATED
    from minds371_deploy.update import PLANNED

    async with SQLiteStateStore(home / "state.db", exclusive=False) as store:
        task = Task(agent_type=AgentType.DEPLOYMENT, payload=payload)
        await store.create_task(task)
        plan = {"kind": "in_place", "previous_task": first["task_id"], "reason": "env changed"}
        await store.record_step(task.id, PLANNED, {**plan, "previous_dseq": int(first["dseq"])})
        await store.record_step(task.id, CREATED, {"dseq": int(first["dseq"]), "recovered": False})
        for replica in first.get("replicas", []):
            await store.record_step(
                task.id,
                REPLICA_CREATED,
                {
                    "replica": replica["replica"],
                    "dseq": int(replica["dseq"]),
                    "version": replica["version"],
                    "recovered": False,
                },
            )
        failed = failed_result(task.id, RuntimeError("the state store went away"))
        event = TaskEvent(task_id=task.id, seq=1, type="task.failed", status=TaskStatus.FAILED)
        await store.finish(failed, event)
        return task.id
