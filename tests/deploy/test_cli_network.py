"""``minds371 ... --network cli`` run as a user runs it: the command, the stand-in binaries, a node.

Real parts: ``minds371 sandbox serve`` on 127.0.0.1 (the node the stand-ins talk to) and the
stand-in ``akash`` / ``provider-services`` executables, configured as README and
docs/getting-started.md say (``MINDS371_AKASH_BIN``, ``MINDS371_PROVIDER_SERVICES_BIN``,
``MINDS371_AKASH_KEY``, ``AKASH_NODE``, ``AKASH_KEYRING_BACKEND``), with a client certificate
published first as the real ``akash tx deployment create`` requires. What is on the chain is read
back through the node's LCD and ``akash query``, never through minds371.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from minds371.state import SQLiteStateStore
from minds371.tasks import TaskStatus
from minds371_deploy.saga import CREATED, SagaState
from tests.standins import Standins, standins

from .conftest import ROOT, Run, Sandbox, web_request, write_request

# Every step is a process start (minds371, and each akash / provider-services run inside it).
pytestmark = pytest.mark.slow

KEY = "wallet"

Runner = Callable[..., Run]


@pytest.fixture(scope="module")
def tools(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Standins:
    """The stand-ins with one certified key, shared by the module (one certificate on chain)."""
    folder = tmp_path_factory.mktemp("standins")
    with pytest.MonkeyPatch.context() as patch:
        written = standins(folder, patch)
    anyio.run(written.certify, sandbox.url, KEY)
    return written


@pytest.fixture
def minds(sandbox: Sandbox, tools: Standins, clean_environ: Path) -> Runner:
    """Run ``minds371 ARGS`` as a process configured for ``--network cli`` on the stand-ins."""

    def run(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        env = tools.env(
            sandbox.url,
            MINDS371_HOME=str(clean_environ),
            MINDS371_AKASH_BIN=str(tools.bins["akash"]),
            MINDS371_PROVIDER_SERVICES_BIN=str(tools.bins["provider-services"]),
            MINDS371_AKASH_KEY=KEY,
            **(extra_env or {}),
        )
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


@pytest.fixture(scope="module")
def owner(sandbox: Sandbox, tools: Standins) -> str:
    """The key's address, as ``akash keys show KEY -a`` gives it."""
    return _akash(sandbox, tools, "keys", "show", KEY, "-a").strip()


def chain_deployments(sandbox: Sandbox, owner: str) -> dict[int, str]:
    """The owner's deployments on the chain (the node's LCD, every page): dseq -> state."""
    states: dict[int, str] = {}
    page_key = ""
    while True:
        params = {"filters.owner": owner, **({"pagination.key": page_key} if page_key else {})}
        url = f"{sandbox.url}/akash/deployment/v1beta4/deployments/list"
        page = httpx.get(url, params=params, timeout=30).raise_for_status().json()
        for item in page["deployments"]:
            states[int(item["deployment"]["id"]["dseq"])] = item["deployment"]["state"]
        page_key = (page.get("pagination") or {}).get("next_key") or ""
        if not page_key:
            return states


