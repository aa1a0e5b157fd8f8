"""``SandboxNetwork``: the sandbox marketplace in this process, with its block clock.

Use it as an async context manager: entering loads ``state_file`` and starts the (lazy) block
clock, unless it is manual; leaving stops the clock and saves the world. It runs no background
task, so it may be entered and left in different tasks. Reach it through
:meth:`SandboxNetwork.client`, an ``httpx.AsyncClient`` over an ASGI transport whose base URL
serves the Console API, the provider gateways and the admin routes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minds371.config import write_private
from minds371.errors import ConfigurationError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_sandbox._admin import admin_routes, world_snapshot
from minds371_sandbox._chain import chain_routes
from minds371_sandbox._console import console_routes
from minds371_sandbox._gateway import gateway_routes
from minds371_sandbox._guard import Access, GuardMiddleware
from minds371_sandbox._hub import Faults, Hub
from minds371_sandbox._identity import identity_for_api_key
from minds371_sandbox._ingress import IngressMiddleware
from minds371_sandbox._providers import ProviderSpec, default_providers
from minds371_sandbox._records import Lease, WorldConfig
from minds371_sandbox._world import World

__all__ = ["DEFAULT_BASE_URL", "SandboxNetwork"]

log = get_logger("minds371.sandbox")

#: The base URL of in-process clients (never resolved: requests go through ASGITransport).
DEFAULT_BASE_URL = "http://sandbox.minds371.test"
_SAVE_EVERY = 1.0  # seconds between state-file writes while the clock runs


class SandboxNetwork(AsyncResource):
    """A local Akash marketplace: chain, Console API, provider gateways, admin routes.

    Args:
        providers: The provider set (default: :func:`default_providers`).
        config: Timing and economics; ``config.block_time`` None means a manual clock.
        block_time: Shortcut overriding ``config.block_time`` (None keeps the config's).
        manual_clock: No clock at all: blocks come only from :meth:`advance` (tests that want
            every block explicit).
        faults: Faults active from the start.
        state_file: Load the world from this JSON file if it exists; save it after every
            request that may change it, while blocks pass, and on exit.
        base_url: Base URL of :meth:`client` (and so of providers' ``hostUri``).
        admin_token: The admin routes' bearer token (default: a new random one, in
            :attr:`admin_token`).
        api_keys: The ``x-api-key`` values accepted besides ``DEFAULT_API_KEY``; ``None`` (the
            in-process default) accepts any.
        allowed_hosts: Host names answered to besides loopback ones and ``base_url``'s.
    """

    def __init__(
        self,
        *,
        providers: Sequence[ProviderSpec] | None = None,
        config: WorldConfig | None = None,
        block_time: float | None = None,
        manual_clock: bool = False,
        faults: Faults | None = None,
        state_file: Path | None = None,
        base_url: str = DEFAULT_BASE_URL,
        admin_token: str | None = None,
        api_keys: Iterable[str] | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        config = config or WorldConfig()
        if block_time is not None:
            config = config.model_copy(update={"block_time": block_time})
        if manual_clock:
            config = config.model_copy(update={"block_time": None})
        self.world = World(providers or default_providers(), config)
        self.hub = Hub(self.world, faults, on_block=self._after_block)
        self._last_save = time.monotonic()
        self.state_file = state_file
        self.base_url = base_url
        own_host = urlsplit(base_url).hostname or ""
        self.access = Access.build(
            admin_token=admin_token, api_keys=api_keys, hosts=[own_host, *allowed_hosts]
        )
        # Lease URIs are answered by the pretend ingress before the Host rules apply: they are
        # the hosts a provider's ingress answers to. Every other request meets the guard.
        guarded = GuardMiddleware(Starlette(routes=self.routes()), self.access)
        self.app = _ClockMiddleware(IngressMiddleware(guarded, self.hub), self.hub, self._saved)
        self._clients: list[httpx.AsyncClient] = []

    def routes(self) -> list[BaseRoute]:
        """Every route: Console, provider gateways, chain (LCD + tx) and admin."""
        return [
            *console_routes(self.hub),
            *gateway_routes(self.hub),
            *chain_routes(self.hub),
            *admin_routes(self.hub, self.access),
        ]

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> SandboxNetwork:
        self.load()
        self.hub.start_clock()
        log.info(
            "minds371.sandbox.started",
            height=self.world.height,
            block_time=self.world.config.block_time,
        )
        return self

    async def aclose(self) -> None:
        """Stop the clock, close the clients made by :meth:`client`, save the state file."""
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        self.hub.stop_clock()
        self.save()

    def _saved(self) -> None:
        if self.state_file is not None:
            self.save()
            self._last_save = time.monotonic()

    def _after_block(self) -> None:
        # Persist about once a second while blocks are produced (and always on close).
        now = time.monotonic()
        if self.state_file is not None and now - self._last_save >= _SAVE_EVERY:
            self.save()
            self._last_save = now

    # ---- persistence ----------------------------------------------------------------------

    def load(self) -> None:
        """Load the world from ``state_file`` when it exists.

        Raises:
            ConfigurationError: If the file exists but is not a sandbox state file.
        """
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
            self.world.restore(raw["world"])
            if raw.get("faults"):
                self.hub.set_faults(Faults.model_validate(raw["faults"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot load sandbox state {self.state_file}: {exc}") from exc

    def save(self) -> None:
        """Write the world to ``state_file`` atomically and durably (no-op without one).

        Called after every request that may change the world, before its response leaves, so a
        client that heard "created" finds the deployment after a crash of this process too; and
        about once a second while blocks are produced.
        """
        if self.state_file is None:
            return
        doc = {
            "version": 1,
            "world": self.world.dump(),
            "faults": self.hub.faults.model_dump(mode="json"),
        }
        # Temporary file, fsync, rename (and the folder fsynced): a kill at any instant leaves
        # the previous world or this one. Private: workloads' env values and registry
        # credentials are in it, as they are in a provider's own state.
        write_private(self.state_file, json.dumps(doc))

    # ---- clients --------------------------------------------------------------------------

    def client(
        self, api_key: str | None = "sandbox", *, timeout: float = 30.0
    ) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` into this sandbox (closed by :meth:`aclose`).

        Plain HTTP works at once. WebSockets (provider logs and events, through ``httpx-ws``) need
        the client entered first, in the task that uses it: ``async with net.client() as c:``.

        Args:
            api_key: Sent as ``x-api-key`` (None sends none: Console routes then answer 401).
            timeout: Request timeout in seconds.
        """
        headers = {"x-api-key": api_key} if api_key is not None else {}
        client = httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app=self.app),
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
        )
        self._clients.append(client)
        return client

    @property
    def admin_token(self) -> str:
        """The bearer token of the admin routes (``Authorization: Bearer <token>``)."""
        return self.access.admin_token

    def admin_client(self, *, timeout: float = 30.0) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` for the admin routes: the token, and no API key."""
        client = httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app=self.app),
            base_url=self.base_url,
            headers={"authorization": f"Bearer {self.admin_token}"},
            timeout=timeout,
        )
        self._clients.append(client)
        return client

    @staticmethod
    def owner(api_key: str) -> str:
        """The owner address the sandbox derives from an API key."""
        return identity_for_api_key(api_key).address

    # ---- admin ----------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """The current block height (blocks due by now included)."""
        return self.hub.catch_up()

    def provider(self, name_or_address: str) -> ProviderSpec:
        """A provider by name or address.

        Raises:
            KeyError: If there is none.
        """
        for spec in self.world.providers.values():
            if name_or_address in (spec.name, spec.address):
                return spec
        raise KeyError(name_or_address)

    def set_faults(self, faults: Faults | None = None, **fields: Any) -> Faults:
        """Replace the active faults (``set_faults(error_rate=0.2)``); no arguments clears them."""
        active = faults or Faults(**fields)
        self.hub.set_faults(active)
        self._saved()
        return active

    def set_provider_online(self, provider: str, online: bool) -> None:
        """Take a provider (name or address) offline, or bring it back."""
        self.world.set_online(self.provider(provider).address, online)
        self._saved()

    def close_lease(
        self, owner: str, dseq: int, gseq: int = 1, oseq: int = 1, reason: str = "unstable"
    ) -> Lease:
        """The provider closes a lease (reason ``unstable`` by default)."""
        lease = self.world.provider_close_lease(owner, dseq, gseq, oseq, reason)
        self._saved()
        return lease

    def set_balance(self, address: str, uact: int | Decimal) -> None:
        """Set an account's balance (e.g. to provoke Console's 402)."""
        self.world.account(address).balance = Decimal(uact)
        self._saved()

    async def advance(self, blocks: int = 1) -> int:
        """Produce blocks now (the manual clock's tick; also works with a running clock)."""
        return self.hub.produce_block(blocks)

    async def wait_blocks(self, blocks: int = 1) -> int:
        """Wait until ``blocks`` more blocks have been produced."""
        await self.hub.wait_until(self.world.height + blocks)
        return self.world.height

    def snapshot(self) -> dict[str, Any]:
        """The whole world (every deployment, closed ones too), as ``GET /sandbox/deployments``."""
        self.hub.catch_up()
        return world_snapshot(self.hub)


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class _ClockMiddleware:
    """The lazy clock and the state file around every request.

    The world is brought up to date before any request looks at it, and saved after any request
    that may have changed it, before the response goes out.
    """

    def __init__(self, app: ASGIApp, hub: Hub, save: Callable[[], None]) -> None:
        self.app = app
        self.hub = hub
        self.save = save

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            self.hub.catch_up()
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return

        async def send_after_saving(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.save()
            await send(message)

        await self.app(scope, receive, send_after_saving)
