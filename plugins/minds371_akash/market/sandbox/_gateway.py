"""The provider gateway of every simulated provider, under ``/gateway/{provider_address}``.

Routes, auth and errors follow ``provider:gateway/rest/router.go`` (``reference/akash.md`` §2):
plain-text error bodies, JSON ``{"message"}`` auth errors, ES256K JWTs checked against the issuer's
on-chain key and the token's lease permissions, logs and Kubernetes events over WebSocket with
close codes 4000 (no running pods), 4001 (lease not found), 4002 (service unavailable).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anyio
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from minds371_akash.market.sandbox._hub import Hub
from minds371_akash.market.sandbox._identity import JwtError, verify_jwt
from minds371_akash.market.sandbox._manifests import ProviderUnavailable, deliver_manifest
from minds371_akash.market.sandbox._records import Deployment, Lease
from minds371_akash.market.sandbox._workloads import (
    lease_events,
    lease_status,
    pod_logs,
    pod_name,
    running_pods,
)
from minds371_akash.market.sandbox._world import WorldError

__all__ = ["gateway_routes"]


_LEASE = "/lease/{dseq}/{gseq}/{oseq}"


class _Denied(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _auth_error(status: int, message: str) -> _Denied:
    return _Denied(JSONResponse({"message": message}, status_code=status))


def _allows(leases: Mapping[str, Any], provider: str, scope: str, dseq: int | None) -> bool:
    access = leases.get("access")
    if access == "full":
        return True
    if access == "scoped":
        return scope in (leases.get("scope") or [])
    if access != "granular":
        return False
    for perm in leases.get("permissions") or []:
        if perm.get("provider") != provider:
            continue
        kind = perm.get("access")
        if kind == "full" or (kind == "scoped" and scope in (perm.get("scope") or [])):
            return True
        if kind == "granular":
            for dep in perm.get("deployments") or []:
                if (dseq is None or int(dep.get("dseq", -1)) == dseq) and scope in (
                    dep.get("scope") or []
                ):
                    return True
    return False


def _authorize(hub: Hub, conn: HTTPConnection, scope: str, dseq: int | None) -> str:
    """The JWT issuer (the lease owner) when the token allows ``scope``; else a denial."""
    header = conn.headers.get("authorization")
    if header is None:
        raise _auth_error(401, "unauthorized access")
    if not header.startswith("Bearer "):
        raise _auth_error(400, "invalid authorization header")
    token = header[len("Bearer ") :].strip()
    claims = hub.jwt_cache.get(token)
    try:
        # Verification costs a few ms in pure Python; a verified token is cached and only its
        # time window is re-checked.
        claims = (
            verify_jwt(token, hub.world.public_key_of, now=None)
            if claims is None
            else _still_valid(token, hub, claims)
        )
    except JwtError as exc:
        raise _auth_error(exc.status, str(exc)) from exc
    hub.jwt_cache[token] = claims
    provider = conn.path_params["provider"]
    if not _allows(claims.get("leases") or {}, provider, scope, dseq):
        raise _auth_error(401, "unauthorized access")
    return str(claims["iss"])


def _still_valid(token: str, hub: Hub, claims: dict[str, Any]) -> dict[str, Any]:
    import time

    if time.time() >= float(claims["exp"]):
        hub.jwt_cache.pop(token, None)
        raise JwtError("JWT is expired")
    return claims


def _lease(
    hub: Hub, owner: str, provider: str, params: Mapping[str, Any]
) -> tuple[Deployment, Lease] | None:
    try:
        dseq, gseq, oseq = int(params["dseq"]), int(params["gseq"]), int(params["oseq"])
    except (KeyError, ValueError):
        return None
    lease = hub.world.find_lease(owner, dseq, gseq, oseq, provider)
    if lease is None or lease.state != "active":
        return None
    return hub.world.deployments[(owner, dseq)], lease


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
            if not self.hub.world.online.get(provider, False):
                return PlainTextResponse(
                    "provider unreachable: connection refused", status_code=503
                )
            if self.hub.roll(faults.gateway_error_rate):
                return PlainTextResponse("internal server error", status_code=500)
            try:
                response: Response = await handler(request, provider)
            except _Denied as denied:
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
        owner = _authorize(self.hub, request, "send-manifest", dseq)
        body = await request.body()
        try:
            deliver_manifest(self.hub, provider, owner, dseq, body)
        except ProviderUnavailable:
            return PlainTextResponse("provider unreachable: connection refused", status_code=503)
        except WorldError as exc:
            return PlainTextResponse(
                exc.message, status_code=404 if exc.kind == "not_found" else 422
            )
        return Response(status_code=200)

    def _lease_or_404(
        self, request: Request, provider: str, scope: str
    ) -> tuple[Deployment, Lease] | Response:
        owner = _authorize(self.hub, request, scope, _int(request.path_params.get("dseq")))
        found = _lease(self.hub, owner, provider, request.path_params)
        if found is None:
            return Response(status_code=404)
        return found

    async def get_status(self, request: Request, provider: str) -> Response:
        found = self._lease_or_404(request, provider, "status")
        if isinstance(found, Response):
            return found
        dep, lease = found
        body = lease_status(
            dep,
            lease,
            self.hub.world.providers[provider],
            self.hub.world.height,
            self.hub.world.config,
        )
        return Response(status_code=404) if body is None else JSONResponse(body)

    async def get_service_status(self, request: Request, provider: str) -> Response:
        found = self._lease_or_404(request, provider, "status")
        if isinstance(found, Response):
            return found
        dep, lease = found
        body = lease_status(
            dep,
            lease,
            self.hub.world.providers[provider],
            self.hub.world.height,
            self.hub.world.config,
        )
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
                    WebSocketRoute(f"{_LEASE}/logs", _stream_endpoint(self.hub, "logs")),
                    WebSocketRoute(f"{_LEASE}/kubeevents", _stream_endpoint(self.hub, "events")),
                ],
            )
        ]


def gateway_routes(hub: Hub) -> list[Any]:
    """The provider gateway, mounted at ``/gateway/{provider}``."""
    return _GatewayApi(hub).routes()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _stream_endpoint(hub: Hub, kind: str) -> Any:
    async def endpoint(ws: WebSocket) -> None:
        provider = ws.path_params["provider"]
        if provider not in hub.world.providers or not hub.world.online.get(provider, False):
            await _deny(
                ws, PlainTextResponse("provider unreachable: connection refused", status_code=503)
            )
            return
        try:
            owner = _authorize(
                hub, ws, "logs" if kind == "logs" else "events", _int(ws.path_params.get("dseq"))
            )
        except _Denied as denied:
            await _deny(ws, denied.response)
            return
        await ws.accept()
        found = _lease(hub, owner, provider, ws.path_params)
        if found is None:
            await ws.close(code=4001, reason="lease not found")
            return
        dep, lease = found
        params = ws.query_params
        services = {s for s in (params.get("service") or "").split(",") if s}
        follow = _flag(params.get("follow"))
        tail = _int(params.get("tail"))
        stream = (
            _LogStream(hub, dep, lease, services, tail)
            if kind == "logs"
            else _EventStream(hub, dep, lease, services)
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_disconnect, ws, tg.cancel_scope)
            code, reason = await stream.run(ws, follow)
            tg.cancel_scope.cancel()
        try:
            await ws.close(code=code, reason=reason)
        except (RuntimeError, WebSocketDisconnect):
            pass

    return endpoint


async def _deny(ws: WebSocket, response: Response) -> None:
    # The denial-response extension: the upgrade is answered with a plain HTTP error.
    await response(ws.scope, ws.receive, ws.send)


async def _watch_disconnect(ws: WebSocket, scope: anyio.CancelScope) -> None:
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
    except (RuntimeError, WebSocketDisconnect):
        pass
    scope.cancel()


class _LogStream:
    def __init__(
        self, hub: Hub, dep: Deployment, lease: Lease, services: set[str], tail: int | None
    ) -> None:
        self.hub, self.dep, self.lease, self.services, self.tail = hub, dep, lease, services, tail
        self.sent: dict[str, int] = {}

    def _pending(self) -> list[tuple[int, str, str]]:
        world = self.hub.world
        out: list[tuple[int, str, str]] = []
        for service in (self.lease.manifest or {}).get("services") or []:
            if self.services and service["name"] not in self.services:
                continue
            for replica in range(int(service.get("count", 1))):
                pod = pod_name(self.dep, self.lease, str(service["name"]), replica)
                lines = pod_logs(self.dep, self.lease, service, replica, world.height, world.config)
                start = self.sent.get(pod)
                if start is None:
                    start = (
                        max(0, len(lines) - self.tail)
                        if self.tail is not None and self.tail >= 0
                        else 0
                    )
                self.sent[pod] = len(lines)
                out.extend((h, pod, line) for h, line in lines[start:])
        out.sort(key=lambda item: item[0])
        return out

    async def run(self, ws: WebSocket, follow: bool) -> tuple[int, str]:
        world = self.hub.world
        if not running_pods(self.dep, self.lease, world.height, world.config) and not follow:
            return 4000, "no running pods"
        while True:
            for _, pod, line in self._pending():
                await ws.send_text(json.dumps({"name": pod, "message": line}))
            if not follow:
                return 1000, ""
            await self.hub.next_block()
            if self.lease.state != "active":
                return 1000, "lease closed"


class _EventStream:
    def __init__(self, hub: Hub, dep: Deployment, lease: Lease, services: set[str]) -> None:
        self.hub, self.dep, self.lease, self.services = hub, dep, lease, services
        self.sent = 0

    async def run(self, ws: WebSocket, follow: bool) -> tuple[int, str]:
        world = self.hub.world
        while True:
            events = lease_events(
                self.dep, self.lease, world.height, world.config, self.services or None
            )
            for event in events[self.sent :]:
                event.pop("_height", None)
                await ws.send_text(json.dumps(event))
            self.sent = max(self.sent, len(events))
            if not follow:
                return 1000, ""
            await self.hub.next_block()
            if self.lease.state != "active":
                return 1000, "lease closed"