def _akash(sandbox: Sandbox, tools: Standins, *args: str) -> str:
    done = subprocess.run(
        [str(tools.bins["akash"]), *args],
        capture_output=True,
        text=True,
        env=tools.env(sandbox.url),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_deploy_read_back_update_and_close_through_the_cli_network(
    minds: Runner, sandbox: Sandbox, tools: Standins, owner: str, tmp_path: Path
) -> None:
    before = set(chain_deployments(sandbox, owner))
    request = write_request(tmp_path, web_request("cli-web"))

    deployed = minds("deploy", str(request), "--network", "cli", "--json")
    assert deployed.code == 0, deployed.err
    result = deployed.json()
    assert (result["status"], result["network"]) == ("completed", "cli")
    assert result["endpoints"] and result["endpoints"][0].startswith("http://")
    assert result["registry"]["record_id"] and result["registry"]["sequence"] >= 1
    dseq = int(result["dseq"])
    assert chain_deployments(sandbox, owner)[dseq] == "active"
    assert set(chain_deployments(sandbox, owner)) - before == {dseq}

    status = minds("status", str(dseq), "--network", "cli", "--json")
    assert status.code == 0, status.err
    (lease,) = status.json()["leases"]
    assert lease["state"] == "active"
    assert lease["status"]["services"]["web"]["available"] == 1  # read via lease-status
    logs = minds("logs", str(dseq), "--network", "cli")
    assert logs.code == 0, logs.err
    assert "[web] " in logs.out  # lease-logs -o json: indented JSON values, not lines
    events = minds("events", str(dseq), "--network", "cli")
    assert events.code == 0, events.err
    assert "Started" in events.out

    # The same name again with another image: ``akash tx deployment update`` where it runs,
    # then the manifest to its provider.
    changed = web_request("cli-web")
    changed["infra_spec"]["services"][0]["image"] = "nginx:1.26"
    again = minds("deploy", str(write_request(tmp_path, changed, "changed.json")), "--network",
                  "cli", "--json")  # fmt: skip
    assert again.code == 0, again.err
    updated = again.json()
    assert (updated["update"]["kind"], updated["dseq"]) == ("in_place", str(dseq)), updated
    assert updated["version"] != result["version"] and updated["endpoints"]
    assert set(chain_deployments(sandbox, owner)) - before == {dseq}
    argv = ("query", "deployment", "get", "--owner", owner, "--dseq", str(dseq), "-o", "json")
    on_chain = json.loads(_akash(sandbox, tools, *argv))["deployment"]
    assert base64.b64decode(on_chain["hash"]).hex() == updated["version"]

    closed = minds("close", str(dseq), "--network", "cli", "--json")
    assert closed.code == 0, closed.err
    on_chain = json.loads(_akash(sandbox, tools, *argv))["deployment"]
    assert on_chain["state"] == "closed"
    assert all(lease["state"] == "closed" for lease in _leases(sandbox, tools, owner, dseq))


def _leases(sandbox: Sandbox, tools: Standins, owner: str, dseq: int) -> list[dict[str, Any]]:
    """``akash query market lease list`` for every group and order of ``dseq``."""
    argv = ("query", "market", "lease", "list", "--owner", owner, "--dseq", str(dseq))
    page = json.loads(_akash(sandbox, tools, *argv, "--gseq", "0", "--oseq", "0", "-o", "json"))
    return [item["lease"] for item in page["leases"]]


async def _saga(home: Path) -> list[tuple[TaskStatus, list[Any]]]:
    async with SQLiteStateStore(home / "state.db", exclusive=False) as store:
        records = await store.list_tasks(limit=-1)
        return [(r.status, await store.steps(r.task.id)) for r in records]


@pytest.mark.parametrize("point", ["deployment.after_create", "lease.after"])
def test_a_kill_on_the_cli_network_then_reconcile_leaves_one_tracked_deployment(
    minds: Runner,
    sandbox: Sandbox,
    owner: str,
    tmp_path: Path,
    clean_environ: Path,
    point: str,
) -> None:
    before = chain_deployments(sandbox, owner)
    request = write_request(tmp_path, web_request("cli-crash"))
    killed = minds(
        "deploy", str(request), "--network", "cli", "--json",
        extra_env={"MINDS371_CRASH_AT": point},
    )  # fmt: skip
    assert killed.code == -signal.SIGKILL, (point, killed.err)

    # ``reconcile`` has no --network: the task recorded it; the binaries come from the env.
    reconciled = minds("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    report = reconciled.json()
    assert len(report["resumed"]) == 1 and report["failed"] == [], report

    ((status, steps),) = anyio.run(_saga, clean_environ)
    assert status is TaskStatus.COMPLETED
    created = {int(step.data["dseq"]) for step in steps if step.name == CREATED}
    after = chain_deployments(sandbox, owner)
    new = set(after) - set(before)
    # Exactly one deployment for the task, on the chain and in the state alike; nothing open
    # that the state does not track.
    assert new == created and len(created) == 1, (new, created)
    (dseq,) = created
    assert SagaState.from_steps(steps).open_dseq == dseq
    assert after[dseq] == "active"
    assert {d for d in new if after[d] == "active"} == {dseq}
    assert report["resumed"][0]["dseq"] == str(dseq)
    closed = minds("close", str(dseq), "--network", "cli")
    assert closed.code == 0, closed.err


def test_redundancy_two_with_sync_broadcast_exported_sees_both_leases_and_closes(
    minds: Runner, sandbox: Sandbox, owner: str, tmp_path: Path
) -> None:
    # What Akash's CLI guides have users export: every tx then returns at mempool admission.
    request = write_request(tmp_path, web_request("cli-pair", redundancy=2))
    env = {"AKASH_BROADCAST_MODE": "sync"}
    deployed = minds("deploy", str(request), "--network", "cli", "--json", extra_env=env)
    assert deployed.code == 0, deployed.err
    result = deployed.json()
    assert result["status"] == "completed" and result["endpoints"], result
    leases = result["leases"]
    # ``akash query market lease list`` filters gseq 1 / oseq 1 unless told otherwise.
    assert sorted(lease["gseq"] for lease in leases) == [1, 2], leases
    assert len({lease["provider"] for lease in leases}) == 2, leases
    dseq = int(result["dseq"])
    closed = minds("close", str(dseq), "--network", "cli", extra_env=env)
    assert closed.code == 0, closed.err
    assert chain_deployments(sandbox, owner)[dseq] == "closed"
