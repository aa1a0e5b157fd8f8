"""Admin routes under ``/sandbox/...``: what tests use to inspect the world and inject faults.

They exist only in the sandbox (no real network has them). All but ``GET /sandbox/info`` and
``GET /sandbox/whoami`` need the sandbox's admin token, and writes must be JSON (``_guard.py``).
Errors are ``{"error": "<message>"}`` with 400 (bad input) or 404 (unknown object).

The world they show is the owner's view of a provider's state minus its secrets: workloads' env
values and registry passwords are ``***`` in ``GET /sandbox/deployments``.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import pydantic
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from minds371.logging import REDACTED
from minds371_sandbox._guard import Access
from minds371_sandbox._hub import Faults, Hub
from minds371_sandbox._identity import identity_for_api_key
from minds371_sandbox._workloads import ready_height
from minds371_sandbox._world import WorldError

__all__ = ["admin_routes", "world_snapshot"]


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"__invalid__": True}
    return body if isinstance(body, dict) else {"__invalid__": True}


def info(hub: Hub, base_url: str) -> dict[str, Any]:
    """``GET /sandbox/info``: height, timing, faults and every provider."""
    world = hub.world
    return {
        "height": world.height,
        "config": world.config.model_dump(mode="json"),
        "faults": hub.faults.model_dump(mode="json"),
        "providers": [
            {
                "name": p.name,
                "address": p.address,
                "hostUri": f"{base_url.rstrip('/')}/gateway/{p.address}",
                "region": p.region,
                "audited": p.audited,
                "online": world.online.get(p.address, False),
                "bid_delay_blocks": p.bid_delay_blocks,
                "pricing": p.pricing.model_dump(mode="json"),
                "usage": world.usage(p.address),
            }
            for p in world.providers.values()
        ],
    }


def world_snapshot(hub: Hub) -> dict[str, Any]:
    """Every deployment (closed ones too) with orders, bids, refusals, leases and escrow."""
    world = hub.world
    deployments = []
    for dep in world.deployments_of():
        raw = dep.dump()
        raw["manifest"] = _redacted_manifest_text(raw.get("manifest") or "")
        for lease_raw, lease in zip(raw["leases"], dep.leases, strict=True):
            lease_raw["ready_height"] = ready_height(lease, world.config)
            if lease_raw.get("manifest") is not None:
                lease_raw["manifest"] = _redacted_group(lease_raw["manifest"])
        raw["timeline"] = _timeline(hub, raw)
        deployments.append(raw)
    return {
        "height": world.height,
        "deployments": deployments,
        "accounts": [a.dump() for a in world.accounts.values()],
    }


def _redacted_manifest_text(text: str) -> str:
    """A manifest (JSON text: a list of groups) with its secrets replaced."""
    try:
        groups = json.loads(text)
    except ValueError:
        return REDACTED if text else text
    if not isinstance(groups, list):
        return REDACTED
    return json.dumps([_redacted_group(g) for g in groups], separators=(",", ":"))


def _redacted_group(group: Any) -> Any:
    """A manifest group with every service's env values and registry password replaced."""
    if not isinstance(group, dict):
        return REDACTED
    services: list[Any] = []
    for service in group.get("services") or []:
        if not isinstance(service, dict):
            services.append(REDACTED)
            continue
        service = dict(service)
        env = service.get("env")
        if isinstance(env, list):
            service["env"] = [
                f"{str(item).partition('=')[0]}={REDACTED}" if "=" in str(item) else REDACTED
                for item in env
            ]
        credentials = service.get("credentials")
        if isinstance(credentials, dict) and "password" in credentials:
            service["credentials"] = {**credentials, "password": REDACTED}
        services.append(service)
    return {**group, "services": services}


