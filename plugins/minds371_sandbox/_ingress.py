"""The providers' ingress: a request for a lease's URI, sent to the sandbox with that ``Host``.

Lease URIs (``<hash>.ingress.<provider>.provider.sandbox.test`` and the SDL's ``accept`` hosts) do
not resolve, so an HTTP probe of an endpoint goes to the sandbox's own base URL with the URI as the
``Host`` header. The answer is what an ingress in front of the pretend workload would give: 200
with a small page when every replica of the service is ready, 503 "no healthy upstream" while it
is not (pulling, failed pull, crash loop), 502 when the provider is offline. Requests whose host is
not a lease URI go on to the API routes.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from minds371_sandbox._hub import Hub
from minds371_sandbox._records import Deployment, Lease
from minds371_sandbox._workloads import lease_status

__all__ = ["IngressMiddleware"]


class IngressMiddleware:
    """Route requests addressed to a lease URI (by ``Host``) to that service's pretend ingress.

    Args:
        app: The API app to call for every other request.
        hub: The sandbox core.
    """

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub
        self._key: tuple[int, int, int] = (-1, -1, -1)
        self._hosts: dict[str, tuple[Deployment, Lease, str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _host(scope)
            if host and "." in host and not _is_ip(host):
                response = self._route(host)
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _index(self) -> dict[str, tuple[Deployment, Lease, str]]:
        # Rebuilt only when a block, a deployment, a lease or a manifest changed the URIs: API
        # requests, nearly all requests, then cost a cheap key and one dict lookup.
        world = self.hub.world
        key = (
            world.height,
            len(world.deployments),
            sum(lease.generation + 1 for d in world.deployments_of() for lease in d.leases),
        )
        if key == self._key:
            return self._hosts
        hosts: dict[str, tuple[Deployment, Lease, str]] = {}
        for dep in world.deployments_of():
            if dep.state != "active":
                continue
            for lease in dep.active_leases():
                provider = world.providers.get(lease.provider)
                if provider is None or lease.manifest is None:
                    continue
                status = lease_status(dep, lease, provider, world.height, world.config)
                for name, service in (status or {}).get("services", {}).items():
                    for uri in service["uris"]:
                        hosts[uri] = (dep, lease, name)
        self._key, self._hosts = key, hosts
        return hosts

    def _route(self, host: str) -> Response | None:
        found = self._index().get(host)
        if found is None:
            return None
        dep, lease, name = found
        world = self.hub.world
        provider = world.providers[lease.provider]
        if lease.state != "active" or not world.online.get(lease.provider):
            return PlainTextResponse("502 Bad Gateway", status_code=502)
        status = lease_status(dep, lease, provider, world.height, world.config) or {}
        service = status.get("services", {}).get(name)
        if not service or not service["total"] or service["available"] < service["total"]:
            return PlainTextResponse("no healthy upstream", status_code=503)
        return HTMLResponse(
            f"<h1>{name}</h1><p>deployment {dep.dseq}, served by {provider.name} "
            "(minds371 sandbox)</p>"
        )


def _host(scope: Scope) -> str:
    headers: Any = scope.get("headers") or []
    for key, value in headers:
        if key == b"host":
            text: str = value.decode("latin-1")
            return text.rsplit(":", 1)[0] if not text.startswith("[") else text
    return ""


def _is_ip(host: str) -> bool:
    return host.replace(".", "").isdigit() or host.startswith("[")
