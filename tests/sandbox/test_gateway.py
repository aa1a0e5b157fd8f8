from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError

from minds371_sandbox import SandboxNetwork, WorldConfig
from tests.sandbox.helpers import (
    create,
    lease_cheapest,
    read_until_closed,
    wait_ready,
    ws_connect,
)
from tests.sandbox.specs import sdl

BLOCK = 0.02


async def deployed(
    net: SandboxNetwork, client: httpx.AsyncClient, text: str | None = None
) -> tuple[str, str, str]:
    dseq, manifest = await create(client, text)
    r = await lease_cheapest(client, dseq, manifest)
    assert r.status_code == 200, r.text
    provider = r.json()["data"]["leases"][0]["id"]["provider"]
    return dseq, manifest, provider


async def token(
    client: httpx.AsyncClient, leases: dict[str, Any] | None = None, ttl: int = 60
) -> str:
    r = await client.post(
        "/v1/create-jwt-token", json={"data": {"ttl": ttl, "leases": leases or {"access": "full"}}}
    )
    assert r.status_code == 201, r.text
    value: str = r.json()["data"]["token"]
    return value


def host_uri(net: SandboxNetwork, provider: str) -> str:
    return f"/gateway/{provider}"


async def test_lease_status_needs_a_jwt_of_the_owner() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, _, provider = await deployed(net, client)
        await wait_ready(client, dseq)
        url = f"{host_uri(net, provider)}/lease/{dseq}/1/1/status"
        r = await client.get(url)
        assert (r.status_code, r.json()) == (401, {"message": "unauthorized access"})
        r = await client.get(url, headers={"authorization": "Basic abc"})
        assert (r.status_code, r.json()) == (400, {"message": "invalid authorization header"})
        r = await client.get(url, headers={"authorization": "Bearer not.a.jwt"})
        assert (r.status_code, r.json()) == (401, {"message": "JWT is invalid"})
        jwt = await token(client)
        r = await client.get(url, headers={"authorization": f"Bearer {jwt}"})
        assert r.status_code == 200
        web = r.json()["services"]["web"]
        assert (web["available"], web["total"], web["ready_replicas"]) == (1, 1, 1)
        other = await token(net.client("someone-else"))
        r = await client.get(url, headers={"authorization": f"Bearer {other}"})
        assert r.status_code == 404  # not this issuer's lease
        scoped = await token(client, {"access": "scoped", "scope": ["logs"]})
        r = await client.get(url, headers={"authorization": f"Bearer {scoped}"})
        assert r.status_code == 401
        r = await client.get(
            f"{url[: -len('/status')]}/service/web/status",
            headers={"authorization": f"Bearer {jwt}"},
        )
        assert r.json()["name"] == "web"
        r = await client.get(
            f"{url[: -len('/status')]}/manifest", headers={"authorization": f"Bearer {jwt}"}
        )
        assert r.json()[0]["services"][0]["image"] == "nginx:1.27"


async def test_public_routes_and_unknown_provider() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client(api_key=None)
        falcon = net.provider("falcon").address
        r = await client.get(f"/gateway/{falcon}/status")
        assert r.json()["address"] == falcon and r.json()["cluster_public_hostname"].startswith(
            "falcon."
        )
        assert (await client.get(f"/gateway/{falcon}/address")).json() == {"address": falcon}
        assert "akash" in (await client.get(f"/gateway/{falcon}/version")).json()
        assert (await client.get("/gateway/akash1nobody/status")).status_code == 404


async def test_manifest_put_404_before_the_provider_sees_the_lease_then_422_then_200() -> None:
    async with SandboxNetwork(manual_clock=True) as net:  # manual clock: every block is explicit
        client = net.client("k")
        dseq, manifest = await create(client)
        await net.advance(1)
        falcon = net.provider("falcon").address
        net.world.create_lease(net.owner("k"), int(dseq), 1, 1, falcon)
        jwt = await token(client)
        url = f"/gateway/{falcon}/deployment/{dseq}/manifest"
        auth = {"authorization": f"Bearer {jwt}"}
        r = await client.put(url, content=manifest, headers=auth)
        assert (r.status_code, r.text) == (404, "no lease for deployment")
        await net.advance(1)
        r = await client.put(
            url, content=manifest.replace("nginx:1.27", "nginx:1.26"), headers=auth
        )
        assert (r.status_code, r.text) == (422, "manifest version validation failed")
        r = await client.put(url, content="{]", headers=auth)
        assert r.status_code == 422
        # A different but Go-equivalent encoding (spaces, a key Go's decoder drops) hashes the same.
        decoded = json.loads(manifest)
        decoded[0]["services"][0]["unknownField"] = True
        r = await client.put(url, content=json.dumps(decoded, indent=2), headers=auth)
        assert (r.status_code, r.text) == (200, "")
        decoded[0]["services"][0]["count"] = "1"  # a string where Go wants a number: refused
        r = await client.put(url, content=json.dumps(decoded), headers=auth)
        assert r.status_code == 422 and r.text.startswith("invalid manifest")
        status = await client.get(f"/gateway/{falcon}/lease/{dseq}/1/1/status", headers=auth)
        assert status.json()["services"]["web"]["available"] == 0
        await net.advance(net.world.config.pull_blocks)
        status = await client.get(f"/gateway/{falcon}/lease/{dseq}/1/1/status", headers=auth)
        assert status.json()["services"]["web"]["available"] == 1


