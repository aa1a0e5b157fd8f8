"""Kill the deploying process at every point of the saga; reconcile must leave nothing behind."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371.config import home_for
from minds371.state import SQLiteStateStore
from minds371.tasks import TaskStatus
from minds371_akash.sdl import build_console_manifest, build_manifest, parse_sdl
from minds371_deploy._marker import with_task_marker
from minds371_deploy.saga import CREATED, SagaState
from tests.deploy.conftest import ROOT, Sandbox, web_request, write_request

CRASH_POINTS = [
    "deployment.before_create",
    "deployment.after_create",
    "deployment.created",
    "lease.before",
    "lease.after",
    "lease.created",
    "deployment.before_finalize",
    "registry.published",
]


async def saga_of_every_task(home: Path) -> list[tuple[str, TaskStatus, list[Any]]]:
    async with SQLiteStateStore(home / "state.db", exclusive=False) as store:
        records = await store.list_tasks(limit=-1)
        return [(r.task.id, r.status, await store.steps(r.task.id)) for r in records]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_kill_at_any_point_then_reconcile_leaves_one_tracked_deployment_per_task(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path, point: str
) -> None:
    before = sandbox.all_dseqs()
    request = write_request(tmp_path, web_request("crash"))
    killed = cli("deploy", str(request), "--json", extra_env={"MINDS371_CRASH_AT": point})
    assert killed.code == -signal.SIGKILL, (point, killed.err)

    reconciled = cli("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    report = reconciled.json()
    assert len(report["resumed"]) == 1, report

    tasks = anyio.run(saga_of_every_task, home_for(clean_environ, sandbox.url))
    assert len(tasks) == 1
    (_task_id, status, steps) = tasks[0]
    assert status is TaskStatus.COMPLETED
    created = {int(step.data["dseq"]) for step in steps if step.name == CREATED}
    new = sandbox.all_dseqs() - before
    # One deployment for the task, on the network and in the state alike.
    assert new == created
    assert len(created) == 1
    (dseq,) = created
    assert SagaState.from_steps(steps).open_dseq == dseq
    assert dseq in sandbox.active_dseqs()
    assert report["resumed"][0]["dseq"] == str(dseq)
    cli("close", str(dseq))


@pytest.mark.parametrize("point", ["deployment.before_finalize", "deployment.before_hand_over"])
def test_an_in_place_update_killed_before_it_took_over_is_listed_once_and_resumed(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path, point: str
) -> None:
    # Killed after the update is ready, before its record or after it: the old task still holds
    # the deployment (listed once, under it); reconcile finishes the update, which then takes it.
    first = cli("deploy", str(write_request(tmp_path, web_request("upd"))), "--json")
    assert first.code == 0, first.err
    dseq = first.json()["dseq"]
    changed = web_request("upd")
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "again"}
    killed = cli(
        "deploy",
        str(write_request(tmp_path, changed)),
        "--json",
        extra_env={"MINDS371_CRASH_AT": point},
    )
    assert killed.code == -signal.SIGKILL, killed.err

    def listed() -> list[tuple[str, str]]:
        rows = cli("list", "--all", "--json", "--offline").json()
        return [(row["dseq"], row["task_id"]) for row in rows]

    assert listed() == [(dseq, first.json()["task_id"])]
    reconciled = cli("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    (resumed,) = reconciled.json()["resumed"]
    assert resumed["dseq"] == dseq
    assert listed() == [(dseq, resumed["task_id"])]
    assert int(dseq) in sandbox.active_dseqs()
    cli("close", dseq)


DIFFERS = (ROOT / "tests" / "fixtures" / "market" / "console_differs.yaml").read_text()


def test_resume_after_a_kill_resends_the_manifest_console_returned(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    # Go and Console build different manifests from this SDL; providers accept only Console's.
    # Killed once the create is journaled: the resumed task leases with the journaled manifest.
    point = "deployment.created"
    request = write_request(tmp_path, {"name": "differs", "sdl": DIFFERS})
    killed = cli("deploy", str(request), "--json", extra_env={"MINDS371_CRASH_AT": point})
    assert killed.code == -signal.SIGKILL, (point, killed.err)

    reconciled = cli("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    assert len(reconciled.json()["resumed"]) == 1, reconciled.json()

    state_dir = home_for(clean_environ, sandbox.url)  # the served sandbox's own
    ((task_id, status, steps),) = anyio.run(saga_of_every_task, state_dir)
    assert status is TaskStatus.COMPLETED
    (created,) = [step.data for step in steps if step.name == CREATED]
    journaled = created["manifest"]
    marked = with_task_marker(DIFFERS, task_id)
    assert journaled == build_console_manifest(marked).json
    on_chain = next(d for d in sandbox.deployments() if int(d["dseq"]) == created["dseq"])
    assert on_chain["hash"] == hashlib.sha256(journaled.encode()).hexdigest() == created["version"]
    assert on_chain["hash"] != build_manifest(parse_sdl(marked)).version
    (lease,) = [lease for lease in on_chain["leases"] if lease["state"] == "active"]
    assert lease["manifest"]  # the provider accepted the resent manifest
    cli("close", str(created["dseq"]))


def test_resume_of_a_private_image_resends_its_registry_password(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    # The journal holds the manifest with the password scrubbed; the resend after the kill goes
    # to the lease that already exists, whose provider re-hashes it against the on-chain version.
    password = "private-registry-pass-7c1d"
    request = web_request("private")
    service = request["infra_spec"]["services"][0]
    service["image"] = "ghcr.io/acme/web:1.0"
    service["credentials"] = {"host": "ghcr.io", "username": "deployer", "password": password}
    path = write_request(tmp_path, request)
    killed = cli("deploy", str(path), "--json", extra_env={"MINDS371_CRASH_AT": "lease.created"})
    assert killed.code == -signal.SIGKILL, killed.err

    reconciled = cli("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    assert len(reconciled.json()["resumed"]) == 1, reconciled.json()
    ((_task_id, status, steps),) = anyio.run(
        saga_of_every_task, home_for(clean_environ, sandbox.url)
    )
    assert status is TaskStatus.COMPLETED
    (created,) = [step.data for step in steps if step.name == CREATED]
    assert password not in created["manifest"]  # still stored scrubbed
    on_chain = next(d for d in sandbox.deployments() if int(d["dseq"]) == created["dseq"])
    (lease,) = [lease for lease in on_chain["leases"] if lease["state"] == "active"]
    assert lease["manifest"]
    cli("close", str(created["dseq"]))
