from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

from tests.deploy.conftest import Sandbox, web_request, write_request
from tests.sdl.test_global_services import internal_only_sdl
from tests.servers.refusing_ipfs import ipfs_node_that_will_not_store


def test_deploy_prints_a_ready_endpoint_cost_report_and_registry_receipt(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    request = write_request(tmp_path, web_request("hello"))
    run = cli("deploy", str(request), "--json")
    assert run.code == 0, run.err
    result = run.json()
    assert result["status"] == "completed"
    assert int(result["dseq"]) in sandbox.active_dseqs()
    assert result["endpoints"]
    assert all(url.startswith("http://") for url in result["endpoints"])
    (lease,) = result["leases"]
    assert lease["provider"].startswith("akash1")
    assert lease["price"]["denom"] == "uact"
    cost = result["cost"]
    assert cost["usd_per_month"] > 0
    assert cost["reference_usd_per_month"] > cost["usd_per_month"]
    assert 0 < cost["savings_pct"] < 100
    assert result["registry"]["record_id"].startswith("0x")
    assert result["registry"]["cid"].startswith("bafk")
    assert Path(result["monitor_script"]).is_file()
    assert "deployment.ready" in run.err  # progress went to stderr


def test_status_logs_events_and_close_of_a_deployed_service(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    result = cli("deploy", str(write_request(tmp_path, web_request("ops"))), "--json").json()
    dseq = result["dseq"]
    status = cli("status", dseq, "--json")
    assert status.code == 0, status.err
    assert status.json()["state"] == "active"
    logs = cli("logs", dseq, "--tail", "5")
    assert logs.code == 0, logs.err
    lines = logs.out.strip().splitlines()
    assert 1 <= len(lines) <= 5
    assert all(line.startswith("[web]") for line in lines)
    script = subprocess.run(
        ["bash", result["monitor_script"], "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "MINDS371_HOME": str(Path(result["monitor_script"]).parents[1]),
            "MINDS371_SANDBOX_URL": sandbox.url,
            "PATH": _path(),
        },
        check=False,
    )
    assert script.returncode == 0, script.stderr
    assert dseq in script.stdout + script.stderr
    closed = cli("close", dseq)
    assert closed.code == 0, closed.err
    assert int(dseq) not in sandbox.active_dseqs()


def test_a_request_over_budget_spends_nothing(cli: Any, sandbox: Sandbox, tmp_path: Path) -> None:
    before = sandbox.all_dseqs()
    request = web_request("pricey", budget={"max_usd_per_month": 1})
    run = cli("deploy", str(write_request(tmp_path, request)), "--json")
    assert run.code == 2, run.err
    assert run.json()["error"]["type"] == "BudgetExceeded"
    assert sandbox.all_dseqs() == before


def test_an_sdl_with_no_global_service_spends_nothing(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    # Every provider refuses its manifest ("zero global services") once the lease is paid.
    sdl = internal_only_sdl()
    before = sandbox.all_dseqs()
    run = cli("deploy", str(write_request(tmp_path, {"name": "inside", "sdl": sdl})), "--json")
    assert run.code == 2, run.err
    error = run.json()["error"]
    assert error["type"] == "ValidationError" and "zero global services" in error["message"]
    assert sandbox.all_dseqs() == before


def _path() -> str:
    import os
    import sys

    return f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"


def test_tls_without_a_terminator_is_refused_before_any_spend(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    before = sandbox.all_dseqs()
    # TLS for a custom domain needs a terminator: none is configured here.
    tls = web_request("tls", domain="app.example.com", ssl=True)
    run = cli("deploy", str(write_request(tmp_path, tls)), "--json")
    assert run.code == 2, run.err
    error = run.json()["error"]
    assert error["type"] == "ValidationError"
    assert "/ssl: TLS for a custom domain cannot be given with no DNS provider" in error["message"]
    assert sandbox.all_dseqs() == before


def test_an_unreachable_registry_is_found_before_any_spend(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # bound, not listening: nobody answers there
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
        before = sandbox.all_dseqs()
        run = cli(
            "deploy",
            str(write_request(tmp_path, web_request("unrecorded"))),
            "--json",
            extra_env={"MINDS371_IPFS_API": dead},
        )
    assert run.code == 1, run.err
    error = run.json()["error"]
    assert "none was started" in error["message"] and dead in error["message"]
    assert sandbox.all_dseqs() == before  # nothing was created


def test_a_registry_that_cannot_publish_closes_the_deployment(
    cli: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    # The node passes the check before spending, then refuses to store the record.
    with ipfs_node_that_will_not_store() as api:
        before = sandbox.all_dseqs()
        run = cli(
            "deploy",
            str(write_request(tmp_path, web_request("unpublished"))),
            "--json",
            extra_env={"MINDS371_IPFS_API": api},
        )
    assert run.code == 1, run.err
    assert run.json()["status"] == "failed"
    created = sandbox.all_dseqs() - before
    assert len(created) == 1  # the deployment came up before the record failed
    assert not created & sandbox.active_dseqs()  # and nothing is left running for a failed task
