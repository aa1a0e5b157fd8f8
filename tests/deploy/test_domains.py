"""A request's domain on a real BIND9: pointed after the lease, moved on failover, removed on close.

``named`` runs on 127.0.0.1 with a zone that takes TSIG-signed updates (tests/servers/bind.py);
deployments run on the served sandbox; the records are read back from ``named`` with dnspython.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371.cli import main
from minds371.errors import ProviderError
from minds371_deploy._plugin import agent_for
from minds371_deploy.agent import DeploymentAgent
from minds371_deploy.domains.records import DNS_INTENT, DNS_SET
from minds371_deploy.domains.rfc2136 import Rfc2136Provider, Rfc2136Settings
from minds371_deploy.watcher import DeploymentWatcher
from tests.deploy.conftest import Sandbox, web_request, write_request
from tests.servers.bind import Bind, find_named, running_bind

pytestmark = pytest.mark.skipif(find_named() is None, reason="named (bind9) is not installed")


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    with running_bind(tmp_path_factory.mktemp("bind")) as server:
        yield server


def _ingress_host(result: dict[str, object], domain: str) -> str:
    hosts = [
        str(url).removeprefix("http://")
        for url in result["endpoints"]  # type: ignore[attr-defined]
        if str(url).startswith("http://") and not str(url).endswith(domain)
    ]
    assert hosts, result["endpoints"]
    return hosts[0]


async def test_the_record_points_at_the_ingress_follows_a_failover_and_goes_on_close(
    sandbox: Sandbox, bind: Bind, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = f"shop.{bind.zone}"
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    for name, value in bind.env().items():
        monkeypatch.setenv(name, value)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action(
                "DEPLOY_TO_AKASH", web_request("shop", domain=domain)
            )
        dseq = int(result["dseq"])
        first = _ingress_host(result, domain)
        assert bind.lookup(domain, "CNAME") == [first]
        assert result["dns"] == {
            "name": domain,
            "type": "CNAME",
            "content": first,
            "proxied": False,
            "tls": "none",
            "managed": "rfc2136",
        }
        (task,) = await runtime.store.list_tasks()
        names = [s.name for s in await runtime.store.steps(task.task.id)]
        assert names.index(DNS_INTENT) < names.index(DNS_SET)  # journaled before it was written

        # Failover: the provider closes the lease; the watcher re-leases it elsewhere and the
        # record follows.
        (lease,) = result["leases"]
        sandbox.admin(
            "POST",
            "/sandbox/leases/close",
            json={"owner": result["owner"], "dseq": dseq, "gseq": 1},
        )
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, relet_bid_wait=5.0)
        with anyio.fail_after(60):
            actions = [a for a in await watcher.check_once() if a.kind != "auto_top_up"]
        assert [a.kind for a in actions] == ["relet", "dns"]
        status = await runtime.execute_action("GET_DEPLOYMENT_STATUS", {"dseq": dseq})
        (now,) = [x for x in status["leases"] if x["state"] == "active"]
        assert now["provider"] != lease["provider"]
        moved = bind.lookup(domain, "CNAME")
        assert moved != [first] and len(moved) == 1
        assert now["provider"] not in first and moved[0] in actions[1].detail

        # Close: the deployment goes, and its record with it.
        await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": dseq})
        with anyio.fail_after(30):
            actions = await watcher.check_once()
        assert [a.kind for a in actions] == ["closed"]
        assert bind.lookup(domain, "CNAME") == []
        assert bind.lookup(domain, "A") == []


def test_a_kill_between_the_dns_update_and_its_record_then_reconcile_and_close(
    cli: object, sandbox: Sandbox, bind: Bind, tmp_path: Path
) -> None:
    """The record was written but the process died before journaling it: reconcile resumes the
    task, which writes it again and finishes; ``minds371 close`` removes it."""
    domain = f"crash.{bind.zone}"
    env = bind.env()
    path = write_request(tmp_path, web_request("crash", domain=domain))
    crash = {**env, "MINDS371_CRASH_AT": "dns.updated"}
    killed = cli("deploy", str(path), "--json", extra_env=crash)  # type: ignore[operator]
    assert killed.code == -signal.SIGKILL, killed.err
    assert len(bind.lookup(domain, "CNAME")) == 1  # written, not journaled as set
    reconciled = cli("reconcile", "--json", extra_env=env)  # type: ignore[operator]
    assert reconciled.code == 0, reconciled.err
    (resumed,) = reconciled.json()["resumed"]
    assert resumed["status"] == "completed"
    (target,) = bind.lookup(domain, "CNAME")
    closed = cli("close", resumed["dseq"], "--json", extra_env=env)  # type: ignore[operator]
    assert closed.code == 0, closed.err
    assert int(resumed["dseq"]) not in sandbox.active_dseqs()
    assert bind.lookup(domain, "CNAME") == [] and target.endswith(".test")


def test_a_wrong_tsig_key_exits_2_before_anything_is_spent(
    sandbox: Sandbox,
    bind: Bind,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    wrong = {**bind.env(), "MINDS371_DNS_TSIG_SECRET": "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1rZXk="}
    for name, value in wrong.items():
        monkeypatch.setenv(name, value)
    before = sandbox.all_dseqs()
    path = write_request(tmp_path, web_request("keyed", domain=f"keyed.{bind.zone}"))
    assert main(["deploy", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert "refused the TSIG key 'minds371-update' (BADSIG" in out + err
    assert "MINDS371_DNS_TSIG_SECRET" in out + err
    assert wrong["MINDS371_DNS_TSIG_SECRET"] not in out + err  # the secret is not shown
    assert "Traceback" not in err
    assert sandbox.all_dseqs() == before
    assert bind.lookup(f"keyed.{bind.zone}", "CNAME") == []


async def test_a_domain_outside_the_zone_and_ssl_without_a_terminator_spend_nothing(
    sandbox: Sandbox, bind: Bind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    for name, value in bind.env().items():
        monkeypatch.setenv(name, value)
    before = sandbox.all_dseqs()
    cases = [
        (
            web_request("elsewhere", domain="app.example.org"),
            f"app.example.org is not a name inside the DNS zone {bind.zone}",
        ),
        # RFC 2136 keeps records, it does not terminate TLS; no sidecar was asked for.
        (
            web_request("secure", domain=f"s.{bind.zone}", ssl=True),
            "/ssl: TLS for a custom domain cannot be given with the rfc2136 DNS provider",
        ),
    ]
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        for request, said in cases:
            with pytest.raises(ProviderError) as raised:
                await runtime.execute_action("DEPLOY_TO_AKASH", request)
            assert said in raised.value.message
    assert sandbox.all_dseqs() == before


@pytest.mark.parametrize("domain", ["not a host", "$(reboot).example.com", "10.0.0.1"])
def test_a_domain_that_is_not_a_hostname_exits_2_naming_the_field(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    domain: str,
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    before = sandbox.all_dseqs()
    path = write_request(tmp_path, web_request("hostile", domain=domain))
    assert main(["deploy", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert "/domain" in out + err and "must be a lowercase hostname" in out + err
    assert sandbox.all_dseqs() == before


def test_a_tls_sidecar_gets_an_a_record_to_its_leased_ip(
    sandbox: Sandbox,
    bind: Bind,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    domain = f"tls.{bind.zone}"
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    for name, value in bind.env().items():
        monkeypatch.setenv(name, value)
    request = web_request("tls", domain=domain, ssl=True, ssl_termination="sidecar")
    assert main(["deploy", str(write_request(tmp_path, request))]) == 0
    out, err = capsys.readouterr()
    ips = re.findall(r"endpoint  tcp://(203\.0\.113\.\d+):443", err)
    assert len(ips) == 1, err
    assert bind.lookup(domain, "A") == ips
    assert f"domain    {domain} A {ips[0]} (set through rfc2136; TLS: sidecar)" in err
    dseq = re.search(r"deployment (\d+) ready at", out)
    assert dseq is not None, out
    assert main(["close", dseq.group(1)]) == 0
    assert bind.lookup(domain, "A") == []


async def test_a_dns_update_that_fails_after_a_failover_leaves_the_deployment_and_is_retried(
    sandbox: Sandbox, bind: Bind, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key stops working while the deployment runs: the watcher keeps the deployment
    (re-leased and paid for, reachable at its provider's host), reports the DNS error, and
    moves the record on a later pass once the key works."""
    domain = f"steady.{bind.zone}"
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    for name, value in bind.env().items():
        monkeypatch.setenv(name, value)
    wrong = Rfc2136Provider(
        Rfc2136Settings(
            server=bind.server,
            port=bind.port,
            zone=bind.zone,
            key_name=bind.key_name,
            key_secret="c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1rZXk=",
        )
    )
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action(
                "DEPLOY_TO_AKASH", web_request("steady", domain=domain)
            )
        dseq = int(result["dseq"])
        first = bind.lookup(domain, "CNAME")
        sandbox.admin(
            "POST",
            "/sandbox/leases/close",
            json={"owner": result["owner"], "dseq": dseq, "gseq": 1},
        )
        broken = DeploymentWatcher(DeploymentAgent(dns=wrong), runtime.store, relet_bid_wait=5.0)
        with anyio.fail_after(60):
            actions = [a for a in await broken.check_once() if a.kind != "auto_top_up"]
        assert [a.kind for a in actions] == ["relet", "error"]
        assert "DNS: the DNS server" in actions[1].detail and "BADSIG" in actions[1].detail
        assert dseq in sandbox.active_dseqs()
        assert bind.lookup(domain, "CNAME") == first  # not moved yet

        watcher = DeploymentWatcher(agent_for(runtime), runtime.store)
        with anyio.fail_after(60):
            actions = [a for a in await watcher.check_once() if a.kind != "auto_top_up"]
        assert [a.kind for a in actions] == ["dns"]
        assert bind.lookup(domain, "CNAME") not in ([], first)
        with anyio.fail_after(60):
            assert [a for a in await watcher.check_once() if a.kind != "auto_top_up"] == []
        await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": dseq})


