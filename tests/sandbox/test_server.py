from __future__ import annotations

import json
from pathlib import Path

import pytest

from minds371.cli import main
from minds371_sandbox import SandboxServer
from tests.sandbox.helpers import (
    create,
    lease_cheapest,
    read_until_closed,
    wait_ready,
    ws_connect,
)


async def test_served_sandbox_deploys_and_streams_logs_over_real_http() -> None:
    async with SandboxServer(block_time=0.05) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        client = server.client("k")
        dseq, manifest = await create(client)
        r = await lease_cheapest(client, dseq, manifest)
        assert r.status_code == 200, r.text
        data = await wait_ready(client, dseq)
        provider = data["leases"][0]["id"]["provider"]
        providers = (await client.get("/v1/providers")).json()
        host_uri = next(p["hostUri"] for p in providers if p["owner"] == provider)
        assert host_uri == f"{server.base_url}/gateway/{provider}"
        jwt = (
            await client.post(
                "/v1/create-jwt-token", json={"data": {"ttl": 60, "leases": {"access": "full"}}}
            )
        ).json()["data"]["token"]
        auth = {"authorization": f"Bearer {jwt}"}
        status = await client.get(f"{host_uri}/lease/{dseq}/1/1/status", headers=auth)
        assert status.json()["services"]["web"]["available"] == 1
        async with ws_connect(f"{host_uri}/lease/{dseq}/1/1/kubeevents", client, auth) as ws:
            frames, code, _ = await read_until_closed(ws)
        assert code == 1000 and frames[-1]["reason"] == "Started"
        await server.set_provider_online(provider, False)
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert data["leases"][0]["status"] is None
        snapshot = await server.snapshot()
        assert [d["dseq"] for d in snapshot["deployments"]] == [int(dseq)]


async def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    async with SandboxServer(block_time=0.05, state_file=state) as server:
        client = server.client("k")
        dseq, manifest = await create(client)
        assert (await lease_cheapest(client, dseq, manifest)).status_code == 200
        await wait_ready(client, dseq)
        height = (await server.info())["height"]
    saved = json.loads(state.read_text())
    assert saved["world"]["height"] >= height
    async with SandboxServer(block_time=0.05, state_file=state) as server:
        client = server.client("k")
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert data["deployment"]["state"] == "active"
        assert data["leases"][0]["status"]["services"]["web"]["available"] == 1
        assert (await server.info())["height"] >= height


async def test_custom_providers_file(tmp_path: Path) -> None:
    file = tmp_path / "providers.yaml"
    file.write_text(
        "- name: solo\n  region: mars-1\n  audited: true\n  pricing: {cpu_per_core: 1}\n",
        encoding="utf-8",
    )
    async with SandboxServer(block_time=0.05, providers_file=file) as server:
        providers = (await server.client(None).get("/v1/providers")).json()
        assert [(p["name"], p["ipRegion"]) for p in providers] == [("solo", "mars-1")]


def test_bad_options_exit_2_and_name_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "serve", "--port", "70000"]) == 2
    assert "/port" in capsys.readouterr().err
    bad = tmp_path / "p.yaml"
    bad.write_text("- name: x\n  region: r\n  uptime: 7\n", encoding="utf-8")
    assert main(["sandbox", "serve", "--providers", str(bad)]) == 2
    assert "/0/uptime" in capsys.readouterr().err
    assert main(["sandbox", "serve", "--providers", str(tmp_path / "missing.yaml")]) == 2
    state = tmp_path / "state.json"
    state.write_text("{not json", encoding="utf-8")
    assert main(["sandbox", "serve", "--state", str(state)]) == 2
    assert "cannot load sandbox state" in capsys.readouterr().err


async def test_set_balance_funds_the_wallet_of_an_api_key() -> None:
    async with SandboxServer(block_time=0.05) as server:
        key = await server.add_api_key()
        account = await server.set_balance(key, 123_456_789)
        assert int(float(account["balance"])) == 123_456_789
        other = await server.set_balance("sandbox-local-key", 5)
        assert other["address"] != account["address"]
