"""The backend chooser: ``sandbox`` (the default), ``console`` or ``cli``.

* ``sandbox``: the in-process sandbox marketplace (its world kept in ``state_file`` when given,
  so separate commands see the same deployments), or a served one at ``MINDS371_SANDBOX_URL``;
  reached through the very same :class:`~minds371_akash.market.ConsoleBackend` as the real API.
* ``console``: the Console API at ``MINDS371_CONSOLE_URL`` (default
  ``https://console-api.akash.network``) with ``MINDS371_CONSOLE_API_KEY`` (never logged).
* ``cli``: the ``akash`` and ``provider-services`` binaries (see
  :class:`~minds371_akash.market.cli.CliConfig`).

Usage::

    async with open_backend("sandbox") as backend:
        async with AkashIntegrationProvider(backend) as akash:
            await akash.deploy(sdl)

The environment is read here, at the edge, and only for what the caller did not pass.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
from pydantic import SecretStr

from minds371.errors import FieldIssue, ValidationError, sole_exception
from minds371.logging import register_secret
from minds371_akash._in_process_transport import InProcessTransport
from minds371_akash.market import ConsoleBackend, MarketBackend, RetryPolicy
from minds371_sandbox import SandboxNetwork

__all__ = [
    "NETWORKS",
    "Network",
    "in_process_client",
    "open_backend",
    "open_sandbox_ingress",
    "sandbox_block_time",
]

Network = Literal["sandbox", "console", "cli"]
NETWORKS: tuple[Network, ...] = ("sandbox", "console", "cli")
SANDBOX_API_KEY = "sandbox-local-key"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


async def sandbox_block_time(client: httpx.AsyncClient, base_url: str) -> float | None:
    """The block time a served sandbox reports (``GET /sandbox/info``), if it answers."""
    try:
        response = await client.get(f"{base_url.rstrip('/')}/sandbox/info")
        config = response.json().get("config", {}) if response.status_code == 200 else {}
        value = config.get("block_time")
        return float(value) if value else None
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return None


@asynccontextmanager
async def in_process_client(
    net: SandboxNetwork, *, request_timeout: float = 30.0
) -> AsyncIterator[httpx.AsyncClient]:
    """A client into an in-process sandbox that speaks HTTP **and** WebSocket (for logs/events).

    ``httpx.ASGITransport`` has no WebSocket support; :class:`InProcessTransport` does, and runs a
    task group, so the client is a context manager entered and left by one task. Leaving it while
    cancelled is safe (see that class).
    """
    transport = InProcessTransport(app=net.app)
    async with httpx.AsyncClient(
        transport=transport, base_url=net.base_url, timeout=request_timeout
    ) as client:
        yield client


@asynccontextmanager
async def open_sandbox_ingress(
    state_file: Path, *, request_timeout: float = 30.0
) -> AsyncIterator[tuple[str, httpx.AsyncClient] | None]:
    """The in-process sandbox's ingress, for probing its endpoints: ``(base_url, client)``.

    Its providers' hosts (``*.sandbox.test``) resolve nowhere; the sandbox answers for them when
    asked with their ``Host`` header, as a provider's ingress would. None when no world was saved
    at ``state_file`` (no sandbox deployment was ever made in this home).
    """
    if not await anyio.Path(state_file).exists():
        yield None
        return
    try:
        async with (
            SandboxNetwork(state_file=state_file) as net,
            in_process_client(net, request_timeout=request_timeout) as client,
        ):
            yield net.base_url, client
    except BaseExceptionGroup as group:
        raise sole_exception(group) from None


@asynccontextmanager
async def open_backend(
    network: str = "sandbox",
    *,
    api_key: SecretStr | str | None = None,
    console_url: str | None = None,
    sandbox_url: str | None = None,
    sandbox_state: Path | None = None,
    sandbox_block: float | None = None,
    cli: Any = None,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[MarketBackend]:
    """Open the backend for ``network`` and close it (and anything it started) on exit.

    Args:
        network: ``sandbox``, ``console`` or ``cli``.
        api_key: Console API key (default ``MINDS371_CONSOLE_API_KEY``; the sandbox accepts any).
        console_url: Console API root (default ``MINDS371_CONSOLE_URL``, then production).
        sandbox_url: A served sandbox (default ``MINDS371_SANDBOX_URL``; else in-process).
        sandbox_state: State file of the in-process sandbox (its world survives restarts).
        sandbox_block: Block time of the in-process sandbox (default: the sandbox's own).
        cli: Binaries, key name and node for ``cli``.
        retry: Retry policy for the HTTP backends.

    Raises:
        ValidationError: unknown network.
        ConfigurationError: missing API key or binaries.
    """
    if network not in NETWORKS:
        raise ValidationError(
            [FieldIssue("/network", f"unknown network {network!r}; use one of {list(NETWORKS)}")],
            subject="network",
        )
    if network == "console":
        key = api_key or _env("MINDS371_CONSOLE_API_KEY")
        if isinstance(key, str):
            register_secret(key)
        async with ConsoleBackend(
            console_url or _env("MINDS371_CONSOLE_URL"), api_key=key, retry=retry
        ) as backend:
            yield backend
        return
    if network == "cli":
        from minds371_akash.market.cli import CliBackend, CliConfig

        async with CliBackend(cli or CliConfig.from_env()) as cli_backend:
            yield cli_backend
        return
    key = api_key or SANDBOX_API_KEY
    url = sandbox_url or _env("MINDS371_SANDBOX_URL")
    if url:
        async with httpx.AsyncClient(timeout=30.0) as probe:
            block = await sandbox_block_time(probe, url)
        # The backend owns its client, so that it gets the pooled transport Console gets.
        async with ConsoleBackend(url, api_key=key, retry=retry, block_time=block) as backend:
            backend.name = "sandbox"
            yield backend
        return
    try:
        async with SandboxNetwork(state_file=sandbox_state, block_time=sandbox_block) as net:
            secret = key.get_secret_value() if isinstance(key, SecretStr) else key
            block = net.world.config.block_time
            async with (
                in_process_client(net) as client,
                ConsoleBackend(
                    api_key=secret, http_client=client, retry=retry, block_time=block
                ) as backend,
            ):
                backend.name = "sandbox"
                yield backend
    except BaseExceptionGroup as group:
        # The sandbox's clock and the WebSocket transport run task groups, which wrap whatever
        # the caller raised; hand the caller back its own exception.
        raise sole_exception(group) from None
