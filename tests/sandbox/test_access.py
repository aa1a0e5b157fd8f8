"""Who may talk to a served sandbox: its admin token, the Host, JSON writes, known API keys.

Real parts: ``minds371 sandbox serve`` on 127.0.0.1, one process for the module (and one more
where the token file is the point), called over HTTP.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from minds371_sandbox import SandboxNetwork
from minds371_sandbox._cli import _warn_if_exposed


@dataclass
class Served:
    base_url: str
    admin_token: str

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.base_url}/sandbox/info").json()
        return result

    def add_api_key(self) -> str:
        r = httpx.post(
            f"{self.base_url}/sandbox/api-keys",
            json={},
            headers={"authorization": f"Bearer {self.admin_token}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    token = secrets.token_urlsafe(32)
    process = subprocess.Popen(
        [*SERVE, "--block-time", "60", "--api-key", "given-at-start"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "MINDS371_SANDBOX_ADMIN_TOKEN": token},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield Served(url, token)
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


SERVE = [sys.executable, "-m", "minds371.cli", "sandbox", "serve", "--port", "0"]
ADMIN_CALLS = [
    ("GET", "/sandbox/deployments", None),
    ("GET", "/sandbox/faults", None),
    ("PUT", "/sandbox/faults", {"error_rate": 1.0}),
    ("POST", "/sandbox/advance", {"blocks": 5}),
    ("GET", "/sandbox/accounts/akash1xyz", None),
    ("PUT", "/sandbox/accounts/akash1xyz", {"balance": "1"}),
    ("POST", "/sandbox/leases/close", {"owner": "akash1xyz", "dseq": 1}),
    ("POST", "/sandbox/providers/akash1xyz/offline", {}),
    ("POST", "/sandbox/api-keys", {"key": "mine"}),
]


async def test_admin_routes_need_the_servers_token(server: Served) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as anonymous:
        height = server.info()["height"]
        for method, path, body in ADMIN_CALLS:
            for headers in ({}, {"authorization": "Bearer not-the-token"}):
                r = await anonymous.request(method, path, json=body, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.text)
        # Nothing happened: no blocks, no faults, no key.
        assert server.info()["height"] == height
        assert server.info()["faults"]["error_rate"] == 0
        r = await anonymous.get("/v1/deployments", headers={"x-api-key": "mine"})
        assert r.status_code == 401
        # The open routes stay open; the token opens the rest.
        assert (await anonymous.get("/sandbox/info")).status_code == 200
        token = {"authorization": f"Bearer {server.admin_token}"}
        r = await anonymous.post("/sandbox/advance", json={"blocks": 2}, headers=token)
        assert r.status_code == 200 and r.json()["height"] >= height + 2


async def test_admin_writes_must_be_json_and_same_origin(server: Served) -> None:
    token = {"authorization": f"Bearer {server.admin_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        height = server.info()["height"]
        # What a cross-site form or fetch() without preflight can send.
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {**token, **({"content-type": content_type} if content_type else {})}
            r = await client.post("/sandbox/advance", content=b'{"blocks": 9}', headers=headers)
            assert r.status_code == 415, (content_type, r.text)
        evil = {**token, "origin": "https://evil.example"}
        r = await client.post("/sandbox/advance", json={"blocks": 9}, headers=evil)
        assert r.status_code == 403
        r = await client.get("/sandbox/deployments", headers=evil)
        assert r.status_code == 403
        assert server.info()["height"] == height


async def test_a_host_the_sandbox_does_not_answer_to_is_refused(server: Served) -> None:
    # DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1.
    port = server.base_url.rsplit(":", 1)[1]
    token = {"authorization": f"Bearer {server.admin_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        for host in (f"evil.example:{port}", "evil.example", "127.0.0.1.evil.example", ""):
            for path in ("/sandbox/deployments", "/v1/providers", "/sandbox/info"):
                r = await client.get(path, headers={**token, "host": host})
                assert r.status_code in (400, 421), (host, path, r.status_code)
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "app.localhost"):
            r = await client.get("/sandbox/deployments", headers={**token, "host": host})
            assert r.status_code == 200, host


async def test_only_api_keys_the_sandbox_knows_are_accepted(server: Served) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        for key in ("sandbox-local-key", "given-at-start"):
            r = await client.get("/v1/deployments", headers={"x-api-key": key})
            assert r.status_code == 200, key
        r = await client.get("/v1/deployments", headers={"x-api-key": "made-up"})
        assert r.status_code == 401 and r.json()["message"] == "Invalid API key"
        r = await client.get("/sandbox/whoami", headers={"x-api-key": "made-up"})
        assert r.status_code == 401
        issued = server.add_api_key()
        r = await client.get("/v1/deployments", headers={"x-api-key": issued})
        assert r.status_code == 200
        assert issued != "made-up" and len(issued) > 20


def test_serve_writes_a_private_token_file_and_uses_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    env = {k: v for k, v in os.environ.items() if k != "MINDS371_SANDBOX_ADMIN_TOKEN"}
    env["MINDS371_HOME"] = str(home)
    process = subprocess.Popen(
        SERVE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        token_file = home / "sandbox" / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
        token = token_file.read_text().strip()
        r = httpx.get(f"{url}/sandbox/faults", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert httpx.get(f"{url}/sandbox/faults").status_code == 401
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert token not in err  # the path is printed, the token is not
    assert "WARNING" not in err  # loopback: no warning


def test_binding_beyond_loopback_warns_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    # The warning's decision, without exposing a socket to the network in a test.
    _warn_if_exposed("127.0.0.1", "127.0.0.1")
    _warn_if_exposed("::1", "::1")
    assert capsys.readouterr().err == ""
    _warn_if_exposed("0.0.0.0", "0.0.0.0")
    assert "WARNING" in capsys.readouterr().err


async def test_sandbox_views_hide_env_values_and_registry_passwords() -> None:
    sdl = """version: "2.0"
services:
  web:
    image: registry.example.com/team/web:1.0
    credentials:
      host: registry.example.com
      username: deployer
      password: reg-pass-4f8a1c9e
    env:
      - DB_PASSWORD=env-secret-7b2d9e
    expose:
      - port: 80
        to: [{global: true}]
profiles:
  compute:
    web: {resources: {cpu: {units: 0.5}, memory: {size: 512Mi}, storage: {size: 1Gi}}}
  placement:
    dc: {pricing: {web: {denom: uact, amount: 1000}}}
deployment:
  web: {dc: {profile: web, count: 1}}
"""
    async with SandboxNetwork(manual_clock=True) as net:
        client = net.client("k")
        r = await client.post("/v1/deployments", json={"data": {"sdl": sdl, "deposit": 0.5}})
        assert r.status_code == 201, r.text
        async with net.admin_client() as admin:
            r = await admin.get("/sandbox/deployments")
        assert r.status_code == 200
        text = r.text
        assert "reg-pass-4f8a1c9e" not in text and "env-secret-7b2d9e" not in text
        assert "DB_PASSWORD=***" in text.replace("\\", "")
        assert "env-secret-7b2d9e" not in repr(net.snapshot())
