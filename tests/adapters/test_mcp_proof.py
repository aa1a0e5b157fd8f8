"""``minds371 mcp`` driven by the MCP SDK's own client, over stdio and over streamable HTTP.

Each run lists the tools with their annotations, estimates a cost, deploys on a served sandbox
receiving progress, cancels a second deployment mid-way (the sandbox shows it closed), reads
the first one as a resource and closes it; ``minds371 list --all`` then shows nothing open.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.deploy.conftest import ROOT, Sandbox

REQUEST: dict[str, Any] = {
    "network": "sandbox",
    "infra_spec": {
        "services": [
            {
                "name": "web",
                "image": "nginx:1.27",
                "cpu": 0.5,
                "memory": "512Mi",
                "ports": [{"port": 80}],
            }
        ],
        "max_price_uact": 100,
    },
    "budget": {"max_usd_per_month": 50},
}
CREATED = re.compile(r"^deployment\.created: deployment (\d+) created")


def _env(home: Path, sandbox: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINDS371_", "AKASH_"))}
    return {**env, "MINDS371_HOME": str(home), "MINDS371_SANDBOX_URL": sandbox.url}


class Confirmations:
    """The client's user: says yes to every spending confirmation, and remembers what it saw."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})


@asynccontextmanager
async def _stdio(home: Path, sandbox: Sandbox, errlog: TextIO) -> AsyncIterator[Any]:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "minds371.cli", "mcp"],
        env=_env(home, sandbox),
        cwd=ROOT,
    )
    async with stdio_client(server, errlog=errlog) as streams:
        yield streams


@asynccontextmanager
async def _http(home: Path, sandbox: Sandbox, errlog: TextIO) -> AsyncIterator[Any]:
    process = await anyio.open_process(
        [sys.executable, "-m", "minds371.cli", "mcp", "--http", "--port", "0"],
        env=_env(home, sandbox),
        cwd=ROOT,
    )
    try:
        assert process.stderr is not None
        seen = ""
        with anyio.fail_after(30):
            while "/mcp\n" not in seen:
                seen += (await process.stderr.receive()).decode()
        url = re.search(r"serving (http://127\.0\.0\.1:\d+/mcp)", seen)
        assert url, seen
        async with streamable_http_client(url[1]) as streams:
            yield streams
    finally:
        process.terminate()
        with anyio.move_on_after(15):
            await process.wait()
        errlog.write(seen)


Transport = Callable[[Path, Sandbox, TextIO], Any]


@pytest.mark.parametrize("transport", [_stdio, _http], ids=["stdio", "http"])
async def test_the_sdk_client_deploys_cancels_and_closes_through_minds371_mcp(
    transport: Transport, slow_sandbox: Sandbox, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    confirm = Confirmations()
    with (tmp_path / "server.log").open("w") as errlog:
        async with (
            transport(home, slow_sandbox, errlog) as (read, write),
            ClientSession(read, write, elicitation_callback=confirm) as session,
        ):
            await session.initialize()
            first, second = await _scenario(session, slow_sandbox, confirm)
    # The deployments as the home and the network know them, after the server has gone.
    listing = await anyio.run_process(
        [sys.executable, "-m", "minds371.cli", "list", "--all", "--json"],
        env=_env(home, slow_sandbox),
    )
    states = {row["dseq"]: row["state"] for row in json.loads(listing.stdout)}
    assert states == {str(first): "closed", str(second): "closed"}


async def _scenario(
    session: ClientSession, sandbox: Sandbox, confirm: Confirmations
) -> tuple[int, int]:
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    deploy, close, estimate = (
        tools["DEPLOY_TO_AKASH"],
        tools["CLOSE_DEPLOYMENT"],
        tools["ESTIMATE_COST"],
    )
    assert deploy.annotations is not None and close.annotations is not None
    assert estimate.annotations is not None and estimate.annotations.read_only_hint is True
    assert deploy.annotations.read_only_hint is False and deploy.annotations.open_world_hint is True
    assert close.annotations.destructive_hint is True and close.annotations.idempotent_hint is True
    assert deploy.meta == {"minds371/spends_money": True, "minds371/requires_approval": True}
    assert "spends money" in (deploy.description or "")
    assert deploy.output_schema is not None and "RegistryCredentials" not in json.dumps(
        deploy.input_schema
    )

    priced = await session.call_tool("ESTIMATE_COST", {"request": {"name": "mcp-one", **REQUEST}})
    assert not priced.is_error, priced.content
    assert priced.structured_content is not None
    assert priced.structured_content["cost"]["usd_per_month"] > 0
    assert confirm.asked == []  # reading a price costs nothing and asks nothing

    told: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        told.append(message or "")

    deployed = await session.call_tool(
        "DEPLOY_TO_AKASH", {"name": "mcp-one", **REQUEST}, progress_callback=on_progress
    )
    assert not deployed.is_error, deployed.content
    assert deployed.structured_content is not None
    first = int(deployed.structured_content["dseq"])
    assert len(confirm.asked) == 1 and "DEPLOY_TO_AKASH spends money" in confirm.asked[0]
    assert any(m.startswith("deployment.created") for m in told)
    assert any(m.startswith("deployment.ready") for m in told), told

    second = await _cancel_mid_way(session)
    with anyio.fail_after(30):
        while _state(sandbox, second) != "closed":
            await anyio.sleep(0.1)
    assert _state(sandbox, first) == "active"

    listed = [r.uri for r in (await session.list_resources()).resources]
    assert f"minds371://deployments/{first}" in listed
    assert f"minds371://deployments/{second}" not in listed
    read = await session.read_resource(f"minds371://deployments/{first}")
    content = read.contents[0]
    assert isinstance(content, types.TextResourceContents)
    resource = json.loads(content.text)
    assert resource["state"] == "active" and resource["status"]["endpoints"]
    assert resource["cost"]["usd_per_month"] > 0 and "lines" in resource["logs"]

    closed = await session.call_tool("CLOSE_DEPLOYMENT", {"dseq": first})
    assert not closed.is_error and closed.structured_content == {"dseq": str(first), "closed": True}
    assert _state(sandbox, first) == "closed"
    return first, second


async def _cancel_mid_way(session: ClientSession) -> int:
    """Start a second deployment; cancel the call once it exists on the network, not yet ready."""
    created: list[int] = []
    later: list[str] = []
    seen = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        found = CREATED.match(message or "")
        if found:
            created.append(int(found[1]))
            seen.set()
        elif created:
            later.append(message or "")

    async with anyio.create_task_group() as group:

        async def call() -> None:
            await session.call_tool(
                "DEPLOY_TO_AKASH", {"name": "mcp-two", **REQUEST}, progress_callback=on_progress
            )
            pytest.fail("the cancelled deployment finished")

        group.start_soon(call)
        with anyio.fail_after(30):
            await seen.wait()
        group.cancel_scope.cancel()
    assert not any(m.startswith("deployment.ready") for m in later)
    return created[0]


def _state(sandbox: Sandbox, dseq: int) -> str:
    return next(str(d["state"]) for d in sandbox.deployments() if int(d["dseq"]) == dseq)