async def test_a_replacement_moves_the_record_and_the_old_task_hands_it_over(
    sandbox: Sandbox, bind: Bind, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = f"moving.{bind.zone}"
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    for name, value in bind.env().items():
        monkeypatch.setenv(name, value)
    first = web_request("moving", domain=domain)
    bigger = web_request("moving", domain=domain)
    bigger["infra_spec"]["services"][0]["cpu"] = 1  # new resources: a replacement
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            old = await runtime.execute_action("DEPLOY_TO_AKASH", first)
            new = await runtime.execute_action("DEPLOY_TO_AKASH", bigger)
        assert new["update"]["kind"] == "replace"
        assert new["dns"]["content"] != old["dns"]["content"]
        assert new["update"]["replaced"] == {"dseq": old["dseq"], "closed": True}
        assert bind.lookup(domain, "CNAME") == [new["dns"]["content"]]
        tasks = {t.task.id: t for t in await runtime.store.list_tasks()}
        old_steps = await runtime.store.steps(old["task_id"])
        assert [s.data["reason"] for s in old_steps if s.name == "dns.removed"] == ["moved"]
        # The old task's watcher paths no longer touch the name: the new record stays.
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store)
        with anyio.fail_after(30):
            await watcher.check_once()
        assert bind.lookup(domain, "CNAME") == [new["dns"]["content"]]
        assert len(tasks) == 2
        # An in-place update (only the manifest changes) keeps the deployment and its record.
        bigger["infra_spec"]["services"][0]["env"] = {"GREETING": "hello"}
        with anyio.fail_after(60):
            updated = await runtime.execute_action("DEPLOY_TO_AKASH", bigger)
        assert updated["update"]["kind"] == "in_place" and updated["dseq"] == new["dseq"]
        assert bind.lookup(domain, "CNAME") == [new["dns"]["content"]]
        new_steps = await runtime.store.steps(new["task_id"])
        assert [s.data["reason"] for s in new_steps if s.name == "dns.removed"] == ["moved"]
        await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": int(new["dseq"])})
        with anyio.fail_after(30):
            await watcher.check_once()
        assert bind.lookup(domain, "CNAME") == []  # the task holding it now removed it


def test_without_a_dns_provider_the_result_says_which_record_to_make(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    path = write_request(tmp_path, web_request("manual", domain="manual.example.com"))
    assert main(["deploy", str(path), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    host = output["dns"]["content"]
    assert output["dns"] == {
        "name": "manual.example.com",
        "type": "CNAME",
        "content": host,
        "proxied": False,
        "tls": "none",
        "managed": None,
    }
    assert f"http://{host}" in output["endpoints"] and host != "manual.example.com"
    assert main(["close", output["dseq"]]) == 0


async def test_a_deployment_closed_by_its_lifetime_policy_takes_its_record_along(
    sandbox: Sandbox, bind: Bind, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = f"brief.{bind.zone}"
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    for name, value in bind.env().items():
        monkeypatch.setenv(name, value)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action(
                "DEPLOY_TO_AKASH", web_request("brief", domain=domain, ttl=600)
            )
        assert len(bind.lookup(domain, "CNAME")) == 1
        later = time.time() + 601
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, clock=lambda: later)
        with anyio.fail_after(30):
            actions = await watcher.check_once()
        assert [(a.kind, a.dseq) for a in actions] == [("expired", int(result["dseq"]))]
        assert bind.lookup(domain, "CNAME") == []
