"""Funding on ``--network console`` against the served sandbox: deposit, re-lease, top-up, trial."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371_deploy._plugin import agent_for
from minds371_deploy.watcher import DeploymentWatcher
from minds371_sandbox._identity import TRIAL_KEY_PREFIX
from tests.deploy.conftest import Sandbox, web_request


def console_request(name: str, **overrides: Any) -> dict[str, Any]:
    request = web_request(name, network="console", **overrides)
    service = request["infra_spec"]["services"][0]
    service.update(cpu=4, memory="8Gi")  # a price that drains $0.50 within a day
    request["infra_spec"]["max_price_uact"] = 1000
    # Console's blocks count 6 s here: no window of blocks spent waiting for more bids
    request.setdefault("bid_policy", {"enough_bids": 2, "bid_window_blocks": 0.1})
    return request


def on_chain(sandbox: Sandbox, dseq: int) -> dict[str, Any]:
    return next(d for d in sandbox.deployments() if int(d["dseq"]) == dseq)


async def test_console_deposit_relet_and_auto_top_up_past_the_runway(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_CONSOLE_URL", sandbox.url)
    sandbox.admin("POST", "/sandbox/api-keys", json={"key": "console-funding"})
    monkeypatch.setenv("MINDS371_CONSOLE_API_KEY", "console-funding")
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action(
                "DEPLOY_TO_AKASH", console_request("funded", deposit_uact=600_000)
            )
        dseq = int(result["dseq"])
        ref = {"dseq": dseq, "network": "console"}
        deployment = on_chain(sandbox, dseq)
        assert deployment["escrow"]["deposits"][0]["amount"] == "600000"  # the request's
        status = await runtime.execute_action("GET_DEPLOYMENT_STATUS", ref)
        runway = status["runway"]
        assert 0 < runway["hours"] < 24  # inside Console's look-ahead window already

        # a lost lease of this single-group deployment is leased again through POST /v1/leases
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store)
        lease = deployment["leases"][0]
        sandbox.admin(
            "POST",
            "/sandbox/leases/close",
            json={"owner": deployment["owner"], "dseq": dseq, "oseq": lease["oseq"]},
        )
        with anyio.fail_after(60):
            actions = await watcher.check_once()
        assert sorted(a.kind for a in actions) == ["auto_top_up", "relet"]
        status = await runtime.execute_action("GET_DEPLOYMENT_STATUS", ref)
        assert [x["state"] for x in status["leases"]] == ["closed", "active"]

        # Console's auto top-up funds it to 48 h; it outlives the runway its deposit bought
        assert status["runway"]["hours"] > 24
        sandbox.admin("POST", "/sandbox/advance", json={"blocks": runway["blocks"] + 1_200})
        status = await runtime.execute_action("GET_DEPLOYMENT_STATUS", ref)
        assert status["state"] == "active"
        sources = [d["source"] for d in on_chain(sandbox, dseq)["escrow"]["deposits"]]
        assert sources[0] == "grant" and len(sources) >= 2
        await runtime.execute_action("CLOSE_DEPLOYMENT", ref)


async def test_concurrent_creates_on_a_console_trial_wallet_all_survive(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_CONSOLE_URL", sandbox.url)
    sandbox.admin("POST", "/sandbox/api-keys", json={"key": TRIAL_KEY_PREFIX + "e2e"})
    monkeypatch.setenv("MINDS371_CONSOLE_API_KEY", TRIAL_KEY_PREFIX + "e2e")
    results: list[dict[str, Any]] = []
    before = sandbox.all_dseqs()
    async with AgentRuntime(store=MemoryStateStore()) as runtime:

        async def deploy(name: str, **policy: Any) -> None:
            request = web_request(name, network="console", bid_policy=policy)
            results.append(await runtime.execute_action("DEPLOY_TO_AKASH", request))

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                # the first waits 3 s for bids (half a 6 s block): a later create would close it
                tg.start_soon(lambda: deploy("trial-a", enough_bids=4, bid_window_blocks=0.5))
                while not sandbox.all_dseqs() - before:
                    await anyio.sleep(0.05)
                await anyio.sleep(0.2)
                for name in ("trial-b", "trial-c"):
                    tg.start_soon(partial(deploy, name, enough_bids=2, bid_window_blocks=0.1))
        dseqs = {int(r["dseq"]) for r in results}
        assert len(dseqs) == 3
        assert dseqs <= sandbox.active_dseqs()
        for dseq in dseqs:
            await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": dseq, "network": "console"})
