"""A local stand-in of Cloudflare's DNS API (v4) on 127.0.0.1, for the cloudflare DNS provider.

It lives with the test servers, not in the sandbox: the sandbox is the Akash network's twin,
and Cloudflare is a third-party service only the DNS provider's tests talk to. It keeps the
documented shapes (developers.cloudflare.com/api/resources/dns/subresources/records/methods/
{list,create,update,edit,delete}, /api/resources/zones/methods/get): a bearer token; every
answer the envelope ``{success, errors: [{code, message}], messages, result}`` (``result_info``
on lists); the errors a client meets: an unknown token (403, code 10000 "Authentication
error"), an unknown zone (400, 7003 "Could not route to …, perhaps your object identifier is
invalid?" with 7000 "No route for that URI"), a CNAME beside an A record at one name (400,
81053), an identical record (400, 81058), an A record whose content is not IPv4 (400, 9005), a
TTL that is neither 1 (automatic) nor 60-86400 (400, 9021), a name outside the zone (400,
9007), a record id it does not know (404, 81044). It is never kinder: what Cloudflare refuses,
it refuses.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["CloudflareStandIn", "cloudflare_standin"]


def _envelope(result: Any, status: int = 200, **extra: Any) -> JSONResponse:
    body = {"success": True, "errors": [], "messages": [], "result": result, **extra}
    return JSONResponse(body, status_code=status)


def _error(status: int, *errors: tuple[int, str]) -> JSONResponse:
    body = {
        "success": False,
        "errors": [{"code": code, "message": message} for code, message in errors],
        "messages": [],
        "result": None,
    }
    return JSONResponse(body, status_code=status)


@dataclass
class CloudflareStandIn:
    """The stand-in's state: zones by id, each with its records; the tokens it accepts."""

    tokens: set[str] = field(default_factory=set)
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)

    def add_zone(self, name: str) -> str:
        """Add a zone; returns its id (32 hex characters, as Cloudflare's)."""
        zone_id = secrets.token_hex(16)
        self.zones[zone_id] = {"name": name, "records": {}}
        return zone_id

    def records(self, zone_id: str) -> list[dict[str, Any]]:
        """Every record of a zone."""
        return list(self.zones[zone_id]["records"].values())

    def app(self) -> Starlette:
        """The ASGI app (``/client/v4/...``)."""
        base = "/client/v4/zones/{zone_id}"
        return Starlette(
            routes=[
                Route(base, self._zone, methods=["GET"]),
                Route(f"{base}/dns_records", self._list, methods=["GET"]),
                Route(f"{base}/dns_records", self._create, methods=["POST"]),
                Route(f"{base}/dns_records/{{record_id}}", self._one, methods=["GET", "DELETE"]),
                Route(f"{base}/dns_records/{{record_id}}", self._update, methods=["PUT", "PATCH"]),
            ]
        )

    # -- guards ----------------------------------------------------------------------------------

    def _guard(self, request: Request) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        self.calls.append((request.method, request.url.path))
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            return None, _error(403, (10000, "Authentication error"))
        zone = self.zones.get(request.path_params["zone_id"])
        if zone is None:
            return None, _error(
                400,
                (
                    7003,
                    f"Could not route to {request.url.path}, perhaps your object "
                    "identifier is invalid?",
                ),
                (7000, "No route for that URI"),
            )
        return zone, None

    # -- routes ----------------------------------------------------------------------------------

    async def _zone(self, request: Request) -> JSONResponse:
        zone, refused = self._guard(request)
        if refused is not None:
            return refused
        assert zone is not None
        zone_id = request.path_params["zone_id"]
        return _envelope({"id": zone_id, "name": zone["name"], "status": "active"})

    async def _list(self, request: Request) -> JSONResponse:
        zone, refused = self._guard(request)
        if refused is not None:
            return refused
        assert zone is not None
        found = list(zone["records"].values())
        name = request.query_params.get("name")
        kind = request.query_params.get("type")
        if name is not None:
            found = [r for r in found if r["name"] == name.lower()]
        if kind is not None:
            found = [r for r in found if r["type"] == kind]
        per_page = int(request.query_params.get("per_page", "100"))
        page = int(request.query_params.get("page", "1"))
        shown = found[(page - 1) * per_page : page * per_page]
        info = {
            "page": page,
            "per_page": per_page,
            "count": len(shown),
            "total_count": len(found),
            "total_pages": max(1, -(-len(found) // per_page)),
        }
        return _envelope(shown, result_info=info)

    async def _one(self, request: Request) -> JSONResponse:
        zone, refused = self._guard(request)
        if refused is not None:
            return refused
        assert zone is not None
        record_id = request.path_params["record_id"]
        if record_id not in zone["records"]:
            return _error(404, (81044, "Record does not exist."))
        if request.method == "DELETE":
            del zone["records"][record_id]
            return _envelope({"id": record_id})
        return _envelope(zone["records"][record_id])

    async def _create(self, request: Request) -> JSONResponse:
        zone, refused = self._guard(request)
        if refused is not None:
            return refused
        assert zone is not None
        body = await request.json()
        problem = self._invalid(zone, body, None)
        if problem is not None:
            return problem
        record_id = secrets.token_hex(16)
        zone["records"][record_id] = self._record(zone, request, record_id, body)
        return _envelope(zone["records"][record_id])

    async def _update(self, request: Request) -> JSONResponse:
        zone, refused = self._guard(request)
        if refused is not None:
            return refused
        assert zone is not None
        record_id = request.path_params["record_id"]
        current = zone["records"].get(record_id)
        if current is None:
            return _error(404, (81044, "Record does not exist."))
        body = await request.json()
        if request.method == "PATCH":
            body = {
                **{k: current[k] for k in ("type", "name", "content", "ttl", "proxied")},
                **body,
            }
        problem = self._invalid(zone, body, record_id)
        if problem is not None:
            return problem
        zone["records"][record_id] = self._record(zone, request, record_id, body, current)
        return _envelope(zone["records"][record_id])

    # -- rules -----------------------------------------------------------------------------------

    def _invalid(
        self, zone: dict[str, Any], body: Any, record_id: str | None
    ) -> JSONResponse | None:
        if not isinstance(body, dict) or not all(k in body for k in ("type", "name", "content")):
            return _error(400, (9000, "DNS name, type and content are required"))
        kind, name, content = body["type"], str(body["name"]).lower(), str(body["content"])
        if kind not in ("A", "AAAA", "CNAME", "TXT", "MX", "NS"):
            return _error(400, (1004, "DNS Validation Error"))
        if name != zone["name"] and not name.endswith("." + zone["name"]):
            return _error(400, (9007, "Content for this record is not in the zone"))
        ttl = body.get("ttl", 1)
        if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
            return _error(
                400, (9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic")
            )
        if kind == "A":
            try:
                ipaddress.IPv4Address(content)
            except ValueError:
                return _error(
                    400, (9005, "Content for A record is invalid. Must be a valid IPv4 address")
                )
        others = [r for i, r in zone["records"].items() if i != record_id and r["name"] == name]
        if any(
            (r["type"] == "CNAME") != (kind == "CNAME")
            for r in others
            if r["type"] in ("A", "AAAA", "CNAME")
        ) or (kind == "CNAME" and others):
            return _error(
                400, (81053, "An A, AAAA, or CNAME record with that host already exists.")
            )
        if any(r["type"] == kind and r["content"] == content for r in others):
            return _error(400, (81058, "An identical record already exists."))
        return None

    def _record(
        self,
        zone: dict[str, Any],
        request: Request,
        record_id: str,
        body: dict[str, Any],
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        return {
            "id": record_id,
            "zone_id": request.path_params["zone_id"],
            "zone_name": zone["name"],
            "name": str(body["name"]).lower(),
            "type": body["type"],
            "content": str(body["content"]),
            "proxiable": body["type"] in ("A", "AAAA", "CNAME"),
            "proxied": bool(body.get("proxied", False)),
            "ttl": int(body.get("ttl", 1)),
            "settings": {},
            "meta": {},
            "comment": body.get("comment"),
            "tags": [],
            "created_on": current["created_on"] if current else now,
            "modified_on": now,
        }


@contextmanager
def cloudflare_standin() -> Iterator[CloudflareStandIn]:
    """Serve a stand-in over real HTTP on 127.0.0.1 in a thread; ``url`` is its API base."""
    state = CloudflareStandIn()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(state.app(), log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    state.url = f"http://127.0.0.1:{port}/client/v4"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
