"""The Console managed-wallet API routes (``/v1/...``), as ``reference/akash.md`` §1 describes them.

Same paths, envelopes, status codes and error bodies as ``console-api.akash.network``; the owner is
the account derived from the caller's ``x-api-key``. Sandbox-specific choices are in the README.
"""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal, InvalidOperation
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from minds371.errors import ValidationError
from minds371_sandbox._console_funding import FundingApi
from minds371_sandbox._console_http import (
    ConsoleReject,
    authenticate,
    faulty,
    issue,
    parse_dseq,
    read_json,
    validation_error,
    world_error,
)
from minds371_sandbox._hub import Hub
from minds371_sandbox._identity import identity_for_api_key, is_trial_api_key, issue_jwt
from minds371_sandbox._manifests import (
    ProviderUnavailable,
    build_from_sdl,
    deliver_manifest,
)
from minds371_sandbox._records import Deployment
from minds371_sandbox._render_cache import (
    RenderCache,
    bids_fingerprint,
    deployment_fingerprint,
)
from minds371_sandbox._trial import reclaim_trial_orphans
from minds371_sandbox._views import bid_view, deployment_view, provider_view
from minds371_sandbox._world import WorldError

__all__ = ["console_routes"]

_BLOCKS_PER_WEEK = Decimal(7 * 86_400) / 6  # Console's averageBlockTime = 6 s
_MANIFEST_ATTEMPTS = 3  # Console tries a manifest 3 times on "no lease for deployment"...
_MANIFEST_RETRY_SECONDS = 6.0  # ...6 s apart


def _data(body: Any, path: str = "data") -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(path), dict):
        raise validation_error(
            [
                issue(
                    [path],
                    "Required"
                    if not isinstance(body, dict) or path not in body
                    else "Expected object",
                    expected="object",
                )
            ]
        )
    data: dict[str, Any] = body[path]
    return data


def _string(data: dict[str, Any], key: str, path: list[str | int]) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        received = "undefined" if value is None else type(value).__name__
        message = "Required" if value is None else f"Expected string, received {received}"
        raise validation_error([issue([*path, key], message, expected="string", received=received)])
    return value


def _optional_number(data: dict[str, Any], key: str, path: list[str | int]) -> float | None:
    """An optional zod ``number`` field: absent is ``None``, anything but a number a 400."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        received = "boolean" if isinstance(value, bool) else type(value).__name__
        received = {"str": "string", "list": "array", "dict": "object"}.get(received, received)
        raise validation_error(
            [
                issue(
                    [*path, key],
                    f"Expected number, received {received}",
                    expected="number",
                    received=received,
                )
            ]
        )
    return float(value)


def _owned(hub: Hub, owner: str, dseq: int) -> Deployment:
    try:
        return hub.world.deployment(owner, dseq)
    except WorldError as exc:
        raise ConsoleReject(404, "Deployment not found") from exc


class _Dseqs:
    """Console picks ``dseq = Date.now()``; two creates in one millisecond must still differ."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last = max(int(time.time() * 1000), self.last + 1)
        return self.last


