"""Provider-gateway access for Console users: a provider JWT from Console, then WebSockets.

Console issues the JWT (``POST /v1/create-jwt-token``, scoped to status, logs and events); the
provider's ``hostUri`` comes from ``GET /v1/providers/{address}``; logs and Kubernetes events are
WebSocket routes on that gateway (:mod:`minds371_akash.market._gateway`). Gateways served under
the API's own origin (the sandbox) are reached through the client the caller gave the backend
(an in-process sandbox's transport), or through a plain httpx client to that origin; others
through a client that accepts the providers' self-signed certificates (their identity is on
chain, not in a public CA).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import anyio
import httpx

from minds371.config import require_network
from minds371.logging import register_secret
from minds371_akash.market._errors import NotFound
from minds371_akash.market._gateway import lease_path, stream_frames, ws_query
from minds371_akash.market._models import KubeEvent, LeaseId, LogLine, Provider
from minds371_akash.market._parse import guarded, parse_kube_event, parse_log_line

__all__ = ["ConsoleGatewayAccess"]

_JWT_TTL = 1800
_JWT_SCOPES = ["status", "logs", "events"]


class ConsoleGatewayAccess:
    """Logs and events of a lease through its provider's gateway (mixed into the backend)."""

    _base_url: str
    _client: httpx.AsyncClient
    _gateway_client: httpx.AsyncClient | None
    _origin_client: httpx.AsyncClient | None
    _own_client: bool
    _timeout: float
    _token: tuple[str, float] | None
    _token_lock: anyio.Lock | None

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def _data(doc: Any, what: str) -> Any:
        raise NotImplementedError

    async def get_provider(self, address: str) -> Provider:
        """One provider by address (implemented by the backend)."""
        raise NotImplementedError

    async def _jwt(self) -> str:
        if self._token_lock is None:
            self._token_lock = anyio.Lock()
        async with self._token_lock:
            if self._token is not None and self._token[1] > time.monotonic() + 60:
                return self._token[0]
            body = {"data": {"ttl": _JWT_TTL, "leases": {"access": "scoped", "scope": _JWT_SCOPES}}}
            doc = await self._call("POST", "/v1/create-jwt-token", body=body)
            token = str(guarded("JWT", lambda d: d["token"], self._data(doc, "create-jwt-token")))
            register_secret(token)
            self._token = (token, time.monotonic() + _JWT_TTL)
            return token

    def _gateway_for(self, host_uri: str) -> httpx.AsyncClient:
        # The sandbox (and a local test network) serves gateways under the API's own origin:
        # reach them through the same client (and transport) as the API.
        if host_uri.startswith((self._base_url, str(self._client.base_url) or self._base_url)):
            if not self._own_client:
                return self._client  # the caller's transport (an in-process sandbox) serves it
            # The backend's own API client speaks through aiohttp, which offers no WebSocket
            # upgrade to httpx-ws: gateway streams get a client of httpx's own.
            if self._origin_client is None:
                self._origin_client = httpx.AsyncClient(timeout=self._timeout)
            return self._origin_client
        require_network(host_uri, what="provider gateway")
        if self._gateway_client is None:
            self._gateway_client = httpx.AsyncClient(timeout=self._timeout, verify=False)
        return self._gateway_client

    async def _stream_target(self, lease: LeaseId) -> tuple[httpx.AsyncClient, str, str]:
        provider = await self.get_provider(lease.provider)
        if not provider.host_uri:
            raise NotFound(f"provider {lease.provider} has no gateway address")
        token = await self._jwt()
        return self._gateway_for(provider.host_uri), provider.host_uri, token

    async def lease_logs(
        self,
        lease: LeaseId,
        *,
        services: Sequence[str] = (),
        tail: int | None = None,
        follow: bool = False,
    ) -> AsyncGenerator[LogLine, None]:
        """Log lines of a lease's services from its provider (WebSocket ``…/logs``)."""
        client, host, token = await self._stream_target(lease)
        url = (
            lease_path(host, lease, "logs")
            + "?"
            + ws_query(follow=follow, tail=tail, services=services)
        )
        async for line in stream_frames(
            client, url, token=token, parse=parse_log_line, provider=lease.provider, what="logs"
        ):
            yield line

    async def lease_events(
        self, lease: LeaseId, *, services: Sequence[str] = (), follow: bool = False
    ) -> AsyncGenerator[KubeEvent, None]:
        """Kubernetes events of a lease from its provider (WebSocket ``…/kubeevents``)."""
        client, host, token = await self._stream_target(lease)
        url = (
            lease_path(host, lease, "kubeevents") + "?" + ws_query(follow=follow, services=services)
        )
        async for event in stream_frames(
            client, url, token=token, parse=parse_kube_event, provider=lease.provider, what="events"
        ):
            yield event
