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

from minds371.config import home_for
from minds371.state import SagaStep, SQLiteStateStore
from minds371_akash.market import Price
from minds371_akash.pricing import usd_per_month
from minds371_deploy.saga import CLOSED, REPLICA_CLOSED
from minds371_deploy.update import HANDED_OVER
from minds371_deploy.watcher import RELET
from tests.deploy.conftest import ROOT, Sandbox, web_request, write_request


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


def test_an_in_place_update_of_replicas_leaves_no_old_replica_running(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    # Console's layout: the first deployment is updated in place, the update deploys replicas
    # of its own; the old task's replica would run on, paid for and watched by nobody.
    request = write_request(tmp_path, web_request("pair2", redundancy=2))
    first = cli("deploy", str(request), "--json")
    assert first.code == 0, first.err
    (old_replica,) = first.json()["replicas"]
    changed = web_request("pair2", redundancy=2)
    changed["infra_spec"]["services"][0]["env"] = {"GREETING": "again"}
    second = cli("deploy", str(write_request(tmp_path, changed)), "--json")
    assert second.code == 0, second.err
    updated = second.json()
    assert updated["update"]["kind"] == "in_place"
    assert updated["dseq"] == first.json()["dseq"]
    (new_replica,) = updated["replicas"]
    active = sandbox.active_dseqs()
    assert int(old_replica["dseq"]) not in active
    assert {int(updated["dseq"]), int(new_replica["dseq"])} <= active
    state_dir = home_for(clean_environ, sandbox.url)
    closed = [s for s in anyio.run(steps_of_every_task, state_dir) if s.name == REPLICA_CLOSED]
    assert [(s.data["dseq"], s.data["reason"]) for s in closed] == [
        (int(old_replica["dseq"]), "replaced")
    ]
    for dseq in (updated["dseq"], new_replica["dseq"]):
        assert cli("close", dseq).code == 0


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
