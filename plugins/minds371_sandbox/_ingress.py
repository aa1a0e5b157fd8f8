"""The providers' ingress: a request for a lease's URI, sent to the sandbox with that ``Host``.

Lease URIs (``<hash>.ingress.<provider>.provider.sandbox.test`` and the SDL's ``accept`` hosts) do
not resolve, so an HTTP probe of an endpoint goes to the sandbox's own base URL with the URI as the
``Host`` header. The answer is what an ingress in front of the pretend workload would give: 200
with a small page when every replica of the service is ready, 503 "no healthy upstream" while it
is not (pulling, failed pull, crash loop), 502 when the provider is offline. Requests whose host is
not a lease URI go on to the API routes.

The pretend workload also serves its own request count, as a service instrumented for Prometheus
does: ``GET /metrics`` on a ready service answers in the text exposition format with
``http_requests_total``, the requests that service's ingress answered with 200 since its pods
started (a new lease or an accepted manifest restarts them, and the count starts again from 0).
Scrapes of ``/metrics`` are not counted, so a deployment nobody uses reads the same count on every
scrape (what an idle probe compares; see ``docs/idle-and-ttl.md``). Requests answered 502 or 503
never reached a pod and are not counted either.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from minds371_sandbox._hub import Hub
from minds371_sandbox._records import Deployment, Lease
from minds371_sandbox._workloads import lease_status

__all__ = ["METRICS_PATH", "IngressMiddleware"]

#: Where the pretend workload serves its request count (Prometheus text format).
METRICS_PATH = "/metrics"
#: A running pod's counter, by lease, pod generation and service: owner, dseq, gseq, oseq,
#: provider, generation, service.
_PodKey = tuple[str, int, int, int, str, int, str]


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
        # In memory, as a container's own counter is: a restarted sandbox starts from 0 again.
        self._served: dict[_PodKey, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _host(scope)
            if host and "." in host and not _is_ip(host):
                response = self._route(host, str(scope.get("path") or "/"))
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
        # The counters of pods that no longer run go with them.
        running = {_pod(dep, lease, name) for dep, lease, name in hosts.values()}
        self._served = {pod: n for pod, n in self._served.items() if pod in running}
        return hosts

    def _route(self, host: str, path: str) -> Response | None:
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
        pod = _pod(dep, lease, name)
        if path == METRICS_PATH:
            return PlainTextResponse(
                "# HELP http_requests_total Requests served, scrapes of /metrics excepted.\n"
                "# TYPE http_requests_total counter\n"
                f'http_requests_total{{service="{name}"}} {self._served.get(pod, 0)}\n',
                media_type="text/plain; version=0.0.4",
            )
        self._served[pod] = self._served.get(pod, 0) + 1
        return HTMLResponse(
            f"<h1>{name}</h1><p>deployment {dep.dseq}, served by {provider.name} "
            "(minds371 sandbox)</p>"
        )


def _pod(dep: Deployment, lease: Lease, service: str) -> _PodKey:
    return (dep.owner, dep.dseq, lease.gseq, lease.oseq, lease.provider, lease.generation, service)


def _host(scope: Scope) -> str:
    headers: Any = scope.get("headers") or []
    for key, value in headers:
        if key == b"host":
            text: str = value.decode("latin-1")
            return text.rsplit(":", 1)[0] if not text.startswith("[") else text
    return ""


def _is_ip(host: str) -> bool:
    return host.replace(".", "").isdigit() or host.startswith("[")