class _ConsoleApi:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.dseqs = _Dseqs()
        self.cache = RenderCache()

    def _free_dseq(self, owner: str) -> int:
        dseq = self.dseqs.next()
        while (owner, dseq) in self.hub.world.deployments:  # a restored world may hold it
            dseq = self.dseqs.next()
        return dseq

    def _sdl(self, text: str) -> Any:
        try:
            return build_from_sdl(text, console=True)
        except ValidationError as exc:
            messages = "; ".join(str(i) for i in exc.issues) or exc.message
            raise ConsoleReject(400, f"Invalid SDL: {messages}") from exc

    async def create_deployment(self, request: Request) -> Response:
        owner = authenticate(request)
        data = _data(await read_json(request))
        text = _string(data, "sdl", ["data"])
        deposit_usd = _optional_number(data, "deposit", ["data"])
        built = self._sdl(text)
        world = self.hub.world
        deposit = self._deposit(deposit_usd)
        key = request.headers["x-api-key"]
        account = world.account(owner, identity_for_api_key(key).public_key)
        if is_trial_api_key(key):
            reclaim_trial_orphans(world, owner)
        if account.balance < deposit:
            raise ConsoleReject(
                402,
                "Not enough balance to cover the deployment deposit. Add credits and try again.",
            )
        try:
            dep = world.create_deployment(
                owner,
                built.group_specs,
                built.version,
                deposit,
                dseq=self._free_dseq(owner),
                source="grant",
                manifest=built.manifest_json,
            )
        except WorldError as exc:
            raise world_error(exc, "Failed to create deployment: ") from exc
        tx = hashlib.sha256(f"create/{owner}/{dep.dseq}".encode()).hexdigest().upper()
        return JSONResponse(
            {
                "data": {
                    "dseq": str(dep.dseq),
                    "manifest": built.manifest_json,
                    "signTx": {"code": 0, "transactionHash": tx, "rawLog": "[]"},
                }
            },
            status_code=201,
        )

    def _deposit(self, usd: float | None) -> int:
        """The deposit in uact (``deployment-writer.service.ts`` ``resolveDepositInDollars``).

        With the managed-deposit flag on, Console makes its fixed deposit and ignores the
        caller's; with it off (the default here) the caller must send one, in dollars, which
        ``denomToUdenom`` rounds to micro-units.
        """
        config = self.hub.world.config
        if config.console_managed_deposit:
            return config.console_deposit
        if usd is None:
            raise ConsoleReject(400, "deposit is required")
        return round(usd * 1_000_000)

    async def list_bids(self, request: Request) -> Response:
        owner = authenticate(request)
        raw = request.path_params.get("dseq", request.query_params.get("dseq"))
        dseq = parse_dseq(raw, ["dseq"])
        dep = self.hub.world.deployments.get((owner, dseq))

        def render() -> dict[str, Any]:
            if dep is None:
                return {"data": []}
            bids = []
            for group in dep.groups:
                for order in group.orders:
                    for bid in order.bids:
                        provider = self.hub.world.providers.get(bid.provider)
                        if provider is not None and provider.audited:  # Console drops the rest
                            bids.append(bid_view(self.hub, dep, group, order, bid))
            return {"data": bids}

        return self.cache.respond(("bids", owner, dseq), bids_fingerprint(self.hub, dep), render)

    async def _send_manifest(
        self, owner: str, dep: Deployment, providers: list[str], manifest: str
    ) -> None:
        for provider in providers:
            for attempt in range(1, _MANIFEST_ATTEMPTS + 1):
                try:
                    deliver_manifest(self.hub, provider, owner, dep.dseq, manifest)
                    break
                except ProviderUnavailable as exc:
                    raise ConsoleReject(503, "Provider service is temporarily unavailable") from exc
                except WorldError as exc:
                    if exc.kind == "not_found" and attempt < _MANIFEST_ATTEMPTS:
                        # The provider has not seen the lease yet: wait for a block, at most
                        # Console's 6 s between tries (a manual clock may not move at all).
                        with anyio.move_on_after(_MANIFEST_RETRY_SECONDS):
                            await self.hub.next_block()
                        continue
                    if exc.kind == "not_found":
                        # The last attempt's provider 404 comes back as Console's 404 with the
                        # provider's text (``provider.service.ts`` ``sendManifestToProvider``).
                        raise ConsoleReject(404, exc.message) from exc
                    status = 500 if exc.kind == "hostname" else 422
                    raise ConsoleReject(
                        400,
                        f"Failed to send manifest to provider {provider}: {exc.message}",
                        {"provider": provider, "status": status},
                    ) from exc

    async def create_lease(self, request: Request) -> Response:
        owner = authenticate(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise validation_error([issue(["manifest"], "Required"), issue(["leases"], "Required")])
        manifest = _string(body, "manifest", [])
        leases = body.get("leases")
        if not isinstance(leases, list) or not leases:
            raise validation_error(
                [
                    issue(
                        ["leases"],
                        "Required" if leases is None else "Expected array",
                        expected="array",
                    )
                ]
            )
        wanted: list[tuple[int, int, int, str]] = []
        for i, item in enumerate(leases):
            if not isinstance(item, dict):
                raise validation_error([issue(["leases", i], "Expected object")])
            dseq = parse_dseq(item.get("dseq"), ["leases", i, "dseq"])
            gseq, oseq = item.get("gseq"), item.get("oseq")
            if not isinstance(gseq, int) or not isinstance(oseq, int):
                raise validation_error(
                    [
                        issue(
                            ["leases", i, "gseq" if not isinstance(gseq, int) else "oseq"],
                            "Expected number",
                        )
                    ]
                )
            wanted.append((dseq, gseq, oseq, _string(item, "provider", ["leases", i])))
        dseqs_in = {w[0] for w in wanted}
        if len(dseqs_in) != 1:
            raise ConsoleReject(
                400, "Failed to create lease: all leases must belong to one deployment"
            )
        dep = _owned(self.hub, owner, wanted[0][0])
        # One transaction for all leases, skipped while ANY lease of the deployment is not
        # closed, whichever group it serves (``lease.service.ts`` ``#hasActiveLease``): retries
        # are safe, and a re-lease of one group of a live multi-group deployment creates nothing.
        if not any(lease.state != "closed" for lease in dep.leases):
            snapshot = [(lease.gseq, lease.oseq) for lease in dep.leases]
            try:
                for dseq, gseq, oseq, provider in wanted:
                    self.hub.world.create_lease(owner, dseq, gseq, oseq, provider)
            except WorldError as exc:
                _rollback(self.hub, dep, snapshot)
                raise world_error(exc, "Failed to create lease: ") from exc
        await self._send_manifest(owner, dep, sorted({w[3] for w in wanted}), manifest)
        return JSONResponse({"data": deployment_view(self.hub, dep)})

    async def get_deployment(self, request: Request) -> Response:
        owner = authenticate(request)
        dep = _owned(self.hub, owner, parse_dseq(request.path_params["dseq"], ["dseq"]))
        if self.hub.faults.gateway_error_rate:
            return JSONResponse({"data": deployment_view(self.hub, dep)})
        return self.cache.respond(
            ("deployment", owner, dep.dseq),
            deployment_fingerprint(self.hub, dep),
            lambda: {"data": deployment_view(self.hub, dep)},
        )

    async def update_deployment(self, request: Request) -> Response:
        owner = authenticate(request)
        dep = _owned(self.hub, owner, parse_dseq(request.path_params["dseq"], ["dseq"]))
        data = _data(await read_json(request))
        built = self._sdl(_string(data, "sdl", ["data"]))
        try:
            if built.version != dep.hash:
                self.hub.world.update_deployment(
                    owner, dep.dseq, built.version, built.manifest_json
                )
        except WorldError as exc:
            raise world_error(exc, "Failed to update deployment: ") from exc
        providers = sorted({lease.provider for lease in dep.active_leases()})
        await self._send_manifest(owner, dep, providers, built.manifest_json)
        return JSONResponse({"data": deployment_view(self.hub, dep)})

    async def close_deployment(self, request: Request) -> Response:
        owner = authenticate(request)
        dep = _owned(self.hub, owner, parse_dseq(request.path_params["dseq"], ["dseq"]))
        self.hub.world.close_deployment(owner, dep.dseq)
        return JSONResponse({"data": {"success": True}})

    async def deposit_deployment(self, request: Request) -> Response:
        owner = authenticate(request)
        data = _data(await read_json(request))
        dseq = parse_dseq(data.get("dseq"), ["data", "dseq"])
        amount = data.get("deposit")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise validation_error(
                [issue(["data", "deposit"], "Expected number", expected="number")]
            )
        dep = _owned(self.hub, owner, dseq)
        try:
            uact = (Decimal(str(amount)) * 1_000_000).quantize(Decimal(1))
            self.hub.world.deposit(owner, dseq, uact, source="grant")
        except (WorldError, InvalidOperation) as exc:
            if isinstance(exc, WorldError):
                raise world_error(exc, "Failed to deposit: ") from exc
            raise validation_error([issue(["data", "deposit"], "Invalid number")]) from exc
        return JSONResponse({"data": deployment_view(self.hub, dep)})

    async def list_deployments(self, request: Request) -> Response:
        owner = authenticate(request)
        try:
            skip = int(request.query_params.get("skip", "0"))
            limit = int(request.query_params.get("limit", "1000"))
        except ValueError as exc:
            raise validation_error([issue(["skip"], "Expected number, received nan")]) from exc
        active = [d for d in self.hub.world.deployments_of(owner) if d.state == "active"]
        page = active[skip : skip + limit]
        return JSONResponse(
            {
                "data": {
                    "deployments": [deployment_view(self.hub, d, with_status=False) for d in page],
                    "pagination": {
                        "total": len(active),
                        "skip": skip,
                        "limit": limit,
                        "hasMore": skip + limit < len(active),
                    },
                }
            }
        )

    async def create_jwt(self, request: Request) -> Response:
        authenticate(request)
        data = _data(await read_json(request))
        ttl, leases = data.get("ttl"), data.get("leases")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise validation_error(
                [issue(["data", "ttl"], "Number must be greater than 0", code="too_small")]
            )
        if not isinstance(leases, dict):
            raise validation_error([issue(["data", "leases"], "Required", expected="object")])
        who = identity_for_api_key(request.headers["x-api-key"])
        self.hub.world.account(who.address, who.public_key)
        return JSONResponse(
            {"data": {"token": issue_jwt(who, ttl=ttl, leases=leases)}}, status_code=201
        )

    async def list_providers(self, request: Request) -> Response:
        base = str(request.base_url)
        return JSONResponse(
            [provider_view(self.hub, p, base) for p in self.hub.world.providers.values()]
        )

    async def get_provider(self, request: Request) -> Response:
        spec = self.hub.world.providers.get(request.path_params["address"])
        if spec is None:
            raise ConsoleReject(404, "Provider not found")
        return JSONResponse(provider_view(self.hub, spec, str(request.base_url), detail=True))

    async def get_balances(self, request: Request) -> Response:
        owner = authenticate(request)
        balance = self.hub.world.account(owner).balance / 1_000_000
        escrowed = (
            sum(
                (
                    d.escrow.funds
                    for d in self.hub.world.deployments_of(owner)
                    if d.state == "active"
                ),
                Decimal(0),
            )
            / 1_000_000
        )
        return JSONResponse(
            {
                "data": {
                    "balance": float(balance),
                    "deployments": float(escrowed),
                    "total": float(balance + escrowed),
                }
            }
        )

    async def weekly_cost(self, request: Request) -> Response:
        owner = authenticate(request)
        rate = sum(
            (
                lease.price
                for d in self.hub.world.deployments_of(owner)
                for lease in d.active_leases()
            ),
            Decimal(0),
        )
        return JSONResponse({"data": {"weeklyCost": float(rate * _BLOCKS_PER_WEEK / 1_000_000)}})

    async def certificates(self, request: Request) -> Response:
        return JSONResponse(
            {
                "error": "This endpoint has been removed. mTLS certificates are no longer required"
                " as identity is now verified via API key."
            },
            status_code=400,
        )

    def route(self, path: str, handler: Any, methods: list[str], mutating: bool = False) -> Route:
        return Route(path, faulty(self.hub, handler, mutating=mutating), methods=methods)

    def routes(self) -> list[Any]:
        """The routes."""
        funding = FundingApi(self.hub)
        return [
            self.route("/v1/deployments", self.create_deployment, ["POST"], mutating=True),
            self.route("/v1/deployments", self.list_deployments, ["GET"]),
            self.route("/v1/deployments/{dseq}", self.get_deployment, ["GET"]),
            self.route("/v1/deployments/{dseq}", self.update_deployment, ["PUT"], mutating=True),
            self.route("/v1/deployments/{dseq}", self.close_deployment, ["DELETE"], mutating=True),
            self.route("/v1/deposit-deployment", self.deposit_deployment, ["POST"], mutating=True),
            self.route("/v1/bids", self.list_bids, ["GET"]),
            self.route("/v1/bids/{dseq}", self.list_bids, ["GET"]),
            self.route("/v1/leases", self.create_lease, ["POST"], mutating=True),
            self.route("/v1/create-jwt-token", self.create_jwt, ["POST"], mutating=True),
            self.route("/v1/providers", self.list_providers, ["GET"]),
            self.route("/v1/providers/{address}", self.get_provider, ["GET"]),
            self.route("/v1/balances", self.get_balances, ["GET"]),
            self.route("/v1/weekly-cost", self.weekly_cost, ["GET"]),
            self.route("/v1/certificates", self.certificates, ["POST"]),
            self.route("/v1/user/me", funding.user_me, ["GET"]),
            self.route("/v1/wallets", funding.wallets, ["GET"]),
            self.route("/v1/blocks", funding.blocks, ["GET"]),
            self.route("/v2/deployment-settings", funding.create_setting, ["POST"], True),
            self.route("/v2/deployment-settings/{dseq}", funding.get_setting, ["GET"]),
            self.route("/v2/deployment-settings/{dseq}", funding.update_setting, ["PATCH"], True),
        ]


def console_routes(hub: Hub) -> list[Any]:
    """Every Console route the sandbox serves."""
    return _ConsoleApi(hub).routes()


def _rollback(hub: Hub, dep: Deployment, snapshot: list[tuple[int, int]]) -> None:
    """Undo leases created by a failed multi-lease transaction (a tx is all or nothing)."""
    keep = len(snapshot)
    for lease in dep.leases[keep:]:
        hub.world.undo_lease(dep, lease)
