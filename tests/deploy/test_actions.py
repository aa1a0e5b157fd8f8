from __future__ import annotations

import json
from pathlib import Path

import anyio
import jsonschema
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371.cli import main
from tests.deploy.conftest import Sandbox, web_request

EXPECTED = {
    "DEPLOY_TO_AKASH": {"spends_money": True, "requires_approval": True, "idempotent": False},
    "GET_DEPLOYMENT_STATUS": {"read_only": True},
    "GET_DEPLOYMENT_LOGS": {"read_only": True},
    "CLOSE_DEPLOYMENT": {"destructive": True, "read_only": False},
    "LIST_BIDS": {"read_only": True},
    "ESTIMATE_COST": {"read_only": True, "spends_money": False},
    "DISCOVER_SERVICE": {"read_only": True},
}


def test_actions_json_lists_the_deployment_actions_with_annotations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["actions", "--json"]) == 0
    schemas = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    for name, expected in EXPECTED.items():
        assert name in schemas
        for key, value in expected.items():
            assert schemas[name]["annotations"][key] is value, (name, key)
        jsonschema.Draft202012Validator.check_schema(schemas[name]["input_schema"])
    deploy_input = schemas["DEPLOY_TO_AKASH"]["input_schema"]
    assert {"name", "image", "infra_spec", "sdl", "network", "redundancy", "budget"} <= set(
        deploy_input["properties"]
    )


async def test_the_deployment_actions_drive_a_deployment_through_the_runtime(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    before = sandbox.all_dseqs()
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        estimate = await runtime.execute_action("ESTIMATE_COST", {"request": web_request("est")})
        assert estimate["basis"] == "maximum"
        assert estimate["cost"]["usd_per_month"] > 0
        assert sandbox.all_dseqs() == before  # estimating spends nothing

        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("acted"))
        dseq = int(result["dseq"])
        assert dseq in sandbox.active_dseqs()
        ref = {"dseq": dseq}
        status = await runtime.execute_action("GET_DEPLOYMENT_STATUS", ref)
        assert status["state"] == "active"
        assert status["endpoints"] == result["endpoints"]
        bids = await runtime.execute_action("LIST_BIDS", ref)
        assert any(
            bid["provider"] == result["leases"][0]["provider"]
            for group in bids["groups"]
            for bid in group["bids"]
        )
        logs = await runtime.execute_action("GET_DEPLOYMENT_LOGS", {**ref, "tail": 5})
        assert logs["lines"]
        closed = await runtime.execute_action("CLOSE_DEPLOYMENT", ref)
        assert closed == {"dseq": str(dseq), "closed": True}
    assert dseq not in sandbox.active_dseqs()


async def test_an_embedded_runtime_deploys_on_the_in_process_sandbox(
    clean_environ: Path,
) -> None:
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            first = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("one"))
            second = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("two"))
            found = await runtime.execute_action("DISCOVER_SERVICE", {"name": "two"})
    assert [e["url"] for e in found["endpoints"]] == second["endpoints"]
    assert all(e["healthy"] for e in found["endpoints"])  # the in-process ingress answered
    # Both tasks saw the same shared sandbox: distinct deployments of one owner.
    assert first["owner"] == second["owner"]
    assert first["dseq"] != second["dseq"]
    assert (clean_environ / "sandbox" / "world.json").exists()