class _AdminApi:
    def __init__(self, hub: Hub, access: Access) -> None:
        self.hub = hub
        self.access = access

    async def post_api_key(self, request: Request) -> Response:
        """``POST /sandbox/api-keys``: know ``{"key": ...}`` from now on, or issue a new key."""
        body = await _body(request)
        key = body.get("key")
        if "__invalid__" in body or (key is not None and (not isinstance(key, str) or not key)):
            return _bad('send {} for a new key, or {"key": "<non-empty string>"}')
        return JSONResponse({"key": self.access.issue_key(key)}, status_code=201)

    async def get_info(self, request: Request) -> Response:
        return JSONResponse(info(self.hub, str(request.base_url)))

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self.hub.faults.model_dump(mode="json"))

    async def put_faults(self, request: Request) -> Response:
        try:
            faults = Faults.model_validate(await _body(request))
        except pydantic.ValidationError as exc:
            return _bad(str(exc))
        self.hub.set_faults(faults)
        return JSONResponse(faults.model_dump(mode="json"))

    async def set_online(self, request: Request) -> Response:
        if request.path_params["state"] not in ("online", "offline"):
            return _bad("use /online or /offline", 404)
        try:
            self.hub.world.set_online(
                request.path_params["address"], request.path_params["state"] == "online"
            )
        except WorldError as exc:
            return _bad(exc.message, 404)
        return JSONResponse(
            {
                "address": request.path_params["address"],
                "online": request.path_params["state"] == "online",
            }
        )

    async def h_close_lease(self, request: Request) -> Response:
        body = await _body(request)
        try:
            owner, dseq = str(body["owner"]), int(body["dseq"])
            gseq, oseq = int(body.get("gseq", 1)), int(body.get("oseq", 1))
        except (KeyError, TypeError, ValueError):
            return _bad("owner, dseq (and gseq, oseq) are required")
        try:
            lease = self.hub.world.provider_close_lease(
                owner, dseq, gseq, oseq, str(body.get("reason", "unstable"))
            )
        except WorldError as exc:
            return _bad(exc.message, 404)
        return JSONResponse(lease.dump())

    async def h_deployments(self, request: Request) -> Response:
        return JSONResponse(world_snapshot(self.hub))

    async def h_account(self, request: Request) -> Response:
        address = request.path_params["address"]
        if request.method == "PUT":
            body = await _body(request)
            try:
                balance = Decimal(str(body["balance"]))
            except (KeyError, InvalidOperation):
                return _bad("balance (uact) is required")
            self.hub.world.account(address).balance = balance
        return JSONResponse(self.hub.world.account(address).dump())

    async def h_whoami(self, request: Request) -> Response:
        key = request.headers.get("x-api-key")
        if not key:
            return _bad("send the x-api-key header", 401)
        return JSONResponse({"address": identity_for_api_key(key).address})

    async def h_advance(self, request: Request) -> Response:
        body = await _body(request)
        try:
            blocks = int(body.get("blocks", 1))
        except (TypeError, ValueError):
            return _bad("blocks must be an integer")
        if not 1 <= blocks <= 100_000:
            return _bad("blocks must be between 1 and 100000")
        return JSONResponse({"height": self.hub.produce_block(blocks)})

    def routes(self) -> list[Any]:
        """The routes."""
        return [
            Route("/sandbox/info", self.get_info, methods=["GET"]),
            Route("/sandbox/faults", self.get_faults, methods=["GET"]),
            Route("/sandbox/faults", self.put_faults, methods=["PUT"]),
            Route("/sandbox/providers/{address}/{state:str}", self.set_online, methods=["POST"]),
            Route("/sandbox/leases/close", self.h_close_lease, methods=["POST"]),
            Route("/sandbox/deployments", self.h_deployments, methods=["GET"]),
            Route("/sandbox/accounts/{address}", self.h_account, methods=["GET", "PUT"]),
            Route("/sandbox/whoami", self.h_whoami, methods=["GET"]),
            Route("/sandbox/advance", self.h_advance, methods=["POST"]),
            Route("/sandbox/api-keys", self.post_api_key, methods=["POST"]),
        ]


def _timeline(hub: Hub, raw: dict[str, Any]) -> dict[str, Any]:
    """When things happened, and the fewest blocks the sandbox needs from create to ready.

    ``minimum_blocks`` = the slowest group's first bid delay + the lease visibility delay + the
    pull delay: what a client that reacts instantly at every step would see.
    """
    config = hub.world.config
    first_bids = [
        min((b["created_at"] for b in g["orders"][0]["bids"]), default=None) for g in raw["groups"]
    ]
    leases = [lease for lease in raw["leases"] if lease["oseq"] == 1]
    readies = [lease["ready_height"] for lease in leases]
    known = all(b is not None for b in first_bids)
    return {
        "created": raw["created_at"],
        "first_bids": first_bids,
        "leased": max((lease["created_at"] for lease in leases), default=None),
        "manifest": max((lease["manifest_at"] or 0 for lease in leases), default=None) or None,
        "ready": max(readies) if readies and None not in readies else None,
        "minimum_blocks": (
            max(b - raw["created_at"] for b in first_bids if b is not None)
            + config.lease_visibility_blocks
            + config.pull_blocks
            if known and first_bids
            else None
        ),
    }


def admin_routes(hub: Hub, access: Access) -> list[Any]:
    """The ``/sandbox/...`` routes (``access``: the rules ``POST /sandbox/api-keys`` extends)."""
    return _AdminApi(hub, access).routes()
