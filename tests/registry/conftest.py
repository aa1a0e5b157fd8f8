"""Fixtures of the registry tests: keys, facts, a provider in a temporary home, a real Anvil node
and real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from minds371_registry import (
    BlockchainRegistryProvider,
    DeploymentFacts,
    HealthChecker,
    LocalContentStore,
    LocalLedger,
    RecordSigner,
)

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
FIXTURES = REPO / "tests" / "fixtures" / "registry"
OWNER = "akash1" + "q" * 38
PROVIDER_ADDRESS = "akash1" + "p" * 38


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stored_blocks(store: LocalContentStore) -> dict[str, bytes]:
    """Every object in the store's database, read straight from the file."""
    with closing(sqlite3.connect(store.database)) as conn:
        return {cid: bytes(data) for cid, data in conn.execute("SELECT cid, data FROM blocks")}


def overwrite_block(store: LocalContentStore, cid: str, data: bytes) -> None:
    """Change the bytes stored under ``cid`` on disk, as someone with access to the file could."""
    with closing(sqlite3.connect(store.database)) as conn, conn:
        changed = conn.execute("UPDATE blocks SET data = ? WHERE cid = ?", (data, cid)).rowcount
    assert changed == 1, f"{cid} is not in {store.database}"


def make_facts(name: str = "web", **overrides: Any) -> DeploymentFacts:
    fields: dict[str, Any] = {
        "name": name,
        "owner": OWNER,
        "dseq": 1234,
        "network": "sandbox",
        "providers": (PROVIDER_ADDRESS,),
        "endpoints": ("http://127.0.0.1:9/",),
        "manifest_hash": "ab" * 32,
    }
    fields.update(overrides)
    return DeploymentFacts(**fields)


@pytest.fixture
def signer() -> RecordSigner:
    return RecordSigner.generate()


@pytest.fixture
async def registry(
    clean_environ: Path, signer: RecordSigner
) -> AsyncIterator[BlockchainRegistryProvider]:
    """The embedded stack (SQLite ledger, local content) in this test's home."""
    provider = BlockchainRegistryProvider(
        ledger=LocalLedger(clean_environ / "registry" / "ledger.sqlite3"),
        content=LocalContentStore(clean_environ / "registry" / "content"),
        signer=signer,
        health=HealthChecker(timeout=1.0, cache_ttl=0, allow_private=True),
    )
    async with provider:
        yield provider


# -- real HTTP endpoints --------------------------------------------------------------------------


_SERVERS: dict[str, ThreadingHTTPServer] = {}


def hits(url: str) -> int:
    """How many requests the test server behind ``url`` has answered."""
    return int(_SERVERS[url].hits)  # type: ignore[attr-defined]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        status: int = self.server.status  # type: ignore[attr-defined]
        body = b"ok" if status < 400 else b"unhealthy"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_endpoint() -> Iterator[Callable[[int], str]]:
    """Start real HTTP servers on 127.0.0.1 answering a fixed status; return their URLs."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int = 200) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.status = status  # type: ignore[attr-defined]
        server.hits = 0  # type: ignore[attr-defined]
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_address[1]}/health"
        _SERVERS[url] = server
        return url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    _SERVERS.clear()


@pytest.fixture
def dead_endpoint() -> Iterator[str]:
    """A URL on 127.0.0.1 where nothing listens.

    The port stays bound (not listening) for the whole test, so connections are refused and no
    server started later in the test can be handed the same port.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}/health"


# -- a real Anvil node -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def anvil() -> Iterator[str]:
    """A real Anvil node on a free loopback port for the whole session; yields its RPC URL."""
    if not ANVIL.exists():
        pytest.skip(f"Anvil is not installed at {ANVIL} (run `npm install` at the repository root)")
    port = free_port()
    process = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("Anvil did not start") from None
            time.sleep(0.02)
    yield url
    process.terminate()
    process.wait(timeout=10)


async def fund(rpc_url: str, address: str) -> None:
    """Give ``address`` 100 ETH on Anvil (``anvil_setBalance``)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            rpc_url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "anvil_setBalance",
                "params": [address, hex(100 * 10**18)],
            },
        )
        assert "error" not in response.json()
