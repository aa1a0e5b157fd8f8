"""A provider goes offline where the network cannot close one lease (the Console API).

The watcher cannot move the group, so it reports it degraded, leaves every lease as it is, and
points discovery at the groups that still serve.
"""

from __future__ import annotations

import time

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371_deploy._plugin import agent_for
from minds371_deploy.watcher import DeploymentWatcher
from tests.deploy.conftest import Sandbox, web_request


async def test_an_unreachable_group_is_reported_degraded_and_discovery_routes_around_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    request = web_request("lopsided", redundancy=2)
    request["bid_policy"] = {"enough_bids": 2}
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", request)
        dseq = int(result["dseq"])
        first, second = result["leases"]
        assert first["provider"] != second["provider"]
        sandbox.admin("POST", f"/sandbox/providers/{first['provider']}/offline")

        now = [time.time()]
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, clock=lambda: now[0])
        # unreachable, but within the grace period: only Console's auto top-up is switched on,
        # once for each replica's deployment
        funded = await watcher.check_once()
        assert [a.kind for a in funded] == ["auto_top_up", "auto_top_up"]

        now[0] += 3600  # past the grace period
        with anyio.fail_after(60):
            actions = await watcher.check_once()
        assert [(a.kind, a.dseq, a.data) for a in actions] == [
            ("degraded", dseq, {"gseq": first["gseq"]})
        ]
        assert first["provider"] in actions[0].detail
        assert "cannot close one lease" in actions[0].detail

        # nothing was closed or re-leased: the network offers no way to move one group
        # (on Console each replica is a deployment of its own; the lease names its deployment)
        dseqs = {int(lease.get("dseq", dseq)) for lease in (first, second)}
        active: set[str] = set()
        for each in dseqs:
            status = await runtime.execute_action("GET_DEPLOYMENT_STATUS", {"dseq": each})
            leases = status["leases"]
            active |= {lease["provider"] for lease in leases if lease["state"] == "active"}
        assert active == {first["provider"], second["provider"]}
        assert dseqs <= sandbox.active_dseqs()

        # discovery now names only the group that still serves
        found = await runtime.execute_action("DISCOVER_SERVICE", {"name": "lopsided"})
        assert found["sequence"] == 2
        assert [e["healthy"] for e in found["endpoints"]] == [True]

        # still down on the next pass: still reported, still not closed
        with anyio.fail_after(60):
            again = await watcher.check_once()
        assert [a.kind for a in again] == ["degraded"]
        await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": dseq})
