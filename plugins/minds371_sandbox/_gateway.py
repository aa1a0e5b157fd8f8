"""The provider gateway of every simulated provider, under ``/gateway/{provider_address}``.

Routes, auth and errors follow ``provider:gateway/rest/router.go`` (``reference/akash.md`` §2):
plain-text error bodies, JSON ``{"message"}`` auth errors, ES256K JWTs checked against the issuer's
on-chain key and the token's lease permissions, logs and Kubernetes events over WebSocket with
close codes 4000 (no running pods), 4001 (lease not found), 4002 (service unavailable).
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from minds371_sandbox._gateway_auth import Denied, as_int, authorize, find_lease
from minds371_sandbox._gateway_streams import stream_endpoint
from minds371_sandbox._hub import Hub
from minds371_sandbox._manifests import ProviderUnavailable, deliver_manifest
from minds371_sandbox._records import Deployment, Lease
from minds371_sandbox._workloads import (
    lease_status,
)
from minds371_sandbox._world import WorldError

__all__ = ["gateway_routes"]

_LEASE = "/lease/{dseq}/{gseq}/{oseq}"


class _GatewayApi:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def h_guarded(self, handler: Any) -> Any:
        async def route(request: Request) -> Response:
            provider = request.path_params["provider"]
            if provider not in self.hub.world.providers:
                return PlainTextResponse("404 page not found", status_code=404)
            faults = self.hub.faults
            if faults.latency:
                await anyio.sleep(faults.latency)
                self.hub.catch_up()
            if not self.hub.world.online.get(provider, False):
                return PlainTextResponse(
                    "provider unreachable: connection refused", status_code=503
                )
            if self.hub.roll(faults.gateway_error_rate):
                return PlainTextResponse("internal server error", status_code=500)
            try:
                response: Response = await handler(request, provider)
            except Denied as denied:
                return denied.response
            return response

        return route

    async def h_status(self, request: Request, provider: str) -> Response:
        world = self.hub.world
        leases = [
            x for d in world.deployments_of() for x in d.active_leases() if x.provider == provider
        ]
        spec = world.providers[provider]
        usage = world.usage(provider)
        open_orders = sum(
            1
            for d in world.deployments_of()
            if d.state == "active"
            for g in d.groups
            for o in g.orders
            if o.state == "open"
        )
        node = {
            "name": "node-1",
            "allocatable": {
                "cpu": spec.capacity.cpu_millicores,
                "memory": spec.capacity.memory_bytes,
                "storage_ephemeral": spec.capacity.storage_bytes,
            },
            "available": {
                "cpu": spec.capacity.cpu_millicores - usage.get("cpu", 0),
                "memory": spec.capacity.memory_bytes - usage.get("memory", 0),
                "storage_ephemeral": spec.capacity.storage_bytes - usage.get("storage", 0),
            },
        }
        return JSONResponse(
            {
                "cluster": {
                    "leases": len(leases),
                    "inventory": {
                        "active": [],
                        "pending": [],
                        "available": {"nodes": [node], "storage": []},
                    },
                },
                "bidengine": {"orders": open_orders},
                "manifest": {"deployments": sum(1 for x in leases if x.manifest is not None)},
                "cluster_public_hostname": spec.hostname,
                "address": provider,
            }
        )

    async def h_version(self, request: Request, provider: str) -> Response:
        return JSONResponse(
            {
                "akash": {
                    "name": "provider-services",
                    "version": "v0.10.0",
                    "commit": "sandbox",
                    "go": "go1.24",
                },
                "kube": {
                    "major": "1",
                    "minor": "31",
                    "gitVersion": "v1.31.0",
                    "platform": "linux/amd64",
                },
            }
        )

    async def h_address(self, request: Request, provider: str) -> Response:
        return JSONResponse({"address": provider})

    async def put_manifest(self, request: Request, provider: str) -> Response:
        try:
            dseq = int(request.path_params["dseq"])
        except ValueError:
            return PlainTextResponse("invalid dseq", status_code=400)
        owner = authorize(self.hub, request, "send-manifest", dseq)
        body = await request.body()
        try:
            deliver_manifest(self.hub, provider, owner, dseq, body)
        except ProviderUnavailable:
            return PlainTextResponse("provider unreachable: connection refused", status_code=503)
        except WorldError as exc:
            # provider:manifest/gateway.go ManifestSubmitErrorToHTTP: 404 for no lease, 422 for
            # a refused manifest; anything else (a host in use) is not mapped, hence 500.
            status = {"not_found": 404, "hostname": 500}.get(exc.kind, 422)
            return PlainTextResponse(exc.message, status_code=status)
        return Response(status_code=200)

    def _lease_or_404(
        self, request: Request, provider: str, scope: str
    ) -> tuple[Deployment, Lease] | Response:
        owner = authorize(self.hub, request, scope, as_int(request.path_params.get("dseq")))
        found = find_lease(self.hub, owner, provider, request.path_params)
        if found is None:
            return Response(status_code=404)
        return found

    def _status(self, request: Request, provider: str) -> Response | dict[str, Any] | None:
        """The lease's status document (None before it has one), or the refusal to answer."""
        found = self._lease_or_404(request, provider, "status")
        if isinstance(found, Response):
            return found
        dep, lease = found
        world = self.hub.world
        return lease_status(dep, lease, world.providers[provider], world.height, world.config)

    async def get_status(self, request: Request, provider: str) -> Response:
        body = self._status(request, provider)
        if isinstance(body, Response):
            return body
        return Response(status_code=404) if body is None else JSONResponse(body)

    async def get_service_status(self, request: Request, provider: str) -> Response:
        body = self._status(request, provider)
        if isinstance(body, Response):
            return body
        service = (body or {}).get("services", {}).get(request.path_params["service"])
        return (
            PlainTextResponse("service not found", status_code=404)
            if service is None
            else JSONResponse(service)
        )

    async def get_manifest(self, request: Request, provider: str) -> Response:
        found = self._lease_or_404(request, provider, "get-manifest")
        if isinstance(found, Response):
            return found
        _, lease = found
        if lease.manifest is None:
            return PlainTextResponse("manifest not found", status_code=404)
        return JSONResponse([lease.manifest])

    def routes(self) -> list[Any]:
        """The routes."""
        return [
            Mount(
                "/gateway/{provider}",
                routes=[
                    Route("/status", self.h_guarded(self.h_status), methods=["GET"]),
                    Route("/version", self.h_guarded(self.h_version), methods=["GET"]),
                    Route("/address", self.h_guarded(self.h_address), methods=["GET"]),
                    Route(
                        "/deployment/{dseq}/manifest",
                        self.h_guarded(self.put_manifest),
                        methods=["PUT"],
                    ),
                    Route(f"{_LEASE}/status", self.h_guarded(self.get_status), methods=["GET"]),
                    Route(f"{_LEASE}/manifest", self.h_guarded(self.get_manifest), methods=["GET"]),
                    Route(
                        f"{_LEASE}/service/{{service}}/status",
                        self.h_guarded(self.get_service_status),
                        methods=["GET"],
                    ),
                    WebSocketRoute(f"{_LEASE}/logs", stream_endpoint(self.hub, "logs")),
                    WebSocketRoute(f"{_LEASE}/kubeevents", stream_endpoint(self.hub, "events")),
                ],
            )
        ]


def gateway_routes(hub: Hub) -> list[Any]:
    """The provider gateway, mounted at ``/gateway/{provider}``."""
    return _GatewayApi(hub).routes()
