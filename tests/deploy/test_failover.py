"""A provider goes offline under a redundant deployment: the watcher moves its group elsewhere.

Runs on the ``cli`` network (the sandbox's stand-ins for the ``akash`` and ``provider-services``
binaries), where an owner can close one lease; the Console API cannot, so there the group is
reported degraded while the other group serves.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371_deploy._plugin import agent_for
from minds371_deploy.watcher import DeploymentWatcher
from tests.deploy.conftest import Sandbox, web_request
from tests.standins import standins


@pytest.mark.slow  # every chain or provider call is a stand-in binary process (~0.5 s)
async def test_a_provider_going_offline_moves_its_group_and_discovery_keeps_answering(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tools = standins(tmp_path, monkeypatch)
    monkeypatch.setenv("MINDS371_AKASH_BIN", str(tools.bins["akash"]))
    monkeypatch.setenv("MINDS371_PROVIDER_SERVICES_BIN", str(tools.bins["provider-services"]))
    monkeypatch.setenv("MINDS371_AKASH_KEY", "failover")
    monkeypatch.setenv("AKASH_NODE", sandbox.url)
    monkeypatch.setenv("AKASH_KEYRING_BACKEND", "test")
    await tools.certify(sandbox.url, "failover")
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)  # probes of the ingress hosts
    request = web_request("steady", redundancy=2, network="cli")
    request["bid_policy"] = {"enough_bids": 2}
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(120):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", request)
        first, second = result["leases"]
        assert first["provider"] != second["provider"]
        sandbox.admin("POST", f"/sandbox/providers/{first['provider']}/offline")

        now = [time.time()]
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, clock=lambda: now[0])
        assert await watcher.check_once() == []  # unreachable, but within the grace period
        found = await runtime.execute_action("DISCOVER_SERVICE", {"name": "steady"})
        assert [e["healthy"] for e in found["endpoints"]] == [True, False]  # routes around it

        now[0] += 3600  # past the grace period
        with anyio.fail_after(120):
            actions = await watcher.check_once()
        assert [(a.kind, a.data["gseq"]) for a in actions] == [("relet", first["gseq"])]

        status = await runtime.execute_action(
            "GET_DEPLOYMENT_STATUS", {"dseq": int(result["dseq"]), "network": "cli"}
        )
        active = {lease["provider"] for lease in status["leases"] if lease["state"] == "active"}
        assert first["provider"] not in active
        assert len(active) == 2
        found = await runtime.execute_action("DISCOVER_SERVICE", {"name": "steady"})
        assert found["sequence"] == 2
        assert all(e["healthy"] for e in found["endpoints"])
        await runtime.execute_action(
            "CLOSE_DEPLOYMENT", {"dseq": int(result["dseq"]), "network": "cli"}
        )