async def test_a_manifest_go_refuses_is_422_before_its_version_is_compared() -> None:
    # provider:manifest/manager.go validateRequest: Manifest.Validate, then the version.
    async with SandboxNetwork(manual_clock=True) as net:
        client = net.client("k")
        dseq, manifest = await create(client)
        await net.advance(1)
        falcon = net.provider("falcon").address
        net.world.create_lease(net.owner("k"), int(dseq), 1, 1, falcon)
        await net.advance(1)
        url = f"/gateway/{falcon}/deployment/{dseq}/manifest"
        auth = {"authorization": f"Bearer {await token(client)}"}
        internal_only = json.loads(manifest)
        for service in internal_only[0]["services"]:
            for expose in service["expose"]:
                expose["global"] = False
        r = await client.put(url, content=json.dumps(internal_only), headers=auth)
        assert (r.status_code, r.text) == (422, "invalid manifest: zero global services")
        r = await client.put(url, content=manifest, headers=auth)
        assert (r.status_code, r.text) == (200, "")


async def test_logs_and_events_over_websocket() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net, net.client("k") as client:
        dseq, _, provider = await deployed(net, client)
        await wait_ready(client, dseq)
        jwt = await token(client)
        auth = {"authorization": f"Bearer {jwt}"}
        base = f"{net.base_url}/gateway/{provider}/lease/{dseq}/1/1"
        async with ws_connect(f"{base}/kubeevents", client, headers=auth) as ws:
            frames, code, _ = await read_until_closed(ws)
        assert code == 1000
        assert [f["reason"] for f in frames] == [
            "Scheduled",
            "Pulling",
            "Pulled",
            "Created",
            "Started",
        ]
        # No access-log lines for now: the log is exactly the start lines.
        net.world.config = net.world.config.model_copy(update={"log_every_blocks": 10_000})
        async with ws_connect(f"{base}/logs", client, headers=auth) as ws:
            frames, code, _ = await read_until_closed(ws)
        assert code == 1000 and all(f["name"].startswith("web-") for f in frames)
        assert any("listening on 0.0.0.0:80" in f["message"] for f in frames)
        async with ws_connect(f"{base}/logs?tail=1", client, headers=auth) as ws:
            tail, _, _ = await read_until_closed(ws)
        assert tail == frames[-1:]
        net.world.config = net.world.config.model_copy(update={"log_every_blocks": 1})
        async with ws_connect(f"{base}/logs?follow=true&tail=0", client, headers=auth) as ws:
            with anyio.fail_after(3):
                frame = json.loads(await ws.receive_text())
            assert "GET / HTTP/1.1" in frame["message"]


async def test_websocket_denials_and_close_codes() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net, net.client("k") as client:
        dseq, _, provider = await deployed(net, client, sdl(image="nginx:nonexistent"))
        jwt = await token(client)
        auth = {"authorization": f"Bearer {jwt}"}
        base = f"{net.base_url}/gateway/{provider}/lease/{dseq}/1/1"
        with pytest.raises(WebSocketUpgradeError) as denied:
            async with ws_connect(f"{base}/logs", client):
                pass
        assert denied.value.response.status_code == 401
        await net.wait_blocks(net.world.config.pull_blocks + 1)
        async with ws_connect(f"{base}/logs", client, headers=auth) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_text()
            assert (closed.value.code, closed.value.reason) == (4000, "no running pods")
        async with ws_connect(f"{base}/kubeevents", client, headers=auth) as ws:
            frames, _, _ = await read_until_closed(ws)
        notes = [f["note"] for f in frames]
        assert "Error: ErrImagePull" in notes and "Error: ImagePullBackOff" in notes
        other = f"{net.base_url}/gateway/{provider}/lease/{int(dseq) + 1}/1/1/logs"
        async with ws_connect(other, client, headers=auth) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_text()
            assert closed.value.code == 4001
        net.set_provider_online(provider, False)
        with pytest.raises(WebSocketUpgradeError) as denied:
            async with ws_connect(f"{base}/logs", client, headers=auth):
                pass
        assert denied.value.response.status_code == 503


async def test_offline_provider_and_gateway_faults() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, _, provider = await deployed(net, client)
        await wait_ready(client, dseq)
        jwt = await token(client)
        url = f"/gateway/{provider}/lease/{dseq}/1/1/status"
        net.set_provider_online(provider, False)
        r = await client.get(url, headers={"authorization": f"Bearer {jwt}"})
        assert r.status_code == 503
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert data["leases"][0]["state"] == "active" and data["leases"][0]["status"] is None
        provider_view = (await client.get(f"/v1/providers/{provider}")).json()
        assert provider_view["isOnline"] is False
        net.set_provider_online(provider, True)
        net.set_faults(gateway_error_rate=1.0)
        r = await client.get(url, headers={"authorization": f"Bearer {jwt}"})
        assert (r.status_code, r.text) == (500, "internal server error")
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        assert data["leases"][0]["status"] is None  # Console could not ask the provider


