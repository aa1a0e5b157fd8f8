"""``SandboxServer``: ``minds371 sandbox serve`` as a real subprocess on 127.0.0.1, for tests.

It starts the server with ``--port 0``, reads the bound URL from its first stdout line, and stops it
with SIGTERM on exit (SIGKILL after a grace period). Admin helpers call the ``/sandbox/...`` routes
with the server's admin token (:attr:`SandboxServer.admin_token`, made here and handed to the
server through its environment); :meth:`SandboxServer.client` makes its API key known to the
server first.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.abc
import httpx

from minds371.errors import ConfigurationError
from minds371.lifecycle import AsyncResource
from minds371_sandbox._guard import ADMIN_TOKEN_ENV

__all__ = ["SandboxServer"]

_READS = ("GET", "HEAD")


class SandboxServer(AsyncResource):
    """Run ``minds371 sandbox serve`` in a subprocess and expose its base URL.

    Args:
        block_time: Seconds per block.
        providers_file: ``--providers`` file.
        state_file: ``--state`` file.
        startup_timeout: Seconds to wait for the URL line.
        python: Interpreter to run (default: this one).
        api_keys: API keys the server accepts from the start (besides ``sandbox-local-key``).
    """

    def __init__(
        self,
        *,
        block_time: float = 0.05,
        providers_file: Path | None = None,
        state_file: Path | None = None,
        startup_timeout: float = 30.0,
        python: str = sys.executable,
        api_keys: Sequence[str] = (),
    ) -> None:
        self.block_time = block_time
        self.providers_file = providers_file
        self.state_file = state_file
        self.startup_timeout = startup_timeout
        self.python = python
        self.api_keys = list(api_keys)
        #: The bearer token of the server's admin routes.
        self.admin_token = secrets.token_urlsafe(32)
        self.base_url = ""
        self._process: anyio.abc.Process | None = None
        self._stderr: IO[bytes] | None = None
        self._clients: list[httpx.AsyncClient] = []
        self._admin: httpx.AsyncClient | None = None

    def command(self) -> list[str]:
        """The command line that starts the server."""
        cmd = [self.python, "-m", "minds371.cli", "sandbox", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", "0", "--block-time", str(self.block_time)]
        if self.providers_file is not None:
            cmd += ["--providers", str(self.providers_file)]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file)]
        for key in self.api_keys:
            cmd += ["--api-key", key]
        return cmd

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def start(self) -> str:
        """Start the server; returns its base URL.

        Raises:
            ConfigurationError: If it exits or prints no URL within ``startup_timeout``.
        """
        self._stderr = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", ADMIN_TOKEN_ENV: self.admin_token}
        self._process = await anyio.open_process(
            self.command(), stdout=subprocess.PIPE, stderr=self._stderr, env=env
        )
        assert self._process.stdout is not None
        line = b""
        with anyio.move_on_after(self.startup_timeout):
            while not line.endswith(b"\n"):
                try:
                    chunk = await self._process.stdout.receive(1)
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                line += chunk
        url = line.decode(errors="replace").strip()
        if not url.startswith("http://"):
            output = self.stderr_text()[-2000:]
            await self.aclose()
            raise ConfigurationError(f"sandbox server did not start: {output}")
        self.base_url = url
        self._admin = httpx.AsyncClient(
            base_url=url, timeout=30, headers={"authorization": f"Bearer {self.admin_token}"}
        )
        return url

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (for CPU accounting in benchmarks)."""
        return self._process.pid if self._process is not None else None

    def stderr_text(self) -> str:
        """What the server wrote on stderr so far."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def client(
        self, api_key: str | None = "sandbox", *, timeout: float = 30.0
    ) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on the server's base URL (closed on exit).

        ``api_key`` is made known to the server first (``POST /sandbox/api-keys``).
        """
        if api_key and api_key not in self.api_keys:
            # Synchronous on purpose (this method is): one loopback call to another process.
            response = httpx.post(
                f"{self.base_url}/sandbox/api-keys",
                json={"key": api_key},
                headers={"authorization": f"Bearer {self.admin_token}"},
                timeout=30,
            )
            response.raise_for_status()
            self.api_keys.append(api_key)
        headers = {"x-api-key": api_key} if api_key is not None else {}
        client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)
        self._clients.append(client)
        return client

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self._admin is not None, "server not started"
        # Always a JSON body: the server refuses admin writes of any other content type.
        response = await self._admin.request(
            method, path, json=body if body is not None or method in _READS else {}
        )
        response.raise_for_status()
        return response.json()

    async def add_api_key(self, key: str | None = None) -> str:
        """Make ``key`` an API key the server accepts (or have it issue one); return it."""
        result: dict[str, Any] = await self._call(
            "POST", "/sandbox/api-keys", {} if key is None else {"key": key}
        )
        issued = str(result["key"])
        self.api_keys.append(issued)
        return issued

    async def set_balance(self, api_key: str, uact: int) -> dict[str, Any]:
        """Set the wallet balance of ``api_key``'s account (``PUT /sandbox/accounts/{address}``).

        Returns the account as the server shows it.
        """
        assert self._admin is not None, "server not started"
        who = await self._admin.get("/sandbox/whoami", headers={"x-api-key": api_key})
        who.raise_for_status()
        address = str(who.json()["address"])
        result: dict[str, Any] = await self._call(
            "PUT", f"/sandbox/accounts/{address}", {"balance": str(uact)}
        )
        return result

    async def info(self) -> dict[str, Any]:
        """``GET /sandbox/info``."""
        result: dict[str, Any] = await self._call("GET", "/sandbox/info")
        return result

    async def snapshot(self) -> dict[str, Any]:
        """``GET /sandbox/deployments``: every deployment, closed ones too."""
        result: dict[str, Any] = await self._call("GET", "/sandbox/deployments")
        return result

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        """``PUT /sandbox/faults`` (no arguments clears them)."""
        result: dict[str, Any] = await self._call("PUT", "/sandbox/faults", faults)
        return result

    async def set_provider_online(self, provider: str, online: bool) -> None:
        """Take a provider (name or address) offline or bring it back."""
        address = provider
        for item in (await self.info())["providers"]:
            if provider in (item["name"], item["address"]):
                address = item["address"]
        await self._call(
            "POST", f"/sandbox/providers/{address}/{'online' if online else 'offline'}"
        )

    async def close_lease(
        self, owner: str, dseq: int, gseq: int = 1, oseq: int = 1, reason: str = "unstable"
    ) -> dict[str, Any]:
        """The provider closes a lease."""
        body = {"owner": owner, "dseq": dseq, "gseq": gseq, "oseq": oseq, "reason": reason}
        result: dict[str, Any] = await self._call("POST", "/sandbox/leases/close", body)
        return result

    async def advance(self, blocks: int = 1) -> int:
        """Produce blocks now."""
        result: dict[str, Any] = await self._call("POST", "/sandbox/advance", {"blocks": blocks})
        return int(result["height"])

    async def aclose(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and close the clients."""
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        if self._admin is not None:
            await self._admin.aclose()
            self._admin = None
        process, self._process = self._process, None
        if process is not None:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with anyio.move_on_after(5):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await process.aclose()
        if self._stderr is not None:
            self._stderr.close()
