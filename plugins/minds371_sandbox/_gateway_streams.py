"""Provider-gateway WebSocket streams: lease logs and Kubernetes events.

Frames and close codes follow ``provider:gateway/rest``: logs ``{"name","message"}``, events
``{"type","reportingController","reportingInstance","reason","note","object"}``; 1000 done, 4000
no running pods, 4001 lease not found. A failed auth or an offline provider denies the upgrade
with the HTTP error instead.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from minds371_sandbox._gateway_auth import Denied, as_int, authorize, find_lease
from minds371_sandbox._hub import Hub
from minds371_sandbox._records import Deployment, Lease
from minds371_sandbox._workloads import lease_events, pod_logs, pod_name, running_pods

__all__ = ["stream_endpoint"]


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def stream_endpoint(hub: Hub, kind: str) -> Any:
    async def endpoint(ws: WebSocket) -> None:
        provider = ws.path_params["provider"]
        if provider not in hub.world.providers or not hub.world.online.get(provider, False):
            await _deny(
                ws, PlainTextResponse("provider unreachable: connection refused", status_code=503)
            )
            return
        try:
            owner = authorize(
                hub, ws, "logs" if kind == "logs" else "events", as_int(ws.path_params.get("dseq"))
            )
        except Denied as denied:
            await _deny(ws, denied.response)
            return
        await ws.accept()
        found = find_lease(hub, owner, provider, ws.path_params)
        if found is None:
            await ws.close(code=4001, reason="lease not found")
            return
        dep, lease = found
        params = ws.query_params
        services = {s for s in (params.get("service") or "").split(",") if s}
        follow = _flag(params.get("follow"))
        tail = as_int(params.get("tail"))
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
        self.sent: dict[str, int] = {}  # pod -> height of the last line sent

    def _pending(self) -> list[tuple[int, str, str]]:
        world = self.hub.world
        out: list[tuple[int, str, str]] = []
        for service in (self.lease.manifest or {}).get("services") or []:
            if self.services and service["name"] not in self.services:
                continue
            for replica in range(int(service.get("count", 1))):
                pod = pod_name(self.dep, self.lease, str(service["name"]), replica)
                lines = pod_logs(self.dep, self.lease, service, replica, world.height, world.config)
                last = self.sent.get(pod)
                if last is None:  # first look: the tail of what is there
                    keep = len(lines) if self.tail is None or self.tail < 0 else self.tail
                    fresh = lines[len(lines) - keep :] if keep else []
                else:  # following: every line written since the last look
                    fresh = [item for item in lines if item[0] > last]
                if lines:
                    self.sent[pod] = lines[-1][0]
                elif last is None:
                    self.sent[pod] = -1
                out.extend((h, pod, line) for h, line in fresh)
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