async def test_provider_closing_the_lease_shows_in_console() -> None:
    async with SandboxNetwork(block_time=BLOCK) as net:
        client = net.client("k")
        dseq, _, provider = await deployed(net, client)
        net.close_lease(net.owner("k"), int(dseq))
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        lease = data["leases"][0]
        assert (lease["state"], lease["reason"], lease["status"]) == (
            "closed",
            "lease_closed_reason_unstable",
            None,
        )
        assert data["deployment"]["state"] == "active"
        await net.wait_blocks(3)
        bids = (await client.get(f"/v1/bids/{dseq}")).json()["data"]
        assert any(b["bid"]["id"]["oseq"] == 2 and b["bid"]["state"] == "open" for b in bids)
        assert all(
            b["bid"]["id"]["provider"] != provider for b in bids if b["bid"]["id"]["oseq"] == 2
        )


async def test_ingress_answers_for_lease_uris_by_host_header() -> None:
    # A long pull (1 s) so that "still pulling" is certain when first probed.
    async with SandboxNetwork(config=WorldConfig(block_time=BLOCK, pull_blocks=50)) as net:
        client = net.client("k")
        text = sdl(services=("web", "bad")).replace(
            "  bad:\n    image: nginx:1.27", "  bad:\n    image: nginx:crashloop"
        )
        dseq, _, _ = await deployed(net, client, text)
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        uris = {k: v["uris"][0] for k, v in data["leases"][0]["status"]["services"].items()}
        r = await client.get("/", headers={"host": uris["web"]})
        assert (r.status_code, r.text) == (503, "no healthy upstream")  # still pulling
        await net.wait_blocks(net.world.config.pull_blocks + 1)
        r = await client.get("/", headers={"host": uris["web"]})
        assert r.status_code == 200 and "<h1>web</h1>" in r.text
        r = await client.get("/", headers={"host": uris["bad"]})
        assert r.status_code == 503
        net.set_provider_online(data["leases"][0]["id"]["provider"], False)
        r = await client.get("/", headers={"host": uris["web"]})
        assert r.status_code == 502
        r = await client.get("/v1/deployments", headers={"host": "unknown.example"})
        assert r.status_code == 421  # neither a lease URI nor a host the API answers to
        r = await client.get("/v1/deployments", headers={"host": "localhost:8080"})
        assert r.status_code == 200  # not a lease URI: the API answers


def _served_count(response: httpx.Response) -> int:
    (line,) = [x for x in response.text.splitlines() if x.startswith("http_requests_total{")]
    return int(line.rsplit(" ", 1)[1])


async def test_the_pretend_workload_serves_its_request_count_at_metrics() -> None:
    async with SandboxNetwork(config=WorldConfig(block_time=BLOCK, pull_blocks=50)) as net:
        client = net.client("k")
        dseq, _, provider = await deployed(net, client, sdl(services=("web", "api")))
        data = (await client.get(f"/v1/deployments/{dseq}")).json()["data"]
        uris = {k: v["uris"][0] for k, v in data["leases"][0]["status"]["services"].items()}
        r = await client.get("/", headers={"host": uris["web"]})
        assert r.status_code == 503  # still pulling: never reached a pod, not counted
        assert (await client.get("/metrics", headers={"host": uris["web"]})).status_code == 503
        await net.wait_blocks(net.world.config.pull_blocks + 1)
        r = await client.get("/metrics", headers={"host": uris["web"]})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert "# TYPE http_requests_total counter" in r.text
        assert _served_count(r) == 0
        for path in ("/", "/page", "/"):
            assert (await client.get(path, headers={"host": uris["web"]})).status_code == 200
        # Scrapes are not requests served: the count reads the same however often it is read.
        for _ in range(2):
            r = await client.get("/metrics", headers={"host": uris["web"]})
            assert _served_count(r) == 3
        api = await client.get("/metrics", headers={"host": uris["api"]})
        assert _served_count(api) == 0  # each service counts its own
        net.set_provider_online(provider, False)
        assert (await client.get("/", headers={"host": uris["web"]})).status_code == 502
        net.set_provider_online(provider, True)
        assert _served_count(await client.get("/metrics", headers={"host": uris["web"]})) == 3
        # An accepted manifest restarts the pods, and their count with them.
        update = sdl(services=("web", "api"), image="nginx:1.28")
        r = await client.put(f"/v1/deployments/{dseq}", json={"data": {"sdl": update}})
        assert r.status_code == 200, r.text
        data = await wait_ready(client, dseq)
        uris = {k: v["uris"][0] for k, v in data["leases"][0]["status"]["services"].items()}
        assert _served_count(await client.get("/metrics", headers={"host": uris["web"]})) == 0
