from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371.config import home_for
from minds371.state import SagaStep, SQLiteStateStore
from minds371_akash.market import Price
from minds371_akash.pricing import usd_per_month
from minds371_deploy.saga import (
    CLOSED,
    GIVEN_BACK,
    HANDED_OVER,
    REPLICA_CLOSED,
)
from minds371_deploy.watcher import RELET
from tests.deploy.conftest import (
    ROOT,
    Sandbox,
    journal_a_failed_update,
    web_request,
    write_request,
)
from tests.servers.refusing_ipfs import ipfs_node_that_will_not_store


async def steps_of_every_task(home: Path) -> list[SagaStep]:
    async with SQLiteStateStore(home / "state.db", exclusive=False) as store:
        return [s for r in await store.list_tasks(limit=-1) for s in await store.steps(r.task.id)]


def test_redundancy_on_console_is_one_deployment_per_replica_each_re_leased_on_its_own(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    # The sandbox serves the Console API, where POST /v1/leases skips lease creation while
    # any lease of the deployment is active: each replica is a deployment of its own.
    run = cli("deploy", str(write_request(tmp_path, web_request("twin", redundancy=2))), "--json")
    assert run.code == 0, run.err
    result = run.json()
    (second,) = result["replicas"]
    assert second["replica"] == 2
    dseqs = {int(result["dseq"]), int(second["dseq"])}
    assert len(dseqs) == 2
    assert len(result["leases"]) == 2
    assert {(lease["dseq"], lease["gseq"]) for lease in result["leases"]} == {
        (str(dseq), 1) for dseq in dseqs
    }
    providers = {lease["provider"] for lease in result["leases"]}
    assert len(providers) == 2
    assert len(result["endpoints"]) == 2
    before = cli("discover", "twin", "--json")
    assert before.code == 0, before.err
    assert [e["healthy"] for e in before.json()["endpoints"]] == [True, True]

    owner = result["owner"]
    kept = next(lease for lease in result["leases"] if lease["dseq"] == result["dseq"])
    sandbox.admin(
        "POST",
        "/sandbox/leases/close",
        json={"owner": owner, "dseq": int(second["dseq"]), "gseq": 1, "oseq": 1},
    )
    watched = cli("watch", "--once", "--json")
    assert watched.code == 0, watched.err
    actions = watched.json()["actions"]
    changes = [a for a in actions if a["kind"] != "auto_top_up"]  # funding: once per deployment
    assert [(a["kind"], a["dseq"], a["replica"]) for a in changes] == [("relet", second["dseq"], 2)]
    # `watch --once` runs next to its runtime's own watcher service: one re-lease, one step.
    state_dir = home_for(clean_environ, sandbox.url)  # the served sandbox's own
    relets = [s for s in anyio.run(steps_of_every_task, state_dir) if s.name == RELET]
    assert [(s.data["dseq"], s.data["replica"]) for s in relets] == [(int(second["dseq"]), 2)]
    assert len(relets[0].data["providers"]) == 1  # the new lease's provider

    status = cli("status", second["dseq"], "--json").json()
    (replacement,) = [lease["id"] for lease in status["leases"] if lease["state"] == "active"]
    assert status["runway"]["hours"] > 0  # what the escrow still pays for
    active_price = next(x for x in status["leases"] if x["state"] == "active")["price"]
    assert Decimal(status["runway"]["rate_uact_per_block"]) == Decimal(str(active_price["amount"]))
    assert replacement["oseq"] == 2
    assert replacement["provider"] not in providers  # neither the lost one nor the twin's
    first = cli("status", result["dseq"], "--json").json()
    (untouched,) = [lease["id"] for lease in first["leases"] if lease["state"] == "active"]
    assert (untouched["provider"], untouched["oseq"]) == (kept["provider"], kept["oseq"])

    history = cli("registry", "history", "twin", "--json")
    assert history.code == 0, history.err
    assert len(history.json()) == 2  # the watcher published the next record
    found = cli("discover", "twin", "--json")
    assert found.code == 0, found.err
    endpoints = found.json()["endpoints"]
    assert len(endpoints) == 2
    assert all(e["healthy"] for e in endpoints)
    assert set(result["endpoints"]) & {e["url"] for e in endpoints}  # the twin kept serving
    for dseq in sorted(dseqs):
        assert cli("close", str(dseq)).code == 0
    assert not dseqs & sandbox.active_dseqs()


def test_a_redundant_service_costs_and_lists_every_replica(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    run = cli("deploy", str(write_request(tmp_path, web_request("pair6", redundancy=2))), "--json")
    assert run.code == 0, run.err
    result = run.json()
    (second,) = result["replicas"]
    # Each replica is paid from its own escrow: the service costs both leases.
    prices = [Decimal(lease["price"]["amount"]) for lease in result["leases"]]
    assert len(prices) == 2 and prices[0] != prices[1]
    both = usd_per_month(Price(denom="uact", amount=sum(prices, Decimal(0))))
    assert both is not None
    assert abs(Decimal(str(result["cost"]["usd_per_month"])) - both) < Decimal("0.01")
    (row,) = [r for r in cli("list", "--json").json() if r["name"] == "pair6"]
    assert row["usd_per_month"] == result["cost"]["usd_per_month"]
    assert row["replicas"] == [second["dseq"]]
    assert set(row["providers"]) == {lease["provider"] for lease in result["leases"]}
    # Its runway is the shorter of the two escrows' (the dearer lease drains its own faster).
    runways = [
        cli("status", d, "--json").json()["runway"]["hours"] * 3600
        for d in (result["dseq"], second["dseq"])
    ]
    assert abs(row["runway_seconds"] - min(runways)) < 0.05 * min(runways)
    assert min(runways) < max(runways)
    # The status of the service's first deployment shows its replicas too.
    (shown,) = cli("status", result["dseq"], "--json").json()["replicas"]
    assert (shown["replica"], shown["dseq"], shown["state"]) == (2, second["dseq"], "active")
    assert abs(shown["runway"]["hours"] * 3600 - runways[1]) < 0.05 * runways[1]
    said = cli("status", result["dseq"])
    assert said.code == 0, said.err
    assert f"replica 2 of this service:\ndeployment {second['dseq']}: active" in said.err
    for dseq in (result["dseq"], second["dseq"]):
        assert cli("close", dseq).code == 0


def test_ctrl_c_cancels_the_deployment_and_closes_what_it_created(
    sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    before = sandbox.all_dseqs()
    # A price no provider accepts keeps the task waiting for bids after its deployment exists.
    request = web_request("waiting")
    request["infra_spec"]["max_price_uact"] = 0.001
    path = write_request(tmp_path, request)
    process = subprocess.Popen(
        [sys.executable, "-m", "minds371.cli", "deploy", str(path)],
        cwd=ROOT,
        env={
            **os.environ,
            "MINDS371_HOME": str(clean_environ),
            "MINDS371_SANDBOX_URL": sandbox.url,
        },
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
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    created = sandbox.all_dseqs() - before
    assert len(created) == 1
    assert not (created & sandbox.active_dseqs())  # closed, not left running


def test_the_budget_covers_every_replica_before_the_first_is_created(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    before = sandbox.all_dseqs()
    # One replica fits (100 uact/block at most), two do not.
    request = web_request("pair", redundancy=2, budget={"max_uact_per_block": 150})
    run = cli("deploy", str(write_request(tmp_path, request)), "--json")
    assert run.code == 2, run.err
    assert run.json()["error"]["type"] == "BudgetExceeded"
    assert sandbox.all_dseqs() == before


def test_a_kill_between_replicas_resumes_both_and_leaves_nothing_untracked(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    before = sandbox.all_dseqs()
    request = write_request(tmp_path, web_request("pair", redundancy=2))
    # Killed once replica 2's deployment exists and is journaled, before it is leased.
    killed = cli(
        "deploy", str(request), "--json", extra_env={"MINDS371_CRASH_AT": "replica.created"}
    )
    assert killed.code == -signal.SIGKILL, killed.err
    reconciled = cli("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    (resumed,) = reconciled.json()["resumed"]
    new = sandbox.all_dseqs() - before
    assert len(new) == 2  # the two replicas, none created twice
    assert new <= sandbox.active_dseqs()
    leased = {
        int(d["dseq"]): [lease["provider"] for lease in d["leases"] if lease["state"] == "active"]
        for d in sandbox.deployments()
        if int(d["dseq"]) in new
    }
    assert all(len(providers) == 1 for providers in leased.values()), leased
    assert len({providers[0] for providers in leased.values()}) == 2  # distinct providers
    assert int(resumed["dseq"]) in new
    for dseq in sorted(new):
        assert cli("close", str(dseq)).code == 0


def test_closing_the_first_replica_by_hand_closes_the_others_with_it(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    # Its record is retired with the first deployment: a replica left open would be paid for
    # with nobody watching it and no traffic sent to it, and without a watcher running, forever.
    run = cli("deploy", str(write_request(tmp_path, web_request("pair", redundancy=2))), "--json")
    assert run.code == 0, run.err
    result = run.json()
    (second,) = result["replicas"]
    assert int(second["dseq"]) in sandbox.active_dseqs()
    closed = cli("close", result["dseq"])
    assert closed.code == 0, closed.err
    assert f"replica deployment {second['dseq']} of the same service closed" in closed.err
    assert not {int(result["dseq"]), int(second["dseq"])} & sandbox.active_dseqs()
    # Journaled at once: the task holds nothing, and the watcher has nothing left to do.
    state_dir = home_for(clean_environ, sandbox.url)
    steps = anyio.run(steps_of_every_task, state_dir)
    assert [(s.name, s.data["dseq"], s.data["reason"]) for s in steps[-2:]] == [
        (REPLICA_CLOSED, int(second["dseq"]), "closed"),
        (CLOSED, int(result["dseq"]), "closed"),
    ]
    watched = cli("watch", "--once", "--json")
    assert watched.code == 0, watched.err
    assert [a for a in watched.json()["actions"] if a["task_id"] == result["task_id"]] == []


def test_closing_by_hand_beside_a_running_runtime_leaves_the_journal_to_its_watcher(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    run = cli("deploy", str(write_request(tmp_path, web_request("pair5", redundancy=2))), "--json")
    assert run.code == 0, run.err
    result = run.json()
    (second,) = result["replicas"]
    state_dir = home_for(clean_environ, sandbox.url)
    # What a running runtime holds: the state's lock (it reads its tasks' steps from memory).
    with open(state_dir / "state.db.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        closed = cli("close", result["dseq"], "--json")
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert closed.code == 0, closed.err
    report = closed.json()
    assert report["replicas_closed"] == [second["dseq"]] and report["journaled"] is False
    assert not {int(result["dseq"]), int(second["dseq"])} & sandbox.active_dseqs()
    ours = [s for s in anyio.run(steps_of_every_task, state_dir) if s.task_id == result["task_id"]]
    assert not [s for s in ours if s.name in (CLOSED, REPLICA_CLOSED)]
    watched = cli("watch", "--once", "--json")  # the runtime's watcher, at its next pass
    assert watched.code == 0, watched.err
    steps = anyio.run(steps_of_every_task, state_dir)
    assert {(s.name, s.data["dseq"]) for s in steps if s.name in (CLOSED, REPLICA_CLOSED)} == {
        (REPLICA_CLOSED, int(second["dseq"])),
        (CLOSED, int(result["dseq"])),
    }


def _hash(cli: Any, dseq: str) -> str:
    status = cli("status", dseq, "--json")
    assert status.code == 0, status.err
    return str(status.json()["hash"])


def _replica_steps(home: Path) -> list[tuple[str, int, str]]:
    return [
        (s.task_id, s.data["dseq"], s.data["reason"])
        for s in anyio.run(steps_of_every_task, home)
        if s.name == REPLICA_CLOSED
    ]


def test_an_in_place_update_updates_every_replica_where_it_runs(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    # Console's layout: each replica is a deployment of its own. Updated where it runs, it keeps
    # its lease, provider, endpoint and escrow: no new deposit, no new bids.
    first = cli(
        "deploy", str(write_request(tmp_path, web_request("pair2", redundancy=2))), "--json"
    )
    assert first.code == 0, first.err
    before = first.json()
    (replica,) = before["replicas"]
    hashes = {d: _hash(cli, d) for d in (before["dseq"], replica["dseq"])}
    deployments_before = sandbox.all_dseqs()
    changed = web_request("pair2", redundancy=2)
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "again"}
    second = cli("deploy", str(write_request(tmp_path, changed)), "--json")
    assert second.code == 0, second.err
    updated = second.json()
    assert updated["update"]["kind"] == "in_place"
    assert updated["dseq"] == before["dseq"]
    assert updated["replicas"] == [{**replica, "version": updated["replicas"][0]["version"]}]
    assert updated["replicas"][0]["version"] != replica["version"]  # its new manifest
    assert sorted(updated["leases"], key=str) == sorted(before["leases"], key=str)
    assert sandbox.all_dseqs() == deployments_before  # nothing new was created
    assert {int(before["dseq"]), int(replica["dseq"])} <= sandbox.active_dseqs()
    for dseq, old_hash in hashes.items():
        assert _hash(cli, dseq) != old_hash  # the network holds the new manifests
    # The first task let go of its replica to the update; nothing was closed.
    state_dir = home_for(clean_environ, sandbox.url)
    assert _replica_steps(state_dir) == [(before["task_id"], int(replica["dseq"]), HANDED_OVER)]
    (row,) = cli("list", "--json").json()
    assert (row["task_id"], row["replicas"]) == (updated["task_id"], [replica["dseq"]])
    watched = cli("watch", "--once", "--json")
    assert watched.code == 0, watched.err
    assert not [a for a in watched.json()["actions"] if a["kind"] == "closed"]
    assert cli("close", updated["dseq"]).code == 0  # and its replica with it
    assert not deployments_before & sandbox.active_dseqs()


def test_an_in_place_update_adds_and_drops_replicas(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    budget = {"max_usd_per_month": 200}
    first = cli(
        "deploy",
        str(write_request(tmp_path, web_request("pair7", redundancy=2, budget=budget))),
        "--json",
    )
    assert first.code == 0, first.err
    (second_replica,) = first.json()["replicas"]
    three = web_request("pair7", redundancy=3, budget=budget)
    grown = cli("deploy", str(write_request(tmp_path, three)), "--json")
    assert grown.code == 0, grown.err
    assert grown.json()["update"]["kind"] == "in_place"
    kept, added = grown.json()["replicas"]
    assert kept["dseq"] == second_replica["dseq"]  # updated where it runs
    assert added["replica"] == 3 and added["dseq"] not in (first.json()["dseq"], kept["dseq"])
    two = web_request("pair7", redundancy=2, budget=budget)
    two["infra_spec"]["services"][0]["env"] = {"GREETING": "fewer"}
    shrunk = cli("deploy", str(write_request(tmp_path, two)), "--json")
    assert shrunk.code == 0, shrunk.err
    assert [r["dseq"] for r in shrunk.json()["replicas"]] == [kept["dseq"]]
    assert int(added["dseq"]) not in sandbox.active_dseqs()  # dropped: closed
    state_dir = home_for(clean_environ, sandbox.url)
    reasons = {(dseq, reason) for _, dseq, reason in _replica_steps(state_dir)}
    assert reasons == {
        (int(kept["dseq"]), HANDED_OVER),  # twice: to the second task, then to the third
        (int(added["dseq"]), "replaced"),
    }
    assert cli("close", shrunk.json()["dseq"]).code == 0
    assert int(kept["dseq"]) not in sandbox.active_dseqs()


@pytest.mark.parametrize(
    "crash_at", ["replica.created", "deployment.before_finalize", "deployment.before_hand_over"]
)
def test_a_kill_during_an_in_place_update_of_replicas_resumes_it_and_closes_nothing(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path, crash_at: str
) -> None:
    # Killed once replica 2's update is journaled, before the record, or after it but before
    # the first task let go: reconcile finishes the update; both deployments run on, once.
    request = write_request(tmp_path, web_request("pair9", redundancy=2))
    first = cli("deploy", str(request), "--json")
    assert first.code == 0, first.err
    before = first.json()
    (replica,) = before["replicas"]
    deployments_before = sandbox.all_dseqs()
    changed = web_request("pair9", redundancy=2)
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "again"}
    killed = cli(
        "deploy",
        str(write_request(tmp_path, changed, "changed.json")),
        "--json",
        extra_env={"MINDS371_CRASH_AT": crash_at},
    )
    assert killed.code == -signal.SIGKILL, killed.err
    (row,) = cli("list", "--json").json()  # listed once meanwhile
    assert row["dseq"] == before["dseq"]
    reconciled = cli("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    assert reconciled.json()["closed"] == []
    (resumed,) = reconciled.json()["resumed"]
    assert resumed["dseq"] == before["dseq"]
    assert sandbox.all_dseqs() == deployments_before  # nothing new
    assert {int(before["dseq"]), int(replica["dseq"])} <= sandbox.active_dseqs()
    (row,) = cli("list", "--json").json()
    assert (row["task_id"], row["replicas"]) == (resumed["task_id"], [replica["dseq"]])
    state_dir = home_for(clean_environ, sandbox.url)
    assert [(dseq, reason) for _, dseq, reason in _replica_steps(state_dir)] == [
        (int(replica["dseq"]), HANDED_OVER)
    ]
    watched = cli("watch", "--once", "--json")
    assert not [a for a in watched.json()["actions"] if a["kind"] == "closed"]
    assert cli("close", before["dseq"]).code == 0
    assert not deployments_before & sandbox.active_dseqs()


def test_reconcile_leaves_a_failed_update_s_replicas_with_the_task_they_came_from(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    request = write_request(tmp_path, web_request("pair10", redundancy=2))
    first = cli("deploy", str(request), "--json")
    assert first.code == 0, first.err
    before = first.json()
    (replica,) = before["replicas"]
    changed = web_request("pair10", redundancy=2)
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "again"}
    state_dir = home_for(clean_environ, sandbox.url)
    failed_task = anyio.run(journal_a_failed_update, state_dir, changed, before)
    reconciled = cli("reconcile", "--json")
    assert reconciled.code == 0, reconciled.err
    assert reconciled.json()["closed"] == []
    assert {int(before["dseq"]), int(replica["dseq"])} <= sandbox.active_dseqs()
    assert _replica_steps(state_dir) == [(failed_task, int(replica["dseq"]), GIVEN_BACK)]
    (row,) = cli("list", "--json").json()
    assert (row["task_id"], row["replicas"]) == (before["task_id"], [replica["dseq"]])
    assert cli("close", before["dseq"]).code == 0


def test_a_failed_in_place_update_puts_every_replica_back(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    # Ready, then the registry cannot store the update's record: each deployment the update
    # changed ran before it, and goes back to its previous manifest and to the first task.
    first = cli(
        "deploy", str(write_request(tmp_path, web_request("pair8", redundancy=2))), "--json"
    )
    assert first.code == 0, first.err
    before = first.json()
    (replica,) = before["replicas"]
    hashes = {d: _hash(cli, d) for d in (before["dseq"], replica["dseq"])}
    changed = web_request("pair8", redundancy=2)
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "again"}
    with ipfs_node_that_will_not_store() as api:
        failed = cli(
            "deploy",
            str(write_request(tmp_path, changed)),
            "--json",
            extra_env={"MINDS371_IPFS_API": api},
        )
    assert failed.code == 1, failed.err
    error = failed.json()["error"]
    assert error["type"] == "RegistryError" and error["details"]["rolled_back"] is True
    assert {int(before["dseq"]), int(replica["dseq"])} <= sandbox.active_dseqs()
    for dseq, old_hash in hashes.items():
        assert _hash(cli, dseq) == old_hash  # back on the first task's manifests
    state_dir = home_for(clean_environ, sandbox.url)
    assert [(dseq, reason) for _, dseq, reason in _replica_steps(state_dir)] == [
        (int(replica["dseq"]), GIVEN_BACK)
    ]
    (row,) = cli("list", "--json").json()
    assert (row["task_id"], row["replicas"]) == (before["task_id"], [replica["dseq"]])
    # With the registry back, the same change updates both where they run.
    again = cli("deploy", str(write_request(tmp_path, changed)), "--json")
    assert again.code == 0, again.err
    assert [r["dseq"] for r in again.json()["replicas"]] == [replica["dseq"]]
    assert cli("close", again.json()["dseq"]).code == 0


def test_a_replacement_of_replicas_closes_the_old_ones_with_the_first(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    first = cli(
        "deploy", str(write_request(tmp_path, web_request("pair4", redundancy=2))), "--json"
    )
    assert first.code == 0, first.err
    old = {int(first.json()["dseq"]), int(first.json()["replicas"][0]["dseq"])}
    bigger = web_request("pair4", redundancy=2)
    bigger["infra_spec"]["services"][0]["cpu"] = 1.0  # resources change: a new deployment
    second = cli("deploy", str(write_request(tmp_path, bigger)), "--json")
    assert second.code == 0, second.err
    replaced = second.json()
    assert replaced["update"]["kind"] == "replace"
    new = {int(replaced["dseq"]), int(replaced["replicas"][0]["dseq"])}
    active = sandbox.active_dseqs()
    assert not old & active
    assert new <= active
    for dseq in sorted(new):
        assert cli("close", str(dseq)).code == 0


async def _hand_over_without_its_replica(home: Path, task_id: str, dseq: int) -> None:
    """What an update left before replicas were handed over with it: an orphaned replica."""
    async with SQLiteStateStore(home / "state.db", exclusive=False) as store:
        await store.record_step(
            task_id, CLOSED, {"dseq": dseq, "reason": HANDED_OVER, "to_task": "a-later-task"}
        )


def test_the_watcher_closes_replicas_whose_first_deployment_is_no_longer_their_task_s(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    run = cli("deploy", str(write_request(tmp_path, web_request("pair3", redundancy=2))), "--json")
    assert run.code == 0, run.err
    result = run.json()
    (replica,) = result["replicas"]
    state_dir = home_for(clean_environ, sandbox.url)
    anyio.run(_hand_over_without_its_replica, state_dir, result["task_id"], int(result["dseq"]))
    watched = cli("watch", "--once", "--json")
    assert watched.code == 0, watched.err
    assert int(replica["dseq"]) not in sandbox.active_dseqs()
    closed = [s for s in anyio.run(steps_of_every_task, state_dir) if s.name == REPLICA_CLOSED]
    assert [(s.data["dseq"], s.data["reason"]) for s in closed] == [
        (int(replica["dseq"]), "orphaned")
    ]
    again = cli("watch", "--once", "--json")  # nothing left to do for that task
    assert [a for a in again.json()["actions"] if a["task_id"] == result["task_id"]] == []
    assert cli("close", result["dseq"]).code == 0
