from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.deploy.conftest import ROOT, Sandbox, web_request, write_request


def test_redundancy_leases_each_group_from_a_different_provider_and_survives_a_lost_lease(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    run = cli("deploy", str(write_request(tmp_path, web_request("twin", redundancy=2))), "--json")
    assert run.code == 0, run.err
    result = run.json()
    providers = {lease["provider"] for lease in result["leases"]}
    assert len(result["leases"]) == 2
    before = cli("discover", "twin", "--json")
    assert before.code == 0, before.err
    assert [e["healthy"] for e in before.json()["endpoints"]] == [True, True]
    assert len(providers) == 2
    assert len(result["endpoints"]) == 2

    lost = result["leases"][0]
    owner = result["owner"]
    sandbox.admin(
        "POST",
        "/sandbox/leases/close",
        json={"owner": owner, "dseq": int(result["dseq"]), "gseq": lost["gseq"], "oseq": 1},
    )
    watched = cli("watch", "--once", "--json")
    assert watched.code == 0, watched.err
    actions = watched.json()
    assert [a["kind"] for a in actions] == ["relet"]
    assert actions[0]["gseq"] == lost["gseq"]

    status = cli("status", result["dseq"], "--json").json()
    active = [lease for lease in status["leases"] if lease["state"] == "active"]
    assert len(active) == 2
    replacement = next(lease["id"] for lease in active if lease["id"]["gseq"] == lost["gseq"])
    assert replacement["oseq"] == 2
    assert replacement["provider"] not in providers  # neither the lost one nor the twin's

    history = cli("registry", "history", "twin", "--json")
    assert history.code == 0, history.err
    assert len(history.json()) == 2  # the watcher published the next record

    found = cli("discover", "twin", "--json")
    assert found.code == 0, found.err
    endpoints = found.json()["endpoints"]
    assert len(endpoints) == 2
    assert all(e["healthy"] for e in endpoints)
    assert set(result["endpoints"]) & {e["url"] for e in endpoints}  # the twin kept serving
    cli("close", result["dseq"])


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
